import Foundation

/// Where stages that tokenize (tokenize, count) find the tokenizer when `--tokenizer` is not given: the
/// GPT-NeoX-20B tokenizer.json Lethe ships, relative to the working directory (the pipeline's folder when
/// `lethe run` starts the stage). The fingerprint covers the tokenizer's content only when it is passed with
/// `--tokenizer` (pipeline.json: under "files"), so pipelines should name it.
public enum DefaultTokenizer {
    public static let path = "data/tokenizer/gpt-neox-20b-tokenizer.json"

    /// `given`, or the default path if it exists; otherwise an error saying what to pass.
    public static func resolve(_ given: String?) throws -> String {
        if let given { return given }
        guard FileManager.default.fileExists(atPath: path) else {
            throw StageError("\(path): no tokenizer here (the default, relative to the working directory); pass --tokenizer FILE")
        }
        return path
    }
}
