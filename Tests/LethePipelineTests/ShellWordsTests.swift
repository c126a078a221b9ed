import Foundation
import XCTest
@testable import LethePipeline

/// Command lines that Lethe prints are read back by bash as the same words.
final class ShellWordsTests: XCTestCase {
    func testQuotedWordsReadBackByBash() throws {
        let words = ["lethe-tokenize", "--separator", "\n\n", "--title", "What lethe-small forgets", "--subset-field", "",
                     "it's", "back\\slash", "tab\there", "a\\\nb", "café", "$HOME", "*", "bell\u{7}", "next\u{85}line", "it's\n", "--chunk-size", "64"]
        XCTAssertEqual(shellQuoted("--chunk-size"), "--chunk-size")
        XCTAssertEqual(shellQuoted(""), "''")
        XCTAssertEqual(shellQuoted("it's"), #"'it'\''s'"#)
        XCTAssertEqual(shellQuoted("\n\n"), #"$'\n\n'"#)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "printf '%s\\0' " + shellCommandLine(words)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let read = data.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
        XCTAssertEqual(read, words)
    }
}
