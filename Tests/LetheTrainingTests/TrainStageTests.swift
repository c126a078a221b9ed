import XCTest
import LetheCLI
import LetheModel
import LethePipeline
import LetheShards
import LetheTestSupport
@testable import LetheTraining

/// lethe-train as a stage: reading an encode stage's shards, the files it writes and registers, and its errors.
final class TrainStageTests: XCTestCase {
    var sandbox: URL!
    let decoderFolder = trainingFixtures.appendingPathComponent("small/decoder")

    override func setUpWithError() throws {
        sandbox = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-train-stage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: sandbox, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: sandbox) }

    /// A complete stage folder in the encode stage's layout (tokens, ssm, conv per chunk), 3 chunks per shard;
    /// the states of odd chunks stored as float16 (--state-dtype float16). With `withStates` false, the tokenize
    /// stage's layout (tokens only).
    func writeEncodeStage(_ name: String, chunks: ArrayChunks, ssmShape: [Int], convShape: [Int],
                          withStates: Bool = true) throws {
        let options = try StageOptions.parse(["--output", name, "--progress", "off"])
        let description = StageDescription.stage("test-encode", format: 1, inputs: [])
        let run = try StageRun(description: description, options: options, arguments: ["--output", name],
                               base: sandbox, cache: FileHashCache(url: nil))
        let count = chunks.chunks.count
        try run.runUnits(count: (count + 2) / 3) { unit, writer in
            for i in unit * 3 ..< min(count, unit * 3 + 3) {
                var sample = ShardSample(key: String(format: "chunk%04d", i))
                sample.setJSON(["chunk": .int(i)])
                sample.set("tokens", npy: NPYArray(int32: chunks.chunks[i], shape: [chunks.chunks[i].count]))
                guard withStates else { try writer.append(sample); continue }
                let (ssm, conv) = chunks.states[i]
                sample.set("ssm", npy: i % 2 == 0 ? NPYArray(float32: ssm, shape: ssmShape) : NPYArray(float16: ssm, shape: ssmShape))
                sample.set("conv", npy: i % 2 == 0 ? NPYArray(float32: conv, shape: convShape) : NPYArray(float16: conv, shape: convShape))
                try writer.append(sample)
            }
            return .null
        }
    }

    func logLines(_ folder: URL) throws -> [[String: Any]] {
        try String(contentsOf: folder.appendingPathComponent("train_log.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    /// The stage trains from shards, and its log holds the same losses as the library run on the same chunks
    /// (states read back from float32 and float16 members); it registers its files in manifest.json; final/ is
    /// a loadable Hugging Face folder; running it again is a no-op.
    func testTrainsFromEncodeShards() throws {
        let config = try MambaConfig.read(contentsOf: decoderFolder.appendingPathComponent("config.json"))
        var chunks = ArrayChunks(config: config, lengths: [3, 4, 6, 3, 3, 6, 4], seed: 1)
        // What the stage reads back from float16 members.
        chunks = ArrayChunks(chunks: chunks.chunks, states: chunks.states.enumerated().map { i, s in
            i % 2 == 0 ? s : (s.ssm.map { Float(Float16($0)) }, s.conv.map { Float(Float16($0)) })
        })
        try writeEncodeStage("enc", chunks: chunks, ssmShape: config.ssmStateShape, convShape: config.convStateShape)
        let arguments = ["--input", "enc", "--init", decoderFolder.path, "--output", "train", "--steps", "4",
                         "--batch-size", "2", "--lr", "3e-3", "--schedule", "cosine", "--warmup", "1", "--clip", "1",
                         "--weight-decay", "0.1", "--checkpoint-every", "2", "--seed", "5", "--threads", "2",
                         "--progress", "lines"]
        let result = try runTrainingProduct("lethe-train", arguments, in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssert(result.error.contains("step 4/4"), result.error)

        let out = sandbox.appendingPathComponent("train")
        let stageLosses = try logLines(out).compactMap { $0["loss"] as? Double }
        let settings = RunSettings(objective: .autoencoder, batchSize: 2, steps: 4, seed: 5, shuffle: true,
                                   optimizer: OptimizerSettings(learningRate: LearningRatePlan(
                                       base: 3e-3, schedule: .cosine, warmupSteps: 1, totalSteps: 4),
                                                                weightDecay: 0.1, clipNorm: 1))
        LetheThreads.set(2)
        _ = try TrainingRun(settings: settings, output: sandbox.appendingPathComponent("library"), train: chunks)
            .run(resume: false, initialModel: { try MambaModel.load(from: decoderFolder) })
        XCTAssertEqual(stageLosses, try logLines(sandbox.appendingPathComponent("library")).compactMap { $0["loss"] as? Double })
        XCTAssertEqual(stageLosses.count, 4)

        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("manifest.json"))) as! [String: Any]
        let files = Set((manifest["files"] as! [[String: Any]]).map { $0["name"] as! String })
        for name in ["train_log.jsonl", "final/model.safetensors", "final/config.json", "final/exp_avg.npy",
                     "final/exp_avg_sq.npy", "final/trainer_state.json", "step-2/model.safetensors"] {
            XCTAssert(files.contains(name), "manifest lacks \(name): \(files.sorted())")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent(".train-states.f32").path))
        let final = try MambaModel.load(from: out.appendingPathComponent("final"))
        XCTAssertEqual(final.config, config)

        let again = try runTrainingProduct("lethe-train", arguments, in: sandbox)
        XCTAssertEqual(again.status, 0, again.error)
        XCTAssert(again.error.contains("up to date"), again.error)

        // As if killed after step 4's log line but before final/ and the manifest: --resume continues from
        // step-2/ and rewrites steps 3 and 4 with the same numbers.
        let log = try logLines(out)
        for name in ["manifest.json", "final"] { try FileManager.default.removeItem(at: out.appendingPathComponent(name)) }
        let resumed = try runTrainingProduct("lethe-train", arguments + ["--resume"], in: sandbox)
        XCTAssertEqual(resumed.status, 0, resumed.error)
        XCTAssert(resumed.error.contains("resuming after step 2"), resumed.error)
        let relog = try logLines(out)
        XCTAssertEqual(relog.count, log.count)
        for (a, b) in zip(log, relog) {
            for key in ["step", "loss", "lr", "grad_norm"] { XCTAssertEqual(a[key] as? Double, b[key] as? Double, key) }
        }
        XCTAssert(values(try MambaModel.load(from: out.appendingPathComponent("final")).parameters) == values(final.parameters),
                  "the resumed run's final weights")

        // The runner passes --force, not --resume: the interrupted run of the same configuration is resumed all
        // the same; a run of another configuration (here another --lr) in the folder is removed and started over.
        for name in ["manifest.json", "final"] { try FileManager.default.removeItem(at: out.appendingPathComponent(name)) }
        let forced = try runTrainingProduct("lethe-train", arguments + ["--force"], in: sandbox)
        XCTAssertEqual(forced.status, 0, forced.error)
        XCTAssert(forced.error.contains("resuming after step 2"), forced.error)
        XCTAssertEqual(try logLines(out).compactMap { $0["loss"] as? Double }, log.compactMap { $0["loss"] as? Double })
        XCTAssert(values(try MambaModel.load(from: out.appendingPathComponent("final")).parameters) == values(final.parameters))
        let otherLR = arguments.map { $0 == "3e-3" ? "1e-3" : $0 }
        let replaced = try runTrainingProduct("lethe-train", otherLR + ["--force"], in: sandbox)
        XCTAssertEqual(replaced.status, 0, replaced.error)
        XCTAssertFalse(replaced.error.contains("resuming"), replaced.error)
        let replacedLosses = try logLines(out).compactMap { $0["loss"] as? Double }
        XCTAssertEqual(replacedLosses.count, 4)
        XCTAssertEqual(replacedLosses.first, log.first?["loss"] as? Double, "the same weights before the first update")
        XCTAssertNotEqual(replacedLosses.last, log.last?["loss"] as? Double, "trained anew at the other rate")
    }

    /// --encoder: the frozen encoder computes each batch's states from token shards. With the same batches as
    /// lethe-encode's (one length, --no-shuffle, the same batch size; a chunk encoded beside other batch-mates
    /// may differ in the last bits, as the matrix products see other rows), the losses, gradient norms and final
    /// weights equal, bit for bit, those of training from the states lethe-encode stored in float32; no state
    /// file is written.
    /// Mamba-1, Falcon-Mamba and Mamba-2 (the training fixtures' `small`, `falcon` and `mamba2` decoders).
    func testTrainingOnTheFlyEqualsTrainingFromStoredStates() throws {
        for name in ["small", "falcon", "mamba2"] {
            try checkTrainingOnTheFly(decoderFolder: trainingFixtures.appendingPathComponent("\(name)/decoder"), in: name)
        }
    }

    private func checkTrainingOnTheFly(decoderFolder: URL, in folder: String) throws {
        let config = try MambaConfig.read(contentsOf: decoderFolder.appendingPathComponent("config.json"))
        let (tok, enc, stored, live) = ("\(folder)/tok", "\(folder)/enc", "\(folder)/stored", "\(folder)/live")
        try writeEncodeStage(tok, chunks: ArrayChunks(config: config, lengths: Array(repeating: 5, count: 6), seed: 3),
                             ssmShape: config.ssmStateShape, convShape: config.convStateShape, withStates: false)
        let encode = try runTrainingProduct("lethe-encode", ["--input", tok, "--model", decoderFolder.path, "--output", enc,
                                                             "--batch-size", "3", "--state-dtype", "float32",
                                                             "--progress", "off"], in: sandbox)
        XCTAssertEqual(encode.status, 0, encode.error)
        // Shards of 3 chunks, batches of 3: lethe-encode's batches are the training batches.
        let common = ["--init", decoderFolder.path, "--steps", "3", "--batch-size", "3", "--no-shuffle", "--lr", "3e-3",
                      "--clip", "1", "--seed", "5", "--threads", "2", "--progress", "off"]
        let storedRun = try runTrainingProduct("lethe-train", ["--input", enc, "--output", stored] + common, in: sandbox)
        XCTAssertEqual(storedRun.status, 0, storedRun.error)
        let liveRun = try runTrainingProduct("lethe-train", ["--input", tok, "--encoder", decoderFolder.path,
                                                             "--output", live] + common, in: sandbox)
        XCTAssertEqual(liveRun.status, 0, liveRun.error)

        let (a, b) = (try logLines(sandbox.appendingPathComponent(stored)), try logLines(sandbox.appendingPathComponent(live)))
        XCTAssertEqual(a.count, 3, "2 batches a pass: the third step starts pass 2")
        XCTAssertEqual(b.last?["pass"] as? Int, 2)
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) {
            for key in ["step", "loss", "lr", "grad_norm", "pass"] { XCTAssertEqual(x[key] as? Double, y[key] as? Double, "\(folder) \(key)") }
            XCTAssertNotNil(x["grad_norm"] as? Double)
        }
        let final = try MambaModel.load(from: sandbox.appendingPathComponent("\(stored)/final"))
        XCTAssertEqual(final.config, config, "\(folder): final/ keeps the architecture")
        XCTAssert(values(final.parameters) == values(try MambaModel.load(from: sandbox.appendingPathComponent("\(live)/final")).parameters),
                  "\(folder) final weights")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: sandbox.appendingPathComponent("\(live)/manifest.json"))) as! [String: Any]
        XCTAssertEqual((manifest["extra"] as? [String: Any])?["states"] as? String, "encoder")
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.appendingPathComponent("\(live)/.train-states.f32").path))
    }

    /// --validate with --encoder: validation lines carry the loss and ROUGE-1 F1 by chunk length of the fixed
    /// sample (--validate-chunks per length); --final-checkpoint best makes final/ the weights of the lowest
    /// validation loss, and the manifest says which step that was.
    func testValidationByLengthAndBestCheckpoint() throws {
        let config = try MambaConfig.read(contentsOf: decoderFolder.appendingPathComponent("config.json"))
        try writeEncodeStage("tok", chunks: ArrayChunks(config: config, lengths: [4, 6, 4, 6, 4, 6, 4, 6], seed: 3),
                             ssmShape: config.ssmStateShape, convShape: config.convStateShape, withStates: false)
        try writeEncodeStage("val", chunks: ArrayChunks(config: config, lengths: [4, 4, 4, 6, 8], seed: 4),
                             ssmShape: config.ssmStateShape, convShape: config.convStateShape, withStates: false)
        // The small model's ids decode with a tokenizer of at least its 96 ids: the shipped one.
        let result = try runTrainingProduct("lethe-train", [
            "--input", "tok", "--encoder", decoderFolder.path, "--init", decoderFolder.path, "--output", "train",
            "--validate", "val", "--validate-chunks", "2", "--eval-every", "2", "--steps", "6", "--batch-size", "2",
            "--lr", "1e-2", "--seed", "5", "--final-checkpoint", "best", "--progress", "lines"], in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssert(result.error.contains("ROUGE-1 F1 4:"), result.error)
        let out = sandbox.appendingPathComponent("train")
        let validations = try logLines(out).filter { $0["val_loss"] != nil }
        XCTAssertEqual(validations.map { $0["step"] as? Int }, [2, 4, 6])
        for line in validations {
            XCTAssertEqual(line["val_chunks"] as? Int, 2 + 1 + 1, "2 of the 3 chunks of length 4, the others whole")
            let f1 = try XCTUnwrap(line["val_f1_by_length"] as? [String: Double])
            XCTAssertEqual(Set(f1.keys), ["4", "6", "8"])
            XCTAssert(f1.values.allSatisfy { (0...1).contains($0) }, "\(f1)")
            XCTAssertEqual(Set((line["val_loss_by_length"] as? [String: Double] ?? [:]).keys), ["4", "6", "8"])
        }
        let best = validations.min { ($0["val_loss"] as! Double) < ($1["val_loss"] as! Double) }!
        let bestStep = best["step"] as! Int
        XCTAssertEqual(try TrainingCheckpoint.readState(out.appendingPathComponent("final")).step, bestStep)
        XCTAssert(values(try MambaModel.load(from: out.appendingPathComponent("final")).parameters)
                  == values(try MambaModel.load(from: out.appendingPathComponent("best")).parameters), "final/ is best/")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("manifest.json"))) as! [String: Any]
        let extra = try XCTUnwrap(manifest["extra"] as? [String: Any])
        XCTAssertEqual(extra["final_checkpoint"] as? String, "best")
        XCTAssertEqual(extra["final_step"] as? Int, bestStep)
        XCTAssertEqual(extra["final_val_loss"] as? Double, best["val_loss"] as? Double)
        XCTAssertEqual(extra["passes"] as? Int, 2, "6 steps of 2 chunks over 8 chunks (4 batches a pass)")
    }

    /// --final-checkpoint best without --validate is refused before anything is written.
    func testBestCheckpointNeedsValidation() throws {
        let result = try runTrainingProduct("lethe-train", ["--input", "tok", "--init", decoderFolder.path, "--output", "train",
                                                            "--final-checkpoint", "best", "--progress", "off"], in: sandbox)
        XCTAssertNotEqual(result.status, 0)
        XCTAssert(result.error.contains("--final-checkpoint best"), result.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.appendingPathComponent("train").path))
    }

    /// A state of the wrong shape: one line naming the shard, the sample and the shapes; exit status 1; no
    /// manifest, no log.
    func testRejectsStatesOfAnotherModel() throws {
        let config = try MambaConfig.read(contentsOf: decoderFolder.appendingPathComponent("config.json"))
        var other = config
        other.stateSize += 1
        let chunks = ArrayChunks(config: other, lengths: [3, 3], seed: 1)
        try writeEncodeStage("enc", chunks: chunks, ssmShape: other.ssmStateShape, convShape: other.convStateShape)
        let result = try runTrainingProduct("lethe-train", ["--input", "enc", "--init", decoderFolder.path, "--output", "train",
                                                    "--steps", "1", "--progress", "off"], in: sandbox)
        XCTAssertEqual(result.status, 1)
        let lines = result.error.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.error)
        XCTAssert(result.error.contains("shard-") && result.error.contains("chunk0000") && result.error.contains("ssm.npy has shape"),
                  result.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.appendingPathComponent("train/manifest.json").path))
    }

    /// --objective lm from a folder holding only config.json: random initial weights, trained on tokens alone.
    func testLanguageModelFromScratch() throws {
        let config = try MambaConfig.read(contentsOf: decoderFolder.appendingPathComponent("config.json"))
        try writeEncodeStage("tok", chunks: ArrayChunks(config: config, lengths: [8, 8, 8, 8], seed: 2),
                             ssmShape: config.ssmStateShape, convShape: config.convStateShape)
        let initFolder = sandbox.appendingPathComponent("scratch-model")
        try FileManager.default.createDirectory(at: initFolder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: decoderFolder.appendingPathComponent("config.json"),
                                         to: initFolder.appendingPathComponent("config.json"))
        let result = try runTrainingProduct("lethe-train", ["--input", "tok", "--init", initFolder.path, "--output", "lm",
                                                    "--objective", "lm", "--epochs", "3", "--batch-size", "2",
                                                    "--lr", "1e-2", "--no-shuffle", "--progress", "lines"], in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssert(result.error.contains("random initial weights"), result.error)
        let losses = try logLines(sandbox.appendingPathComponent("lm")).compactMap { $0["loss"] as? Double }
        XCTAssertEqual(losses.count, 6, "3 epochs of 2 batches")
        XCTAssertLessThan(losses.last!, losses.first!, "the loss falls")

        // The same run with --final-dtype float16 stores final/ in half precision: exactly the float32 run's
        // weights rounded to the nearest half.
        let half = try runTrainingProduct("lethe-train", ["--input", "tok", "--init", initFolder.path, "--output", "lm-half",
                                                  "--objective", "lm", "--epochs", "3", "--batch-size", "2", "--lr", "1e-2",
                                                  "--no-shuffle", "--final-dtype", "float16", "--progress", "off"], in: sandbox)
        XCTAssertEqual(half.status, 0, half.error)
        let full = try MambaModel.load(from: sandbox.appendingPathComponent("lm/final"))
        let rounded = try MambaModel.load(from: sandbox.appendingPathComponent("lm-half/final"))
        let count = full.layout.count
        XCTAssertEqual(rounded.layout.count, count)
        var mismatches = 0
        for i in 0..<count where Float(Float16(full.parameters.pointer[i])) != rounded.parameters.pointer[i] { mismatches += 1 }
        XCTAssertEqual(mismatches, 0)
        let header = try Data(contentsOf: sandbox.appendingPathComponent("lm-half/final/model.safetensors")).prefix(4096)
        XCTAssert(String(decoding: header, as: UTF8.self).contains("\"F16\""))
    }
}

