import Foundation
import LetheCLI
import LetheCorpus
import LetheShards

/// Each sample's dataset label: the metadata field `--dataset-field` names (a string, or a number written out),
/// else `--dataset`, else the name of the sample's input file without its extension ("test" for
/// data/gsm8k/test.jsonl, "eng.testb" for data/conll2003/eng.testb).
struct DatasetLabels {
    let label: String?
    let path: [String]?
    /// The label of each input file, computed once.
    let fileLabels: [String: String]

    init(label: String?, field: String?, inputs: [String]) {
        self.label = label
        path = field.map { $0.split(separator: ".").map(String.init) }
        fileLabels = Dictionary(inputs.map { ($0, Self.fileLabel($0)) }, uniquingKeysWith: { first, _ in first })
    }

    func label(for sample: Sample) -> String {
        if let path, var value = sample.metadata {
            for key in path { value = value[key] ?? .null }
            switch value {
            case .string(let text): return text
            case .int, .double: return value.serialized()
            default: break
            }
        }
        return label ?? fileLabels[sample.source]!  // a sample's source is one of the inputs, as given
    }

    static func fileLabel(_ path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let lowercased = name.lowercased()
        for suffix in [".jsonl.zst", ".json.zst", ".jsonl", ".ndjson", ".txt", ".csv", ".conll"] where lowercased.hasSuffix(suffix) {
            return String(name.dropLast(suffix.count))
        }
        return name
    }
}
