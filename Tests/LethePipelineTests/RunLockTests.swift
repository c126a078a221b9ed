import Foundation
import XCTest
@testable import LethePipeline
import LetheShards
import LetheTestSupport

/// The lock of `lethe run` (RunLock): two runs at once never run a stage twice; a lock left by a killed run is
/// removed; a lock of another host is reported with the file to remove. Real `lethe` processes and stages.
final class RunLockTests: XCTestCase {
    /// Two stages of lethe-test-stage; map sleeps `delay` ms per sample (30 samples), so a run lasts a while.
    func makeSandbox(delay: Int, _ name: String = #function) throws -> Sandbox {
        let sandbox = try Sandbox(name)
        try sandbox.write("data/offset.txt", "12345")
        try sandbox.write("pipeline.json", """
            {"version": 1, "stages": {
              "gen": {"run": "lethe-test-stage", "files": {"offset-file": "data/offset.txt"}, "params": {"samples": 30, "shard-size": 8}},
              "map": {"run": "lethe-test-stage", "inputs": {"input": "gen"}, "params": {"scale": 3, "delay-ms": \(delay)}}
            }}
            """)
        return sandbox
    }

    func lethe(_ arguments: [String], in sandbox: Sandbox) throws -> CommandResult {
        try runProduct("lethe", arguments, in: sandbox.url)
    }

