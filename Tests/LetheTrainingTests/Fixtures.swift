import Foundation

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
