import Foundation
import XCTest

// What every test target that works with files shares: a sandbox folder and the float comparison.

/// A fresh temporary folder ("lethe-NAME-XXXXXXXX", NAME the test's), removed by `cleanUp`.
public struct Sandbox {
    public let url: URL

    public init(_ name: String = #function) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("lethe-\(name.prefix(30))-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ relative: String) -> URL { url.appendingPathComponent(relative) }

    /// Writes a file (creating its folders).
    public func write(_ relative: String, _ bytes: [UInt8]) throws {
        let file = path(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: file)
    }

    public func write(_ relative: String, _ text: String) throws { try write(relative, Array(text.utf8)) }

    public func cleanUp() { try? FileManager.default.removeItem(at: url) }
}

/// Asserts max |actual - expected| ≤ tolerance · max |expected| (the tolerance relative to the tensor's largest
/// magnitude; a NaN fails) and returns that relative error. The message names the first element outside it.
@discardableResult
public func assertClose(_ actual: [Float], _ expected: [Float], relativeToMax tolerance: Float, _ what: String,
                        file: StaticString = #filePath, line: UInt = #line) -> Float {
    guard actual.count == expected.count else {
        XCTFail("\(what): \(actual.count) values, expected \(expected.count)", file: file, line: line)
        return .infinity
    }
    let scale = expected.map(abs).max() ?? 0
    var worst: Float = 0
    for (a, e) in zip(actual, expected) {
        let d = abs(a - e)
        if !(d <= worst) { worst = d.isNaN ? .infinity : d }
    }
    let relative = scale > 0 ? worst / scale : worst
    if !(relative <= tolerance) {
        let bad = zip(actual, expected).enumerated().first { !(abs($1.0 - $1.1) <= tolerance * scale) }
        XCTFail("\(what): max |diff| \(worst) = \(relative) of max |expected| \(scale) > \(tolerance); first at element "
                + "\(bad?.offset ?? 0): \(bad?.element.0 ?? 0), expected \(bad?.element.1 ?? 0)", file: file, line: line)
    }
    return relative
}
