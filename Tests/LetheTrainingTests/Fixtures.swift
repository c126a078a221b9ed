import Foundation
import LetheModel

/// Tests/Fixtures/training, written by make_training_fixtures.py.
let trainingFixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/training")

func loadJSON(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: trainingFixtures.appendingPathComponent(name))
    return try JSONSerialization.jsonObject(with: data) as! [String: Any]
}

/// max|a - b| / max|b|: the per-tensor relative error the tolerances are stated in.
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
    var diff = 0.0, scale = 0.0
    for i in 0 ..< a.count {
        diff = max(diff, abs(Double(a[i]) - Double(b[i])))
        scale = max(scale, abs(Double(b[i])))
    }
    return scale == 0 ? diff : diff / scale
}

func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "sizes differ: \(a.count) vs \(b.count)")
    var diff = 0.0, scale = 0.0
    for i in 0 ..< a.count {
        diff = max(diff, abs(a[i] - b[i]))
        scale = max(scale, abs(b[i]))
    }
    return scale == 0 ? diff : diff / scale
}

func floats(_ any: Any) -> [Float] { (any as! [NSNumber]).map { $0.floatValue } }

/// The float32 tensors of a .safetensors file by name (8-byte header length, JSON header, raw data).
func readSafetensors(_ url: URL) throws -> [String: (shape: [Int], values: [Float])] {
    let data = try Data(contentsOf: url)
    let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8 ..< 8 + headerLength)) as! [String: Any]
    var tensors: [String: (shape: [Int], values: [Float])] = [:]
    for (name, info) in header where name != "__metadata__" {
        let info = info as! [String: Any]
        precondition(info["dtype"] as! String == "F32", "\(url.lastPathComponent): \(name) is not F32")
        let offsets = info["data_offsets"] as! [Int]
        let bytes = data.subdata(in: 8 + headerLength + offsets[0] ..< 8 + headerLength + offsets[1])
        let values = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        tensors[name] = (info["shape"] as! [Int], values)
    }
    return tensors
}

/// A copy of a parameter (or gradient) buffer's floats, the buffer kept alive while it is read.
func values(_ buffer: ParameterBuffer) -> [Float] {
    withExtendedLifetime(buffer) { Array(buffer.buffer) }
}