    func lockFiles(_ sandbox: Sandbox) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: sandbox.path("stages").path).filter { $0.hasSuffix(".lock") }.sorted()
    }

    /// The outputs of one uninterrupted run of the same pipeline, for comparison.
    func singleRunDigests() throws -> [String: [String: String]] {
        let sandbox = try makeSandbox(delay: 0)
        defer { sandbox.cleanUp() }
        let result = try lethe(["run"], in: sandbox)
        XCTAssertEqual(result.status, 0, result.error)
        return ["gen": try sandbox.outputDigests("stages/gen"), "map": try sandbox.outputDigests("stages/map")]
    }

    func testASecondRunIsRefusedOrWaits() throws {
        let sandbox = try makeSandbox(delay: 300)
        defer { sandbox.cleanUp() }
        let first = try startProduct("lethe", ["run"], in: sandbox.url)
        XCTAssertTrue(waitUntil(seconds: 30) { (try? self.lockFiles(sandbox)) == ["gen.lock", "map.lock"] }, "the first run took no locks")

        // At once: one line naming the holder, nothing run, the first run's locks kept.
        let refused = try lethe(["run"], in: sandbox)
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.output, "")
        let line = refused.error.trimmingCharacters(in: .newlines)
        XCTAssertFalse(line.contains("\n"), line)
        XCTAssertTrue(line.hasPrefix("lethe: \(sandbox.path("stages/gen.lock").path): held by `lethe run` of \(sandbox.path("pipeline.json").path) on \(ProcessInfo.processInfo.hostName), process \(first.process.processIdentifier), since "), line)
        XCTAssertTrue(line.hasSuffix("it is running. Pass --wait-lock to wait for it."), line)
        // Read-only commands need no lock.
        XCTAssertEqual(try lethe(["run", "--dry-run"], in: sandbox).status, 0)
        let status = try lethe(["status"], in: sandbox)
        XCTAssertTrue(status.output.contains("locked by `lethe run` of"), status.output)

        // --wait-lock: waits, then finds everything done by the first run.
        let waited = try lethe(["run", "--wait-lock"], in: sandbox)
        XCTAssertEqual(waited.status, 0, waited.error)
        XCTAssertTrue(waited.output.hasPrefix("Waiting for \(sandbox.path("stages/gen.lock").path), held by `lethe run` of"), waited.output)
        XCTAssertTrue(waited.output.hasSuffix("Nothing to do: all 2 stages are up to date.\n"), waited.output)

        let firstResult = first.finish()
        XCTAssertEqual(firstResult.status, 0, firstResult.error)
        for stage in ["gen", "map"] {
            XCTAssertTrue(firstResult.output.contains("== \(stage): done"), firstResult.output)
            XCTAssertFalse(waited.output.contains("== \(stage)"), "stage \(stage) ran twice")
        }
        XCTAssertEqual(try lockFiles(sandbox), [], "the locks are given back")
        let single = try singleRunDigests()
        XCTAssertEqual(try sandbox.outputDigests("stages/gen"), single["gen"])
        XCTAssertEqual(try sandbox.outputDigests("stages/map"), single["map"])
    }

    /// kill -9 of `lethe run` leaves its locks and its stage process, which works on: the lock holds, naming that
    /// process; once it has ended, the next run removes the locks, says so, and finishes with the bytes of an
    /// uninterrupted run.
    func testTheLocksOfAKilledRunAreRemoved() throws {
        let sandbox = try makeSandbox(delay: 300)
        defer { sandbox.cleanUp() }
        let first = try startProduct("lethe", ["run"], in: sandbox.url)
        XCTAssertTrue(waitUntil(seconds: 30) {
            (try? RunLock.read(sandbox.path("stages/map.lock")).stages?.count) == 1
        }, "map never started, or the lock does not name its process")
        kill(first.process.processIdentifier, SIGKILL)
        // Waits for lethe alone: its output pipes may stay open in the orphan.
        first.process.waitUntilExit()
        let orphans = try XCTUnwrap(try RunLock.read(sandbox.path("stages/map.lock")).stages).map(\.pid)
        XCTAssertEqual(orphans.count, 1, "the lock names map's process")
        XCTAssertEqual(kill(orphans[0], 0), 0, "map's process works on")
        let held = try lethe(["run"], in: sandbox)
        XCTAssertEqual(held.status, 1)
        XCTAssertTrue(held.error.contains("stages/gen.lock: held by `lethe run` of"), held.error)
        XCTAssertTrue(held.error.contains("that run was killed, but its stage process \(orphans.first ?? 0) still works."), held.error)
        // Once the orphaned stage process has ended, the lock is stale.
        XCTAssertTrue(waitUntil(seconds: 60) { kill(orphans[0], 0) != 0 })
        XCTAssertEqual(try lockFiles(sandbox), ["gen.lock", "map.lock"])

        let rerun = try lethe(["run"], in: sandbox)
        XCTAssertEqual(rerun.status, 0, rerun.error)
        for stage in ["gen", "map"] {
            XCTAssertTrue(rerun.output.contains("Removed the stale lock \(sandbox.path("stages/\(stage).lock").path) of `lethe run` of"), rerun.output)
        }
        XCTAssertEqual(try lockFiles(sandbox), [])
        let single = try singleRunDigests()
        XCTAssertEqual(try sandbox.outputDigests("stages/map"), single["map"])
    }

    /// A holder this host can rule out (no such process; the pid of another process since) is stale; one on
    /// another host is not, and the refusal says which file to remove.
    func testStaleAndForeignHolders() throws {
        let sandbox = try makeSandbox(delay: 0)
        defer { sandbox.cleanUp() }
        let exited = Process()
        exited.executableURL = URL(fileURLWithPath: "/bin/true")
        try exited.run()
        exited.waitUntilExit()
        let host = ProcessInfo.processInfo.hostName
        let me = RunLock.Holder.current(pipeline: "other.json")
        let holders: [(RunLock.Holder, stale: Bool)] = [
            (RunLock.Holder(host: host, pid: exited.processIdentifier, processStart: nil, pipeline: "other.json", started: me.started), true),
            (RunLock.Holder(host: host, pid: me.pid, processStart: "another-boot:1", pipeline: "other.json", started: me.started), true),
            (me, false),
            (RunLock.Holder(host: "node-elsewhere", pid: 1, processStart: nil, pipeline: "other.json", started: me.started), false),
        ]
        for (holder, stale) in holders {
            XCTAssertEqual(holder.isGone, stale, "\(holder)")
        }
        let foreign = holders[3].0
        try sandbox.write("stages/map.lock", String(decoding: try canonicalJSON(foreign).bytes(pretty: true), as: UTF8.self))
        let refused = try lethe(["run"], in: sandbox)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.error.contains("Lethe cannot check a process on node-elsewhere from \(host); if that run is gone, remove \(sandbox.path("stages/map.lock").path)."), refused.error)
        XCTAssertEqual(try lockFiles(sandbox), ["map.lock"], "gen's lock is given back, the foreign one kept")

        try sandbox.write("stages/map.lock", "not json")
        let garbled = try lethe(["run"], in: sandbox)
        XCTAssertEqual(garbled.status, 1)
        XCTAssertTrue(garbled.error.contains("stages/map.lock: not a lock file of Lethe's"), garbled.error)
    }
}
