import Foundation

/// Why a stage's recorded output differs from what its current command would produce, in words
/// ("parameter --chunk-size changed 64 -> 128", "input stages/tokenize was rebuilt").
public enum Explain {
    public static func differences(recorded manifest: StageManifest, description: StageDescription,
                                   parameters: [String: [String]], inputs: [String: [InputIdentity]]) -> [String] {
        var reasons: [String] = []
        if manifest.executable.name != description.executable {
            reasons.append("executable changed \(manifest.executable.name) -> \(description.executable)")
        } else if manifest.executable.format != description.format {
            reasons.append("\(description.executable) output format changed \(manifest.executable.format) -> \(description.format)")
        }
        for option in Set(manifest.parameters.keys).union(parameters.keys).sorted() {
            let old = manifest.parameters[option], new = parameters[option]
            guard old != new else { continue }
            switch (old, new) {
            case (nil, let new?): reasons.append("parameter --\(option) added" + (new.isEmpty ? "" : " (\(show(new)))"))
            case (let old?, nil): reasons.append("parameter --\(option) removed" + (old.isEmpty ? "" : " (was \(show(old)))"))
            case (let old?, let new?): reasons.append("parameter --\(option) changed \(show(old)) -> \(show(new))")
            default: break
            }
        }
        for option in Set(manifest.inputs.keys).union(inputs.keys).sorted() {
            let old = manifest.inputs[option] ?? [], new = inputs[option] ?? []
            guard old.map(\.sha256) != new.map(\.sha256) || old.map(\.kind) != new.map(\.kind) else { continue }
            if old.map(\.path) != new.map(\.path) {
                reasons.append("input --\(option) changed \(show(old.map(\.path))) -> \(show(new.map(\.path)))")
                continue
            }
            for (before, after) in zip(old, new) where before != after {
                switch after.kind {
                case .stage: reasons.append("input \(after.path) was rebuilt")
                case .file: reasons.append("input file \(after.path) changed")
                case .folder: reasons.append("input folder \(after.path) changed")
                }
            }
        }
        return reasons.isEmpty ? ["fingerprint changed"] : reasons
    }

    static func show(_ values: [String]) -> String {
        switch values.count {
        case 0: return "(flag)"
        case 1: return values[0]
        default: return "[" + values.joined(separator: ", ") + "]"
        }
    }
}
