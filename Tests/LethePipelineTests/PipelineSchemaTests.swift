import Foundation
import XCTest
@testable import LethePipeline
import LetheShards
import LetheTestSupport

final class PipelineSchemaTests: XCTestCase {
    func load(_ text: String) throws -> Pipeline {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try sandbox.write("pipeline.json", text)
        return try Pipeline.load(sandbox.path("pipeline.json"))
    }

    /// The error lines `load` reports for a pipeline text.
    func problems(_ text: String) -> [String] {
        do {
            _ = try load(text)
            return []
        } catch {
            return "\(error)".split(separator: "\n").map(String.init)
        }
    }

    func testValidPipelineGivesOrderArgumentsAndOutputs() throws {
        let pipeline = try load("""
        {"version": 1, "description": "example",
         "stages": {
          "report": {"run": "lethe-report", "inputs": {"input": ["encode", "tokenize"]}, "output": "outputs"},
          "encode": {"run": "lethe-encode", "inputs": {"input": "tokenize"}, "files": {"model": "models/small"},
                     "params": {"batch-size": 8, "lr": 0.001, "lower": true, "upper": false, "layer": [1, 2], "name": "x y"}},
          "tokenize": {"run": "lethe-tokenize", "files": {"input": ["data/a.jsonl", "data/b.jsonl"]}, "params": {"chunk-size": 64}}
         }}
        """)
        XCTAssertEqual(pipeline.order, ["tokenize", "encode", "report"])
        XCTAssertEqual(pipeline.stages["report"]!.output, "outputs")
        XCTAssertEqual(pipeline.stages["encode"]!.output, "stages/encode")
        XCTAssertEqual(pipeline.downstream(of: "tokenize"), ["encode", "report"])
        XCTAssertEqual(pipeline.upstream(of: "report"), ["tokenize", "encode"])
        let arguments = pipeline.stages["encode"]!.arguments(outputOf: { pipeline.stages[$0]!.output })
        XCTAssertEqual(arguments, ["--input", "stages/tokenize", "--model", "models/small", "--batch-size", "8",
                                   "--layer", "1", "--layer", "2", "--lower", "--lr", "0.001", "--name", "x y"])
        XCTAssertEqual(pipeline.stages["report"]!.arguments(outputOf: { pipeline.stages[$0]!.output }),
                       ["--input", "stages/encode", "--input", "stages/tokenize"])
    }

    func testBadPipelinesGiveOneLineEach() {
        let cases: [(String, [String])] = [
            (#"{"version": 1, "stages": {"a": {"run": "x", "param": {}}}}"#,
             [#"pipeline.json: stages.a: unknown key "param" (did you mean "params"?) (allowed: run, inputs, files, params, output, resources, description)"#]),
            (#"{"version": 1, "stage": {}}"#,
             [#"pipeline.json: top level: unknown key "stage" (did you mean "stages"?) (allowed: version, root, stages, description)"#,
              "pipeline.json: stages: missing"]),
            (#"{"version": 1, "stages": {"b": {"run": "x", "inputs": {"input": "tokenise"}}, "tokenize": {"run": "y"}}}"#,
             [#"pipeline.json: stages.b.inputs.input: no stage named "tokenise" (did you mean "tokenize"?) (stages: b, tokenize)"#]),
            (#"{"version": 1, "stages": {"a": {"run": "x", "inputs": {"input": "c"}}, "b": {"run": "x", "inputs": {"input": "a"}}, "c": {"run": "x", "inputs": {"input": "b"}}}}"#,
             ["pipeline.json: stages form a cycle: a -> b -> c -> a"]),
            (#"{"version": 1, "stages": {"a": {"run": "x", "inputs": {"input": "a"}}}}"#,
             ["pipeline.json: stages form a cycle: a -> a"]),
            (#"{"version": 2, "stages": {"a": {"run": "x"}}}"#,
             ["pipeline.json: version: unsupported version 2 (this lethe reads version 1)"]),
            (#"{"stages": {"a": {"run": 3}}}"#,
             [#"pipeline.json: version: missing (write "version": 1)"#,
              #"pipeline.json: stages.a.run: expected an executable name"#]),
            (#"{"version": 1, "stages": {"a": {"run": "x", "params": {"n": {"deep": 1}, "m": null, "k": [[1]]}}}}"#,
             ["pipeline.json: stages.a.params.k: expected a string, number, boolean or an array of them, found array",
              "pipeline.json: stages.a.params.m: expected a string, number, boolean or an array of them, found null",
              "pipeline.json: stages.a.params.n: expected a string, number, boolean or an array of them, found object"]),
            (#"{"version": 1, "stages": {"a": {"run": "x", "files": {"input": 5}, "params": {"input": 1, "num-shards": 2}}}}"#,
             ["pipeline.json: stages.a.files.input: expected a path or an array of them, found 5",
              "pipeline.json: stages.a.params.input: option also given in files",
              "pipeline.json: stages.a.params.num-shards: --num-shards is set by the runner, not by the pipeline"]),
            (#"{"version": 1, "stages": {"a": {"run": "x", "output": "out"}, "b": {"run": "x", "output": "./out"}}}"#,
             ["pipeline.json: stages.b.output: same output folder as stage a"]),
            (#"{"version": 1, "stages": {"bad/name": {"run": "x"}}}"#,
             ["pipeline.json: stages.bad/name: invalid stage name (use letters, digits, '-', '_' and '.', not starting with '.')"]),
            ("{\"version\": 1,\n \"stages\": {\"a\": {\"run\": \"x\",}}}",
             ["pipeline.json:2:30: expected a string key"]),
            (#"[1]"#, ["pipeline.json: expected a JSON object at the top level"]),
            (#"{"version": 1, "root": 2, "stages": {"a": {"run": "x"}}}"#,
             ["pipeline.json: root: expected a folder path (relative to the pipeline file)"]),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(problems(text), expected, text)
        }
    }

    /// "root" moves the base of paths, outputs and the working directory: pipelines/x.json with "root": ".".
    func testRootIsTheBaseOfPathsAndOutputs() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        try sandbox.write("pipelines/x.json", #"{"version": 1, "root": "..", "stages": {"a": {"run": "x"}}}"#)
        let pipeline = try Pipeline.load(sandbox.path("pipelines/x.json"))
        XCTAssertEqual(pipeline.base.path, sandbox.path(".").standardizedFileURL.path)
        XCTAssertEqual(pipeline.outputURL(of: "a").path, sandbox.path("stages/a").standardizedFileURL.path)
    }

    func testMissingPipelineFile() {
        XCTAssertThrowsError(try Pipeline.load(URL(fileURLWithPath: "/nonexistent/pipeline.json"))) { error in
            XCTAssertEqual("\(error)", "/nonexistent/pipeline.json: no such pipeline file")
        }
    }
}
