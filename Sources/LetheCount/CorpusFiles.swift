import Foundation
import LetheCorpus

/// The corpus files named by `--input` paths: a file as given, a folder as every file below it whose name says
/// its format (`CorpusFormat.detect`: .jsonl, .jsonl.zst, .txt, CoNLL), in code point order of the relative
/// path; hidden files and folders are left out. The order is the same on every machine, so a file's place in
/// the list (its unit number) is too.
public enum CorpusFiles {
    /// The files, in order, and the files found in folders that were left out (no corpus format in the name).
    public static func expand(_ inputs: [String]) throws -> (files: [String], ignored: [String]) {
        var files: [String] = []
        var ignored: [String] = []
        var seen: [String: String] = [:]
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
                throw CountError("\(input): no such file or folder")
            }
            var found: [String] = []
            if isDirectory.boolValue {
                for relative in try filesBelow(input) {
                    let path = (input.hasSuffix("/") ? input : input + "/") + relative
                    if CorpusFormat.detect(fileName: path) == nil { ignored.append(path) } else { found.append(path) }
                }
                if found.isEmpty {
                    throw CountError("\(input): no corpus files in the folder (names ending in .jsonl, .jsonl.zst, .txt, ...)")
                }
            } else {
                found = [input]
            }
            for path in found {
                let identity = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
                if let earlier = seen[identity] {
                    throw CountError("\(path): the same file as \(earlier); each file may be counted once")
                }
                seen[identity] = path
                files.append(path)
            }
        }
        return (files, ignored)
    }

    private static func filesBelow(_ folder: String) throws -> [String] {
        let root = URL(fileURLWithPath: folder).standardizedFileURL
        guard let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey],
                                                              options: [.skipsHiddenFiles]) else {
            throw CountError("\(folder): cannot list the folder")
        }
        let prefix = root.path + "/"
        var relative: [String] = []
        for case let url as URL in enumerator where (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
            let path = url.standardizedFileURL.path
            relative.append(path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : url.lastPathComponent)
        }
        return relative.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
    }
}
