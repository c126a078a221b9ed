import Foundation
import XCTest
@testable import LetheShards

final class NPYTests: XCTestCase {
    func testRoundTripEveryDType() throws {
        let arrays: [NPYArray] = [
            NPYArray(float32: [1.5, -2.25, .infinity, 0], shape: [2, 2]),
            NPYArray(float16: [1.5, -2.25, 65504, 0.0001], shape: [4]),
            NPYArray(float64: [1e300, -1e-300], shape: [2, 1]),
            NPYArray(int32: [Int32.min, -1, 0, Int32.max], shape: [4]),
            NPYArray(int64: [Int64.min, Int64.max], shape: [2]),
            NPYArray(uint8: [0, 255, 7], shape: [3]),
            NPYArray(bool: [true, false], shape: [2]),
            NPYArray(float32: [], shape: [0, 3]),
            NPYArray(float32: [42], shape: []),
        ]
        for array in arrays {
            let bytes = array.encoded()
            XCTAssertEqual((bytes.count - array.bytes.count) % 64, 0, "header must pad to 64 bytes")
            XCTAssertEqual(try NPYArray.decode(bytes), array)
        }
    }

    func testFloat16RoundsToNearestEven() {
        // 1 + 2^-11 lies halfway between 1 and the next half-precision number; it rounds to even (1).
        let a = NPYArray(float16: [1 + 0x1p-11, 1 + 0x1p-10 + 0x1p-11], shape: [2])
        XCTAssertEqual(a.floats(), [1, 1 + 0x1p-9])
    }

    func testNumPyReadsWhatSwiftWrites() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try NPYArray(float32: [1, 2, 3, 4, 5, 6], shape: [2, 3]).write(to: dir.appendingPathComponent("a.npy"))
        try NPYArray(int32: [7, -8], shape: [2]).write(to: dir.appendingPathComponent("b.npy"))
        let script = """
        import numpy as np, sys
        a = np.load(sys.argv[1] + '/a.npy'); b = np.load(sys.argv[1] + '/b.npy')
        assert a.dtype == np.float32 and a.shape == (2, 3) and a.tolist() == [[1,2,3],[4,5,6]], a
        assert b.dtype == np.int32 and b.tolist() == [7, -8], b
        np.save(sys.argv[1] + '/c.npy', np.arange(6, dtype='<f2').reshape(3, 2) / 4)
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, dir.path]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let c = try NPYArray.read(contentsOf: dir.appendingPathComponent("c.npy"))
        XCTAssertEqual(c.dtype, .float16)
        XCTAssertEqual(c.shape, [3, 2])
        XCTAssertEqual(c.floats(), [0, 0.25, 0.5, 0.75, 1, 1.25])
    }

    func testRejectsMalformedArrays() {
        var bytes = NPYArray(int32: [1, 2, 3], shape: [3]).encoded()
        bytes.removeLast()
        XCTAssertThrowsError(try NPYArray.decode(bytes)) { error in
            XCTAssertTrue("\(error)".contains("payload has 11 bytes"), "\(error)")
        }
        XCTAssertThrowsError(try NPYArray.decode(Array("not numpy".utf8)))
        XCTAssertThrowsError(try NPYArray(float32: [1.5], shape: [1]).int32s())
        XCTAssertThrowsError(try NPYArray(int64: [Int64(Int32.max) + 1], shape: [1]).int32s())
    }
}