extension TrainStageTests {
    /// A checkpoint that does not fit: lethe-train checks the free space before writing one, stops with one line
    /// saying what it needs and what is free, keeps the earlier checkpoints and leaves nothing half-written; after
    /// space is freed, --resume finishes with the log and weights of a run that never ran out. On a 2 MB tmpfs
    /// (skipped where the test cannot mount one).
    func testAFullDiskStopsBeforeACheckpointAndTheRunResumes() throws {
        guard let disk = try SmallDisk(megabytes: 2) else { throw XCTSkip("cannot mount a tmpfs here (needs root)") }
        defer { disk.unmount() }
        let config = try MambaConfig.read(contentsOf: decoderFolder.appendingPathComponent("config.json"))
        let chunks = ArrayChunks(config: config, lengths: Array(repeating: 5, count: 6), seed: 3)
        let arguments = ["--input", "tok", "--encoder", decoderFolder.path, "--init", decoderFolder.path, "--steps", "4",
                         "--batch-size", "3", "--lr", "3e-3", "--seed", "5", "--checkpoint-every", "1", "--threads", "1",
                         "--progress", "off"]
        // The run that never runs out, in the usual sandbox.
        try writeEncodeStage("tok", chunks: chunks, ssmShape: config.ssmStateShape, convShape: config.convStateShape, withStates: false)
        XCTAssertEqual(try runTrainingProduct("lethe-train", arguments + ["--output", "train"], in: sandbox).status, 0)
        let reference = sandbox!
        defer { sandbox = reference }
        sandbox = disk.url
        try writeEncodeStage("tok", chunks: chunks, ssmShape: config.ssmStateShape, convShape: config.convStateShape, withStates: false)
        // Room for the first checkpoint, not for the second (the check asks for the files' size plus 64 KB).
        let parameters = try MambaModel.load(from: decoderFolder).layout.count
        try disk.fill(leaving: parameters * 12 + (1 << 16) + parameters * 6 + 8192)
        let failed = try runTrainingProduct("lethe-train", arguments + ["--output", "train"], in: disk.url)
        XCTAssertEqual(failed.status, 1)
        let line = failed.error.trimmingCharacters(in: .newlines)
        XCTAssertFalse(line.contains("\n"), line)
        XCTAssertTrue(line.hasPrefix("lethe-train: \(disk.url.path)/train/step-2: the checkpoint needs "), line)
        XCTAssertTrue(line.hasSuffix(" are free where it goes; nothing was written and earlier checkpoints are kept: free space and run again"), line)
        let written = try FileManager.default.contentsOfDirectory(atPath: disk.url.appendingPathComponent("train").path).sorted()
        XCTAssertEqual(written, [".run-fingerprint", "step-1", "train_log.jsonl"], "step-1 kept, nothing half-written")

        disk.emptyBallast()
        let resumed = try runTrainingProduct("lethe-train", arguments + ["--output", "train", "--resume"], in: disk.url)
        XCTAssertEqual(resumed.status, 0, resumed.error)
        XCTAssertEqual(try String(contentsOf: disk.url.appendingPathComponent("train/train_log.jsonl"), encoding: .utf8)
                            .split(separator: "\n").map { try lossLine($0) },
                       try String(contentsOf: reference.appendingPathComponent("train/train_log.jsonl"), encoding: .utf8)
                            .split(separator: "\n").map { try lossLine($0) })
        XCTAssert(values(try MambaModel.load(from: disk.url.appendingPathComponent("train/final")).parameters)
                  == values(try MambaModel.load(from: reference.appendingPathComponent("train/final")).parameters), "final weights")
    }

