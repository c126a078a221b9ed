import Foundation
import XCTest
@testable import LethePipeline
import LetheShards
import LetheTestSupport

/// A stage that fills the disk: one line naming the file, what is free and what was needed; nothing marked
/// complete, the units finished before kept; once space is freed, the rerun finishes with the bytes of a run
/// that never ran out. On a 1 MB tmpfs (skipped where the test cannot mount one).
final class DiskFullTests: XCTestCase {
    let pipeline = """
        {"version": 1, "stages": {
          "gen": {"run": "lethe-test-stage", "files": {"offset-file": "data/offset.txt"}, "params": {"samples": 60, "shard-size": 8}},
          "map": {"run": "lethe-test-stage", "inputs": {"input": "gen"}, "params": {"scale": 3}}
        }}
        """

    func setUp(in folder: URL) throws {
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("data"), withIntermediateDirectories: true)
        try Data("12345".utf8).write(to: folder.appendingPathComponent("data/offset.txt"))
        try Data(pipeline.utf8).write(to: folder.appendingPathComponent("pipeline.json"))
    }

    func testAFullDiskStopsTheStageAndTheRerunFinishes() throws {
        guard let disk = try SmallDisk(megabytes: 1) else { throw XCTSkip("cannot mount a tmpfs here (needs root)") }
        defer { disk.unmount() }
        try setUp(in: disk.url)
        try disk.fill(leaving: 6 * 4096)

        let failed = try runProduct("lethe", ["run"], in: disk.url, hashCache: "off")
        XCTAssertEqual(failed.status, 1)
        let gen = disk.url.appendingPathComponent("stages/gen")
        let line = try XCTUnwrap((failed.output + failed.error).split(separator: "\n").first { $0.contains("disk is full") },
                                 failed.output + failed.error)
        XCTAssertTrue(line.hasPrefix("lethe-test-stage: \(gen.path)/shard-0000"), String(line))
        XCTAssertFalse(line.contains(".tmp"), "the file's own name, not its temporary one: \(line)")
        XCTAssertTrue(line.contains(" free where it goes, at least ") && line.contains(" more needed; nothing was marked complete"), String(line))
        XCTAssertTrue(failed.error.contains("stage gen failed"), failed.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: gen.appendingPathComponent("manifest.json").path))

        // What was recorded complete is intact; nothing temporary is left.
        let folder = StageFolder(url: gen)
        let units = folder.recordedUnits()
        for unit in units {
            let fingerprint = try XCTUnwrap(folder.record(unit: unit)).fingerprint
            XCTAssertNotNil(folder.completedUnit(unit, fingerprint: fingerprint, checkContent: true), "unit \(unit) recorded but damaged")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: gen.path)
        XCTAssertEqual(names.filter { $0.contains(".tmp") }, [])

        disk.emptyBallast()
        let rerun = try runProduct("lethe", ["run"], in: disk.url, hashCache: "off")
        XCTAssertEqual(rerun.status, 0, rerun.error)

        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-disk-full-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        try setUp(in: elsewhere)
        XCTAssertEqual(try runProduct("lethe", ["run"], in: elsewhere, hashCache: "off").status, 0)
        for stage in ["gen", "map"] {
            XCTAssertEqual(try digests(disk.url.appendingPathComponent("stages/\(stage)")),
                           try digests(elsewhere.appendingPathComponent("stages/\(stage)")), stage)
        }
    }

    func digests(_ folder: URL) throws -> [String: String] {
        var result: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".tar.zst") {
            result[name] = try SHA256Hex.ofFile(atPath: folder.appendingPathComponent(name).path)
        }
        return result
    }
}
