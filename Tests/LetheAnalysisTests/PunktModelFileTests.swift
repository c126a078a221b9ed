import Foundation
import XCTest
@testable import LetheText

/// The Punkt model data file: found beside the test bundle (as beside the executables), its digest checked;
/// a missing, damaged or foreign file refused with one line naming it.
final class PunktModelFileTests: XCTestCase {
    func testTheShippedModelLoadsFromBesideTheExecutables() throws {
        let beside = try XCTUnwrap(PunktModelFile.candidates.first)
        XCTAssertEqual(beside.deletingLastPathComponent().lastPathComponent, "Lethe_LetheText.resources")
        XCTAssertTrue(FileManager.default.fileExists(atPath: beside.path), "SwiftPM copies the model beside the products")
        let text = try PunktModelFile.load(from: [beside])
        let parameters = PunktParameters(modelText: text)
        XCTAssertEqual([parameters.abbreviations.count, parameters.sentenceStarters.count, parameters.collocations.count,
                        parameters.orthographicContext.count], [156, 39, 37, 20366], "the model's tables as NLTK reads them")
        XCTAssertTrue(parameters.abbreviations.contains("calif"))
    }

    func testMissingDamagedAndForeignFilesAreRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-punkt-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent(PunktModelFile.name)

        XCTAssertThrowsError(try PunktModelFile.load(from: [file])) { error in
            XCTAssertEqual("\(error)", "the Punkt model punkt-english.tsv.zst is missing (looked in \(folder.path)); keep the Lethe_LetheText.resources folder beside the Lethe executables")
        }
        var shipped = [UInt8](try Data(contentsOf: PunktModelFile.candidates.first!))
        shipped[shipped.count / 2] ^= 0xFF
        try Data(shipped).write(to: file)
        XCTAssertThrowsError(try PunktModelFile.load(from: [file])) { error in
            XCTAssertEqual("\(error)", "\(file.path): cannot read or decompress the Punkt model")
        }
        try Data(try Data(contentsOf: PunktModelFile.candidates.first!)).write(to: file)
        XCTAssertThrowsError(try PunktModelFile.load(from: [file], sha256: String(repeating: "0", count: 64))) { error in
            XCTAssertEqual("\(error)", "\(file.path): the Punkt model's sha256 is \(PunktModelFile.sha256), expected \(String(repeating: "0", count: 64)): the file is damaged or not Lethe's")
        }
    }
}
