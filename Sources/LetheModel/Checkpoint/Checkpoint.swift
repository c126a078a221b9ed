import Foundation

extension MambaModel {
    /// Loads a checkpoint folder: config.json plus model.safetensors, a sharded model.safetensors.index.json,
    /// or an original state-spaces pytorch_model.bin. Tensors in F32, F16 or BF16 become float32 in one
    /// parameter buffer. Every tensor the config needs must be there with its shape, and no other tensor
    /// may be (an unexpected tensor means a model Lethe would compute wrongly). A lethe-train output folder
    /// stands for its final/ checkpoint.
    public static func load(from folder: URL) throws -> MambaModel {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ModelError("\(folder.path): a file, not a model folder (give the folder holding config.json and the weights)")
        }
        let directory = checkpointFolder(folder)
        let config = try MambaConfig.read(contentsOf: directory.appendingPathComponent("config.json"))
        let files = try checkpointFiles(in: directory)
        var stored: [String: StoredTensor] = [:]
        var keepAlive: [AnyObject] = []
        for path in files {
            let tensors: [StoredTensor]
            if path.hasSuffix(".bin") {
                let checkpoint = try TorchCheckpoint(path: path)
                keepAlive.append(checkpoint)
                tensors = checkpoint.tensors
            } else {
                let mapped = try MappedFile(path: path)
                keepAlive.append(mapped)
                tensors = try SafeTensors.tensors(in: mapped)
            }
            for t in tensors {
                // mamba_ssm names the embedding `backbone.embedding.weight`; transformers renames it on load.
                let name = t.name == "backbone.embedding.weight" ? "backbone.embeddings.weight" : t.name
                if let earlier = stored[name] {
                    throw ModelError("\(t.file): tensor '\(name)' is also in \(earlier.file)")
                }
                stored[name] = t
            }
        }

        let model = MambaModel(config: config)
        for entry in model.layout.entries {
            guard let t = stored.removeValue(forKey: entry.name) else {
                throw ModelError("\(files.joined(separator: ", ")): missing tensor '\(entry.name)'")
            }
            guard t.shape == entry.shape else {
                throw ModelError("\(t.file): tensor '\(entry.name)' has shape \(t.shape), the config needs \(entry.shape)")
            }
            try t.convert(into: model.parameters.pointer + entry.offset)
        }
        if config.tieWordEmbeddings, let head = stored.removeValue(forKey: ParameterLayout.lmHeadName),
           head.shape != [config.vocabSize, config.hiddenSize] {
            throw ModelError("\(head.file): tensor 'lm_head.weight' has shape \(head.shape), the config needs \([config.vocabSize, config.hiddenSize])")
        }
        if let extra = stored.values.sorted(by: { $0.name < $1.name }).first {
            throw ModelError("\(extra.file): unexpected tensor '\(extra.name)' (not part of a model with this config.json)")
        }
        withExtendedLifetime(keepAlive) {}
        return model
    }

    /// `folder` itself, or for a lethe-train output folder (no config.json of its own, a final/ checkpoint)
    /// its final/ checkpoint, so a pipeline can name the train stage as a later stage's model.
    public static func checkpointFolder(_ folder: URL) -> URL {
        let manager = FileManager.default
        let final = folder.appendingPathComponent(RunFolder.final)
        if !manager.fileExists(atPath: folder.appendingPathComponent("config.json").path),
           manager.fileExists(atPath: final.appendingPathComponent("config.json").path) {
            return final
        }
        return folder
    }

    /// The weight files of a folder, in the order Lethe looks for them.
    static func checkpointFiles(in directory: URL) throws -> [String] {
        let manager = FileManager.default
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        if manager.fileExists(atPath: index.path) {
            guard let data = manager.contents(atPath: index.path),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = json["weight_map"] as? [String: String]
            else { throw ModelError("\(index.path): not a safetensors index (no 'weight_map' of names to files)") }
            return Set(map.values).sorted().map { directory.appendingPathComponent($0).path }
        }
        for name in ["model.safetensors", "pytorch_model.bin"] {
            let path = directory.appendingPathComponent(name).path
            if manager.fileExists(atPath: path) { return [path] }
        }
        throw ModelError("\(directory.path): no model.safetensors, model.safetensors.index.json or pytorch_model.bin")
    }

    /// Writes a Hugging Face folder that transformers' `MambaForCausalLM.from_pretrained` loads:
    /// config.json and model.safetensors (tied lm_head omitted, as transformers does), tensors stored as
    /// `dtype`. Each file is written under a temporary name and renamed into place.
    public func save(to directory: URL, dtype: StoredDType = .float32) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tensors = layout.entries.map { entry in
            SafeTensors.Tensor(name: entry.name, shape: entry.shape,
                               values: UnsafeBufferPointer(parameters.tensor(entry)))
        }
        try SafeTensors.write(tensors, dtype: dtype, to: directory.appendingPathComponent("model.safetensors"))
        let configURL = directory.appendingPathComponent("config.json")
        let json = try config.hfConfigJSON(dtype: dtype.torchName)
        do { try json.write(to: configURL, options: .atomic) } catch {
            throw ModelError("\(configURL.path): cannot write (\(error.localizedDescription))")
        }
    }
}
