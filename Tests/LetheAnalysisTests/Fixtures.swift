import Foundation
import XCTest

/// Reads the JSON fixtures written by Tests/Fixtures/analysis/make_analysis_fixtures.py.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/analysis")

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name) is not a JSON object")
    }

    /// A number from the fixtures, where the script wrote nan and infinities as strings.
    static func double(_ value: Any?) -> Double {
        switch value {
        case let s as String: return s == "nan" ? .nan : (s == "inf" ? .infinity : -.infinity)
        case let n as NSNumber: return n.doubleValue
        default: return .nan
        }
    }
}

/// |actual - expected| <= tolerance * |expected| (absolute below tiny expected values), nan equal to nan.
func assertClose(_ actual: Double, _ expected: Double, relative tolerance: Double, absoluteFloor: Double = 1e-300,
                 _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    if expected.isNaN { XCTAssertTrue(actual.isNaN, "expected nan, got \(actual) \(message())", file: file, line: line); return }
    if expected.isInfinite { XCTAssertEqual(actual, expected, message(), file: file, line: line); return }
    let error = abs(actual - expected)
    XCTAssertLessThanOrEqual(error, max(tolerance * abs(expected), absoluteFloor),
                             "got \(actual), expected \(expected) \(message())", file: file, line: line)
}
