import Foundation

/// Where stages that tokenize or decode (tokenize, count, reconstruct) find the tokenizer when `--tokenizer` is
/// not given: the GPT-NeoX-20B tokenizer.json Lethe ships. The fingerprint covers the tokenizer's content only
/// when it is passed with `--tokenizer` (pipeline.json: under "files"), so pipelines should name it.
public enum DefaultTokenizer {
    public static let relativePath = "data/tokenizer/gpt-neox-20b-tokenizer.json"

    /// `given`, else the first `relativePath` found in the executable's folder (symbolic links resolved) or a
    /// folder above it, then in the working directory or a folder above it: a build in .build/release of a
    /// checkout finds the checkout's copy, and so does a pipeline run from inside the checkout.
    public static func resolve(_ given: String?) throws -> URL {
        if let given { return URL(fileURLWithPath: given) }
        var starts: [URL] = []
        if let executable = Bundle.main.executableURL { starts.append(executable.resolvingSymlinksInPath().deletingLastPathComponent()) }
        starts.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        for start in starts {
            var folder = start.standardizedFileURL
            while true {
                let candidate = folder.appendingPathComponent(relativePath)
                if FileManager.default.isReadableFile(atPath: candidate.path) { return candidate }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        throw StageError("no --tokenizer given, and no \(relativePath) in \(starts.map(\.path).joined(separator: " or ")) or a folder above; pass --tokenizer FILE")
    }
}
