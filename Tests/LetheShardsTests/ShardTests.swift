import Foundation
import XCTest
@testable import LetheShards

/// A fresh temporary folder per test, removed afterwards.
func makeTemporaryFolder(_ name: String = #function) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-\(name.prefix(40))-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs a command, returning its exit status and standard output.
@discardableResult
func runCommand(_ arguments: [String], stdin: URL? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    if let stdin { process.standardInput = try FileHandle(forReadingFrom: stdin) }
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/shards")

final class ShardTests: XCTestCase {
    /// One sample per dtype plus JSON metadata with non-ASCII text, and a key too long for a ustar name.
    func exampleSamples() -> [ShardSample] {
        var first = ShardSample(key: "doc000001-0003")
        first.setJSON(["dataset": "prose", "words": ["Café", "東京"], "length": 3, "score": 0.5])
        first.set("tokens", npy: NPYArray(int32: [5, 50276, 0], shape: [3]))
        first.set("state", npy: NPYArray(float32: [1.5, -2.25, .infinity, 3e-8, 0, -0], shape: [2, 3]))
        first.set("half", npy: NPYArray(float16: [1.5, -2.25, 65504, 0.0001], shape: [4]))
        first.set("f8", npy: NPYArray(float64: [1e300, -1e-300], shape: [2]))
        first.set("i8", npy: NPYArray(int64: [Int64.min, Int64.max], shape: [2]))
        first.set("u1", npy: NPYArray(uint8: [0, 255], shape: [2]))
        first.set("b1", npy: NPYArray(bool: [true, false, true], shape: [3]))
        first.set("scalar", npy: NPYArray(float32: [42], shape: []))
        first.set("empty", npy: NPYArray(int32: [], shape: [0, 4]))
        var second = ShardSample(key: "doc000002-0000")
        second.setJSON(["dataset": "prose"])
        second.set("txt", data: Array("plain\n".utf8))
        var long = ShardSample(key: String(repeating: "k", count: 120))
        long.set("tokens", npy: NPYArray(int32: [1], shape: [1]))
        var unicode = ShardSample(key: "dir/naïve-東京")
        unicode.setJSON(["ok": true])
        return [first, second, long, unicode]
    }

    func writeShard(_ samples: [ShardSample], to url: URL) throws -> ShardRecord {
        let writer = try ShardWriter(url: url)
        for sample in samples { try writer.append(sample) }
        return try writer.finish()
    }

    func testRoundTripEveryDTypeAndRecord() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent(ShardName.file(7))
        let samples = exampleSamples()
        let record = try writeShard(samples, to: url)
        XCTAssertEqual(url.lastPathComponent, "shard-000007.tar.zst")
        XCTAssertEqual(record.name, "shard-000007.tar.zst")
        XCTAssertEqual(record.samples, 4)
        XCTAssertEqual(record.bytes, DurableFile.size(ofFile: url.path))
        XCTAssertEqual(record.sha256, try SHA256Hex.ofFile(atPath: url.path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [url.lastPathComponent])

        let read = try ShardReader.readAll(url)
        XCTAssertEqual(read, samples)
        XCTAssertEqual(read[0].source, url.path)
        XCTAssertEqual(try read[0].npy("tokens").int32s(), [5, 50276, 0])
        XCTAssertEqual(try read[0].npy("i8").int64s(), [Int64.min, Int64.max])
        XCTAssertEqual(try read[0].npy("state").floats()[2], .infinity)
        XCTAssertEqual(try read[0].json()["words"], ["Café", "東京"])
        XCTAssertEqual(try read[0].json()["length"], .int(3))
    }

    func testWritingIsReproducibleByteForByte() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = try writeShard(exampleSamples(), to: folder.appendingPathComponent("shard-000000.tar.zst"))
        let b = try writeShard(exampleSamples(), to: folder.appendingPathComponent("shard-000001.tar.zst"))
        XCTAssertEqual(a.sha256, b.sha256)
        XCTAssertEqual(a.bytes, b.bytes)
    }

    /// Oracle: Python's tarfile + numpy read what Swift wrote (through the `zstd` command), and see the
    /// reproducible header fields.
    func testPythonReadsSwiftShard() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("shard-000000.tar.zst")
        let samples = exampleSamples()
        _ = try writeShard(samples, to: url)
        let script = """
        import io, json, sys, tarfile
        import numpy as np
        out = []
        with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tar:
            for m in tar:
                assert m.isfile() and m.mtime == 0 and m.uid == 0 and m.gid == 0, m
                assert m.uname == "" and m.gname == "" and m.mode == 0o644, m
                data = tar.extractfile(m).read()
                item = {"name": m.name, "size": m.size}
                if m.name.endswith(".npy"):
                    a = np.load(io.BytesIO(data))
                    item.update(dtype=a.dtype.name, shape=list(a.shape),
                                values=[str(v) for v in a.astype(np.float64).ravel().tolist()])
                elif m.name.endswith(".json"):
                    item["json"] = json.loads(data)
                out.append(item)
        print(json.dumps(out))
        """
        let decompressed = folder.appendingPathComponent("shard.tar")
        XCTAssertEqual(try runCommand(["sh", "-c", "zstd -q -dc '\(url.path)' > '\(decompressed.path)'"]).status, 0)
        let (status, output) = try runCommand(["python3", "-c", script], stdin: decompressed)
        XCTAssertEqual(status, 0, output)
        let members = try JSONValue.parse(output).arrayValue ?? []
        let expected = samples.flatMap { s in s.members.map { (s.key + "." + $0.ext, $0) } }
        XCTAssertEqual(members.map { $0["name"]?.stringValue ?? "" }, expected.map(\.0))
        for (item, (name, member)) in zip(members, expected) {
            XCTAssertEqual(item["size"]?.intValue, member.data.count, name)
            guard name.hasSuffix(".npy") else { continue }
            let array = try NPYArray.decode(member.data)
            XCTAssertEqual(item["dtype"]?.stringValue, array.dtype.name, name)
            XCTAssertEqual(item["shape"], .array(array.shape.map { .int($0) }), name)
            let pythonValues = (item["values"]?.arrayValue ?? []).map { Double($0.stringValue ?? "") }
            XCTAssertEqual(pythonValues, array.doubles().map { Optional($0) }, name)
        }
        XCTAssertEqual(members[0]["json"], try samples[0].json())
    }

    /// Oracle: shards written by Python's tarfile (PAX and GNU formats) and numpy.save, with the
    /// listing numpy produced (Tests/Fixtures/shards/make_shard_fixture.py).
    func testSwiftReadsPythonShards() throws {
        let expected = try JSONValue.read(contentsOf: fixtures.appendingPathComponent("expected.json"))
        for shard in expected["shards"]?.arrayValue ?? [] {
            let samples = try ShardReader.readAll(fixtures.appendingPathComponent(shard.stringValue!))
            let listing = expected["samples"]?.arrayValue ?? []
            XCTAssertEqual(samples.map(\.key), listing.map { $0["key"]?.stringValue ?? "" }, "\(shard)")
            for (sample, entry) in zip(samples, listing) {
                let members = entry["members"]?.arrayValue ?? []
                XCTAssertEqual(sample.members.map(\.ext), members.map { $0["ext"]?.stringValue ?? "" })
                for (member, want) in zip(sample.members, members) {
                    XCTAssertEqual(SHA256Hex.of(member.data), want["sha256"]?.stringValue, "\(shard) \(sample.key).\(member.ext)")
                    guard member.ext.hasSuffix(".npy") else { continue }
                    let array = try NPYArray.decode(member.data)
                    XCTAssertEqual(array.dtype.name, want["dtype"]?.stringValue)
                    XCTAssertEqual(array.shape, (want["shape"]?.arrayValue ?? []).compactMap(\.intValue))
                    let values = (want["values"]?.arrayValue ?? []).map { $0.doubleValue ?? Double($0.stringValue ?? "")! }
                    XCTAssertEqual(array.doubles(), values, "\(sample.key).\(member.ext)")
                }
            }
            XCTAssertEqual(try samples[0].json()["words"], ["Café", "naïve", "東京"])
        }
    }

    func testTruncatedAndCorruptShardsGiveOneClearError() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var big = ShardSample(key: "big")
        big.set("noise", npy: NPYArray(uint8: (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }, shape: [200_000]))
        let url = folder.appendingPathComponent("shard-000000.tar.zst")
        _ = try writeShard(exampleSamples() + [big], to: url)
        let bytes = try [UInt8](Data(contentsOf: url))

        let truncated = folder.appendingPathComponent("truncated.tar.zst")
        try Data(bytes.prefix(bytes.count * 2 / 3)).write(to: truncated)
        XCTAssertThrowsError(try ShardReader.readAll(truncated)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(truncated.path + ": "), text)
            XCTAssertTrue(text.contains("truncated"), text)
        }

        var flipped = bytes
        flipped[bytes.count / 2] ^= 0xFF
        let corrupt = folder.appendingPathComponent("corrupt.tar.zst")
        try Data(flipped).write(to: corrupt)
        XCTAssertThrowsError(try ShardReader.readAll(corrupt)) { error in
            XCTAssertTrue("\(error)".hasPrefix(corrupt.path + ": "), "\(error)")
        }

        let garbage = folder.appendingPathComponent("garbage.tar.zst")
        try Data("this is not a shard".utf8).write(to: garbage)
        XCTAssertThrowsError(try ShardReader.readAll(garbage)) { error in
            XCTAssertTrue("\(error)".hasPrefix(garbage.path + ": "), "\(error)")
        }
        XCTAssertThrowsError(try ShardReader(url: folder.appendingPathComponent("missing.tar.zst"))) { error in
            XCTAssertTrue("\(error)".contains("missing.tar.zst: no such shard file"), "\(error)")
        }
    }

    /// A writer that fails or is dropped before finish() leaves no file under the shard's name.
    func testUnfinishedWriterLeavesNothing() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("shard-000003.tar.zst")
        do {
            let writer = try ShardWriter(url: url)
            try writer.append(exampleSamples()[0])
            XCTAssertEqual(writer.temporaryPath, url.path + ".tmp.\(getpid())")
            XCTAssertTrue(FileManager.default.fileExists(atPath: writer.temporaryPath))
            XCTAssertThrowsError(try writer.append(ShardSample(key: "bad.key", members: [.init(ext: "json", data: [])])))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
    }

    func testInvalidSamplesAreRejected() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let writer = try ShardWriter(url: folder.appendingPathComponent("shard-000000.tar.zst"))
        defer { writer.abandon() }
        XCTAssertThrowsError(try writer.append(ShardSample(key: "", members: [.init(ext: "json", data: [])])))
        XCTAssertThrowsError(try writer.append(ShardSample(key: "empty")))
        XCTAssertThrowsError(try writer.append(ShardSample(key: "twice", members: [.init(ext: "json", data: []), .init(ext: "json", data: [])])))
        let parts = try ShardReader.split(memberName: "dir/key.tokens.npy", shard: "s")
        XCTAssertEqual([parts.0, parts.1], ["dir/key", "tokens.npy"])
        XCTAssertThrowsError(try ShardReader.split(memberName: "noextension", shard: "s"))
        XCTAssertThrowsError(try ShardReader.split(memberName: "a.b/.hidden", shard: "s"))
    }

    /// A unit may produce no samples (every input line skipped): its shard is an empty archive.
    func testEmptyShardRoundTrip() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent(ShardName.file(0))
        let record = try writeShard([], to: url)
        XCTAssertEqual(record.samples, 0)
        XCTAssertEqual(try ShardReader.readAll(url), [])
        let (status, output) = try runCommand(["sh", "-c", "zstd -q -dc '\(url.path)' | python3 -c 'import sys, tarfile; print(len(tarfile.open(fileobj=sys.stdin.buffer, mode=\"r|\").getmembers()))'"])
        XCTAssertEqual(status, 0)
        XCTAssertEqual(output, "0\n")
    }

    func testShardNames() {
        XCTAssertEqual(ShardName.file(0), "shard-000000.tar.zst")
        XCTAssertEqual(ShardName.file(1_234_567), "shard-1234567.tar.zst")
        XCTAssertEqual(ShardName.index(ofFile: "shard-000042.tar.zst"), 42)
        XCTAssertNil(ShardName.index(ofFile: "shard-000042.tar.zst.tmp"))
        XCTAssertNil(ShardName.index(ofFile: "shard-42.tar.zst"))
    }

    func testPaxRecordLengthCountsItself() {
        for value in ["x", String(repeating: "y", count: 93), String(repeating: "z", count: 994)] {
            let record = TarFormat.paxRecord(key: "path", value: value)
            let length = Int(String(decoding: record.prefix(while: { $0 != 0x20 }), as: UTF8.self))
            XCTAssertEqual(length, record.count, "\(value.count)")
        }
    }
}
