import Foundation
import XCTest
import LetheShards
@testable import LetheTokenizer

final class TokenizerTests: XCTestCase {
    func testNeoXVocabulary() {
        let neox = Shared.neox
        XCTAssertEqual(neox.vocabularySize, 50_277)
        XCTAssertEqual(neox.eosID, 0)
        XCTAssertEqual(neox.token(for: 0), "<|endoftext|>")
        XCTAssertEqual(neox.id(for: "<|padding|>"), 1)
        XCTAssertEqual(neox.id(for: "Ġthe"), 253)
        XCTAssertEqual(neox.token(for: 50_276), "  ")
        XCTAssertEqual(neox.token(for: 50_254), String(repeating: " ", count: 24))
        XCTAssertNil(neox.token(for: 50_277))
        XCTAssertNil(neox.token(for: -1))
        XCTAssertTrue(neox.isSpecial(0))
        XCTAssertFalse(neox.isSpecial(50_276))
        XCTAssertEqual(neox.decode([0, 1], skipSpecialTokens: true), "")
    }

    func testByteLevelTableIsABijection() {
        XCTAssertEqual(Set(ByteLevel.scalarOfByte).count, 256)
        for byte in 0..<256 {
            XCTAssertEqual(ByteLevel.byteOfScalar[Int(ByteLevel.scalarOfByte[byte].value)], Int16(byte))
        }
        XCTAssertEqual(ByteLevel.scalarOfByte[32], "Ġ")
        XCTAssertEqual(ByteLevel.scalarOfByte[10], "Ċ")
    }

    /// The heap merge (used for long words) against the scanning merge (the reference) on words of every length.
    func testHeapMergeAgreesWithScanningMerge() throws {
        let neox = Shared.neox
        var generator = SplitMix64(seed: 7)
        let pieces = ["the", "in", "ation", "x", "e", "ing", " ", "ab", "ü", "日本", "0", "12", "'s"]
        let merges = try neoxMergeTable()
        let heapScratch = HeapScratch()
        for length in [2, 3, 5, 10, 47, 48, 49, 64, 100, 500, 2000] {
            for _ in 0..<5 {
                var word = ""
                while word.utf8.count < length { word += pieces[Int(generator.next() % UInt64(pieces.count))] }
                var a = Array(word.utf8).map { neox.id(for: String(ByteLevel.scalarOfByte[Int($0)]))! }
                var b = a
                var pairs = [UInt64](repeating: 0, count: a.count)
                let scanned = mergeByScanning(&a, count: a.count, pairs: &pairs, merges: merges)
                let heaped = mergeWithHeap(&b, count: b.count, scratch: heapScratch, merges: merges)
                XCTAssertEqual(Array(a[..<scanned]), Array(b[..<heaped]), "word of \(length) bytes")
            }
        }
    }

    private func neoxMergeTable() throws -> MergeTable {
        let file = try TokenizerFile(contentsOf: Repository.neoxTokenizer)
        return MergeTable(merges: file.merges.map { (file.vocabulary[$0.0]!, file.vocabulary[$0.1]!,
                                                     file.vocabulary[$0.0 + $0.1]!) })
    }

    /// Long words take the heap path (10,000-character words are in the edge-case fixture); a 200,000-byte word
    /// would take the quadratic scan hours, the heap a moment. Oracle: `tokenizers` gives 80,000 ids, the period
    /// [19758, 1545, 18068, 1944] repeated (their FNV-1a hash below was computed from its output).
    func testVeryLongWordMatchesThePackage() {
        let word = String(repeating: "abcdefghij", count: 20_000)
        let ids = Shared.neox.encode(word)
        XCTAssertEqual(ids.count, 80_000)
        XCTAssertEqual(Array(ids.prefix(4)), [19758, 1545, 18068, 1944])
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for id in ids { hash = (hash ^ UInt64(id)) &* 0x100_0000_01B3 }
        XCTAssertEqual(hash, 13_569_374_619_828_391_781)
        XCTAssertSameScalars(Shared.neox.decode(ids), word)
    }

    func testConcurrentEncodingGivesTheSameIDs() throws {
        // Real lines, and edge and random cases (these go through NFC and the heap merge) from 8 threads at once.
        let cases = try FixtureCase.load("neox-real.jsonl") + FixtureCase.load("neox-edge.jsonl")
            + FixtureCase.load("neox-fuzz.jsonl")
        let neox = Shared.neox
        let results = UnsafeMutableBufferPointer<[Int32]>.allocate(capacity: cases.count)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for index in stride(from: worker, to: cases.count, by: 8) { results[index] = neox.encode(cases[index].text) }
        }
        for (index, fixture) in cases.enumerated() { XCTAssertEqual(results[index], fixture.ids, "line \(fixture.line)") }
    }

    /// The cache's two generations (32,768 words each): ids stay the same when words are found in the recent
    /// table, found in the older one and moved back, or computed again after falling out.
    func testWordCacheGenerationsKeepTheIDs() {
        let neox = Shared.neox
        var generator = SplitMix64(seed: 11)
        func words(_ count: Int) -> String {
            (0..<count).map { _ in " w\(generator.next() % 10_000_000)x" }.joined()
        }
        let first = words(20_000)
        let firstIDs = neox.encode(first)
        XCTAssertSameScalars(neox.decode(firstIDs), first)
        XCTAssertEqual(neox.encode(first), firstIDs, "recent table")
        let filler = words(20_000)
        let fillerIDs = neox.encode(filler)
        XCTAssertEqual(neox.encode(first), firstIDs, "older table, moved back")
        _ = neox.encode(words(80_000))
        XCTAssertEqual(neox.encode(first), firstIDs, "fallen out and computed again")
        XCTAssertEqual(neox.encode(filler), fillerIDs)
    }
}

