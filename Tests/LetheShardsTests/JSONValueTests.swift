import Foundation
import XCTest
@testable import LetheShards

final class JSONValueTests: XCTestCase {
    func testIntegersStayIntegersAndKeysAreSorted() throws {
        let value = try JSONValue.parse(#"{"b": 64, "a": 64.0, "c": [1e3, -0, 1.5e-5, "x"], "é": null, "Z": true}"#)
        XCTAssertEqual(value["b"], .int(64))
        XCTAssertEqual(value["a"], .double(64))
        XCTAssertEqual(value["c"]?[0], .double(1000))
        XCTAssertEqual(value["c"]?[1], .int(0))
        XCTAssertEqual(value.serialized(), #"{"Z":true,"a":64.0,"b":64,"c":[1000.0,0,1.5e-05,"x"],"é":null}"#)
        XCTAssertEqual(try JSONValue.parse(value.serialized()), value)
        XCTAssertEqual(try JSONValue.parse(value.serialized(pretty: true)), value)
        XCTAssertEqual(JSONValue.object([:]).serialized(pretty: true), "{}\n")
    }

    func testSubscriptsAndAccessors() {
        var meta: JSONValue = ["words": ["a", "b"], "length": 2]
        meta["reconstruction"] = ["a"]
        meta["length"] = nil
        XCTAssertEqual(meta.serialized(), #"{"reconstruction":["a"],"words":["a","b"]}"#)
        XCTAssertEqual(meta["words"]?[1]?.stringValue, "b")
        XCTAssertNil(meta["words"]?[2])
        XCTAssertEqual(JSONValue.double(3).intValue, 3)
        XCTAssertNil(JSONValue.double(3.5).intValue)
        XCTAssertEqual(JSONValue.int(3).doubleValue, 3)
    }

    func testStringEscapesRoundTrip() throws {
        let text = "quote \" backslash \\ newline \n tab \t bell \u{07} emoji 😀 surrogate"
        let value = JSONValue.string(text)
        XCTAssertEqual(try JSONValue.parse(value.serialized()), value)
        XCTAssertEqual(try JSONValue.parse(#""\ud83d\ude00 \u00e9 \/""#), .string("😀 é /"))
        XCTAssertEqual(JSONValue.string("\u{07}").serialized(), #""\u0007""#)
    }

    func testNonFiniteNumbersAsPythonWritesThem() throws {
        let value: JSONValue = [.double(.infinity), .double(-.infinity)]
        XCTAssertEqual(value.serialized(), "[Infinity,-Infinity]")
        XCTAssertEqual(try JSONValue.parse("[NaN]")[0]?.doubleValue?.isNaN, true)
    }

    func testErrorsGiveLineAndColumn() {
        let cases: [(String, String)] = [
            ("{\n  \"a\": 1,\n  \"b\" 2\n}", "3:7: expected ':' after key \"b\""),
            ("[1, 2", "1:6: unexpected end of input, expected ',' or ']'"),
            ("{\"a\": 1, \"a\": 2}", "1:10: duplicate key \"a\""),
            ("[01]", "1:2: leading zero in number"),
            ("{} x", "1:4: unexpected text after the JSON value"),
            ("\"abc", "1:5: unterminated string"),
            ("[tru]", "1:2: expected a value"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try JSONValue.parse(text), text) { error in
                XCTAssertEqual("\(error)", message, text)
            }
        }
    }

    func testCodableBridgesToFoundation() throws {
        let value: JSONValue = ["n": 3, "x": 0.25, "s": "t", "a": [true, nil]]
        let data = try JSONEncoder().encode(value)
        XCTAssertEqual(try JSONDecoder().decode(JSONValue.self, from: data), value)
    }

    /// Oracle: Python's json module writes the same canonical text (sort_keys, compact separators,
    /// ensure_ascii off) for a value whose doubles both languages print alike, and reads ours back.
    func testPythonJSONAgrees() throws {
        let value: JSONValue = ["words": ["Café", "東京", "a\"b\\c\n"], "n": -12, "x": 0.1, "y": 2.5e-07, "big": 1e+300,
                                "nested": ["z": [], "a": [:], "t": true, "f": false, "none": nil]]
        let script = """
        import json, sys
        text = sys.argv[1]
        value = json.loads(text)
        sys.stdout.write(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
        """
        let (status, output) = try runCommand(["python3", "-c", script, value.serialized()])
        XCTAssertEqual(status, 0)
        XCTAssertEqual(output, value.serialized())
    }
}
