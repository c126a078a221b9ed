import Foundation
import XCTest
@testable import LetheCLI
@testable import LethePipeline
import LetheShards
import LetheTestSupport

/// `StageRun.runStreamedUnits`: units found while reading a stream (the tokenize stage's blocks).
final class StreamedUnitsTests: XCTestCase {
    let description = StageDescription.stage("lethe-unit-test", format: 1, inputs: ["input"])

    func stageRun(_ output: String, _ stageOptions: [String] = [], in sandbox: Sandbox) throws -> StageRun {
        let shared = ["--output", output, "--progress", "off"] + stageOptions
        let (options, workers) = try parseStageOptions(shared)
        return try StageRun(description: description, options: options, workers: workers, arguments: shared,
                            base: sandbox.url, cache: FileHashCache(url: nil))
    }

    /// A stream of `count` inputs (the unit's number times 10), failing after `failAfter` of them if given.
    final class Stream: @unchecked Sendable {
        private let lock = NSLock()
        let count: Int
        let failAfter: Int?
        private(set) var produced = 0
        private var finished = 0
        private(set) var mostOutstanding = 0
        private var worked: [Int] = []

        init(count: Int, failAfter: Int? = nil) {
            self.count = count
            self.failAfter = failAfter
        }

        func next() throws -> Int? {
            lock.lock()
            defer { lock.unlock() }
            if produced == failAfter { throw StageError("bad input after \(produced) units") }
            guard produced < count else { return nil }
            produced += 1
            mostOutstanding = max(mostOutstanding, produced - finished)
            return (produced - 1) * 10
        }

        /// Writes two samples for the unit (a slow unit with `delay`).
        func work(unit: Int, input: Int, writer: ShardWriter, delay: useconds_t = 0) throws -> JSONValue {
            usleep(delay)
            XCTAssertEqual(input, unit * 10)
            for k in 0..<2 {
                var sample = ShardSample(key: "u\(unit)-\(k)")
                sample.set("tokens", npy: NPYArray(int32: [Int32(input), Int32(k)], shape: [2]))
                try writer.append(sample)
            }
            lock.lock()
            worked.append(unit)
            finished += 1
            lock.unlock()
            return ["samples": 2]
        }

        var units: [Int] { lock.lock(); defer { lock.unlock() }; return worked.sorted() }
    }

    func testWorkersTogetherWriteWhatOneProcessWrites() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let single = Stream(count: 7)
        try stageRun("one", in: sandbox).runStreamedUnits(concurrency: 3, next: single.next) { unit, input, writer in
            try single.work(unit: unit, input: input, writer: writer)
        }
        let manifest = try XCTUnwrap(StageFolder(url: sandbox.path("one")).manifest())
        XCTAssertEqual(manifest.totals.shards, 7)
        XCTAssertEqual(manifest.extra, ["samples": 14])
        XCTAssertNil(StageFolder(url: sandbox.path("one")).record(unit: 0)?.units, "the total is unknown while units are written")

        for worker in 0..<3 {
            let stream = Stream(count: 7)
            try stageRun("three", ["--shard-index", "\(worker)", "--num-shards", "3", "--stage", "one"], in: sandbox)
                .runStreamedUnits(concurrency: 2, next: stream.next) { try stream.work(unit: $0, input: $1, writer: $2) }
            XCTAssertEqual(stream.produced, 7, "every worker reads the whole stream")
            XCTAssertEqual(stream.units, Array(stride(from: worker, to: 7, by: 3)))
            XCTAssertEqual(FileManager.default.fileExists(atPath: sandbox.path("three/manifest.json").path), worker == 2)
        }
        XCTAssertEqual(try sandbox.outputDigests("three"), try sandbox.outputDigests("one"))
        XCTAssertEqual(try StageFolder(url: sandbox.path("three")).manifest()?.shards, manifest.shards)
    }

    /// However long the stream, at most 2 × concurrency + 1 units are read and not yet written.
    func testReadingWaitsForTheWorkers() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let stream = Stream(count: 12)
        try stageRun("out", in: sandbox).runStreamedUnits(concurrency: 2, next: stream.next) {
            try stream.work(unit: $0, input: $1, writer: $2, delay: 20_000)
        }
        XCTAssertEqual(stream.units, Array(0..<12))
        XCTAssertLessThanOrEqual(stream.mostOutstanding, 5)
        XCTAssertGreaterThanOrEqual(stream.mostOutstanding, 3, "reading runs ahead of the work")
    }

    /// Bad input midway: the units read before it are finished and kept, the error is passed on, no manifest;
    /// the next run redoes nothing that is done.
    func testReadFailureKeepsTheUnitsBeforeIt() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let failing = Stream(count: 6, failAfter: 4)
        XCTAssertThrowsError(try stageRun("out", in: sandbox).runStreamedUnits(concurrency: 1, next: failing.next) {
            try failing.work(unit: $0, input: $1, writer: $2, delay: 10_000)
        }) { XCTAssertEqual("\($0)", "bad input after 4 units") }
        XCTAssertEqual(failing.units, [0, 1, 2, 3])
        let folder = StageFolder(url: sandbox.path("out"))
        XCTAssertNil(try folder.manifest())
        XCTAssertEqual(folder.recordedUnits(), [0, 1, 2, 3])

        let resumed = Stream(count: 6)
        try stageRun("out", in: sandbox).runStreamedUnits(next: resumed.next) { try resumed.work(unit: $0, input: $1, writer: $2) }
        XCTAssertEqual(resumed.units, [4, 5])
        XCTAssertEqual(try folder.manifest()?.totals.samples, 12)

        // A failing unit stops the run; nothing of it is left.
        let sandbox2 = try Sandbox("failing-unit")
        defer { sandbox2.cleanUp() }
        let stream = Stream(count: 5)
        XCTAssertThrowsError(try stageRun("out", in: sandbox2).runStreamedUnits(next: stream.next) { unit, input, writer in
            if unit == 2 { throw StageError("unit 2 broke") }
            return try stream.work(unit: unit, input: input, writer: writer)
        }) { XCTAssertEqual("\($0)", "unit 2 broke") }
        XCTAssertNil(DurableFile.size(ofFile: StageFolder(url: sandbox2.path("out")).shardURL(unit: 2).path))
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: sandbox2.path("out").path).contains { $0.contains(".tmp") })
    }

    func testProgressInBytes() {
        let progress = Progress(label: "tokenize", total: 45_600_000, unit: "bytes of input", mode: .off)
        progress.advance(by: 12_300_000)
        let line = progress.describe(now: Date().addingTimeInterval(2))
        XCTAssertTrue(line.hasPrefix("tokenize: 12.3 MB/45.6 MB of input (27.0%), 6."), line)
        XCTAssertTrue(line.hasSuffix(" MB/s, ETA 5s"), line)
    }
}