    /// SIGTERM (what Slurm's batch script sends before the time limit, and a preemption): lethe-train finishes the
    /// step, writes its checkpoint and stops with one line; the runner's rerun (--force) resumes there and ends
    /// with the log and weights of a run never stopped.
    func testSIGTERMWritesACheckpointAndTheRunResumes() throws {
        let config = try MambaConfig.read(contentsOf: decoderFolder.appendingPathComponent("config.json"))
        try writeEncodeStage("tok", chunks: ArrayChunks(config: config, lengths: Array(repeating: 5, count: 6), seed: 3),
                             ssmShape: config.ssmStateShape, convShape: config.convStateShape, withStates: false)
        let arguments = ["--input", "tok", "--encoder", decoderFolder.path, "--init", decoderFolder.path, "--steps", "3000",
                         "--batch-size", "3", "--lr", "1e-3", "--seed", "5", "--checkpoint-every", "1000", "--threads", "1",
                         "--progress", "off", "--force"]
        let started = try startProduct("lethe-train", arguments + ["--output", "stopped"], in: sandbox, hashCache: "off")
        let log = sandbox.appendingPathComponent("stopped/train_log.jsonl")
        XCTAssertTrue(waitUntilTrue(seconds: 60) { ((try? String(contentsOf: log, encoding: .utf8))?.split(separator: "\n").count ?? 0) >= 20 })
        kill(started.process.processIdentifier, SIGTERM)
        let stopped = started.finish()
        XCTAssertEqual(stopped.status, 1, stopped.error)
        let line = stopped.error.trimmingCharacters(in: .newlines)
        let match = try XCTUnwrap(line.range(of: #"^lethe-train: stopped by SIGTERM after step (\d+); its checkpoint step-\1/ is written: run again \(lethe run, or --resume\) to continue$"#,
                                              options: .regularExpression), line)
        XCTAssertFalse(match.isEmpty)
        let step = try XCTUnwrap(Int(line.split(separator: " ")[6].dropLast()), line)
        XCTAssertLessThan(step, 3000, "stopped before the end")
        XCTAssertTrue(FileManager.default.fileExists(atPath: sandbox.appendingPathComponent("stopped/step-\(step)/model.safetensors").path))

        let resumed = try runTrainingProduct("lethe-train", arguments.map { $0 == "off" ? "lines" : $0 } + ["--output", "stopped"], in: sandbox)
        XCTAssertEqual(resumed.status, 0, resumed.error)
        XCTAssert(resumed.error.contains("resuming after step \(step)"), resumed.error)
        XCTAssertEqual(try runTrainingProduct("lethe-train", arguments + ["--output", "whole"], in: sandbox).status, 0)
        let (a, b) = (try logLines(sandbox.appendingPathComponent("stopped")), try logLines(sandbox.appendingPathComponent("whole")))
        XCTAssertEqual(a.compactMap { $0["loss"] as? Double }, b.compactMap { $0["loss"] as? Double })
        XCTAssert(values(try MambaModel.load(from: sandbox.appendingPathComponent("stopped/final")).parameters)
                  == values(try MambaModel.load(from: sandbox.appendingPathComponent("whole/final")).parameters), "final weights")
    }

    private func waitUntilTrue(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { if condition() { return true }; usleep(5_000) }
        return condition()
    }

    /// A log line without its timing (tokens_per_s differs between runs).
    private func lossLine(_ line: Substring) throws -> [String: Double] {
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        return object.compactMapValues { $0 as? Double }.filter { $0.key != "tokens_per_s" }
    }
}

/// Runs a product of this package (built next to the test bundle) in `folder`, without a file-hash cache.
func runTrainingProduct(_ name: String, _ arguments: [String], in folder: URL) throws -> CommandResult {
    try runProduct(name, arguments, in: folder, hashCache: "off")
}
