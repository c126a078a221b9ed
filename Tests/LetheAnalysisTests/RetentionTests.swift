import XCTest
@testable import LetheAnalysis
import LetheShards

final class RetentionTests: XCTestCase {
    func testOccurrencePairsRule() {
        // "the" occurs twice in the reference and once in the reconstruction: only the first is retained.
        let reference = ["the", "cat", "saw", "the", "dog", "."]
        let reconstruction = ["The", "dog", "saw", "the", "cat"]
        XCTAssertEqual(retainedWords(reference: reference, reconstruction: reconstruction),
                       [true, true, true, false, true, false])
        // Case-sensitive, and no Unicode normalisation: precomposed é differs from e + combining acute.
        XCTAssertEqual(retainedWords(reference: ["caf\u{E9}", "Cat"], reconstruction: ["cafe\u{301}", "cat"]), [false, false])
        XCTAssertEqual(retainedWords(reference: [], reconstruction: ["a"]), [])
        XCTAssertEqual(retainedWords(reference: ["a", "a", "a"], reconstruction: ["a", "b", "a"]), [true, true, false])
    }

    func testAlignmentHandCases() {
        func fates(_ r: [Int32], _ c: [Int32]) -> String {
            let a = alignTokens(reference: r, reconstruction: c)
            return a.fates.map { ["k", "s", "d"][Int($0.rawValue)] }.joined() + " +\(a.inserted) =\(a.distance)"
        }
        XCTAssertEqual(fates([1, 2, 3], [1, 2, 3]), "kkk +0 =0")
        XCTAssertEqual(fates([1, 2, 3], [1, 3]), "kdk +0 =1")
        XCTAssertEqual(fates([1, 2, 3], [1, 9, 3]), "ksk +0 =1")
        XCTAssertEqual(fates([1, 2, 3], [1, 2, 7, 3]), "kkk +1 =1")
        XCTAssertEqual(fates([1, 2, 3], []), "ddd +0 =3")
        XCTAssertEqual(fates([], [4, 5]), " +2 =2")
        XCTAssertEqual(fates([], []), " +0 =0")
        // Tie: [5, 5] against [5] keeps one 5; the dropped one is the later-found (first) under the backtrace.
        XCTAssertEqual(fates([5, 5], [5]), "dk +0 =1")
        // Tie between substituting and drop + insert: substitution wins (distance 1, not 2).
        XCTAssertEqual(fates([1, 2], [1, 8]), "ks +0 =1")
    }

    /// Naive oracle: the textbook recursive edit distance, memoised, on random short sequences; and every
    /// alignment must be a valid edit script whose cost is that distance.
    func testAlignmentAgainstNaiveDistance() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<400 {
            let n = rng.index(below: 9), m = rng.index(below: 9), alphabet = 1 + rng.index(below: 4)
            let r = (0..<n).map { _ in Int32(rng.index(below: alphabet)) }
            let c = (0..<m).map { _ in Int32(rng.index(below: alphabet)) }
            var memo: [Int: Int] = [:]
            func naive(_ i: Int, _ j: Int) -> Int {
                if i == 0 { return j }
                if j == 0 { return i }
                if let v = memo[i * 100 + j] { return v }
                let v = min(naive(i - 1, j) + 1, naive(i, j - 1) + 1, naive(i - 1, j - 1) + (r[i - 1] == c[j - 1] ? 0 : 1))
                memo[i * 100 + j] = v
                return v
            }
            let a = alignTokens(reference: r, reconstruction: c)
            XCTAssertEqual(a.distance, naive(n, m), "\(r) \(c)")
            let substituted = a.fates.filter { $0 == .substituted }.count, dropped = a.fates.filter { $0 == .dropped }.count
            XCTAssertEqual(substituted + dropped + a.inserted, a.distance, "\(r) \(c)")
            XCTAssertEqual(n - dropped + a.inserted, m, "\(r) \(c)")
            // Kept tokens, in order, form a common subsequence of both.
            let kept = zip(r, a.fates).filter { $0.1 == .kept }.map { $0.0 }
            var it = c.makeIterator()
            XCTAssertTrue(kept.allSatisfy { k in while let x = it.next() { if x == k { return true } }; return false }, "\(r) \(c)")
        }
    }
}
