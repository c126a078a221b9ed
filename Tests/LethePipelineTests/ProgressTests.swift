import Foundation
import XCTest
@testable import LetheCLI

final class ProgressTests: XCTestCase {
    func testLineShowsDoneTotalRateAndETA() {
        let progress = Progress(label: "encode", total: 5000, mode: .off)
        progress.advance(by: 1234)
        let start = Date()
        // describe() at a chosen time: 1,234 samples after 4 s is 308.5 samples/s, 3,766 left is 12 s.
        let line = progress.describe(now: start.addingTimeInterval(4))
        XCTAssertTrue(line.hasPrefix("encode: 1,234/5,000 samples (24.7%), 308."), line)
        XCTAssertTrue(line.hasSuffix(" samples/s, ETA 12s"), line)
        XCTAssertEqual(Progress.duration(59.4), "59s")
        XCTAssertEqual(Progress.duration(185), "3m05s")
        XCTAssertEqual(Progress.duration(3 * 3600 + 125), "3h02m")
        XCTAssertEqual(Progress.grouped(1_234_567), "1,234,567")
        XCTAssertEqual(Progress.grouped(12), "12")

        let open = Progress(label: "tokenize", total: nil, unit: "documents", mode: .off)
        open.advance(by: 10)
        XCTAssertTrue(open.text.hasPrefix("tokenize: 10 documents, "), open.text)
    }
}
