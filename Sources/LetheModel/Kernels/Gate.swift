import Foundation

// The SiLU gate of the mixer output. Shapes: y, out (M, DI); z (M, DI) with row stride `zStride` (the z half
// of in_proj's output).

/// PyTorch (mamba_selective_scan): `scan_output = scan_output * F.silu(z)`
public func gateForward(out: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>, z: UnsafePointer<Float>,
                        zStride: Int, rows: Int, channels: Int) {
    LetheThreads.parallelFor(rows, chunksPerWorker: 4) { range in
        for m in range {
            forEachGroupOf8(channels) { i, lanes in
                let zz = loadLanes(z + m * zStride + i, lanes)
                storeLanes(loadLanes(y + m * channels + i, lanes) * silu(zz), out + m * channels + i, lanes)
            }
        }
    }
}

/// Naive reference of `gateForward`.
public func gateForwardReference(out: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>, z: UnsafePointer<Float>,
                                 zStride: Int, rows: Int, channels: Int) {
    for m in 0..<rows {
        for d in 0..<channels {
            let zz = Double(z[m * zStride + d])
            out[m * channels + d] = Float(Double(y[m * channels + d]) * zz / (1 + exp(-zz)))
        }
    }
}

/// Backward of `gateForward` (out = y · silu(z)): dY = dOut · silu(z) (written), dZ = dOut · y · silu'(z)
/// (written, row stride `dzStride`: the z half of in_proj's output gradient).
public func gateBackward(dY: UnsafeMutablePointer<Float>, dZ: UnsafeMutablePointer<Float>, dzStride: Int,
                         dOut: UnsafePointer<Float>, y: UnsafePointer<Float>, z: UnsafePointer<Float>,
                         zStride: Int, rows: Int, channels: Int) {
    LetheThreads.parallelFor(rows, chunksPerWorker: 4) { range in
        for m in range {
            forEachGroupOf8(channels) { i, lanes in
                let zz = loadLanes(z + m * zStride + i, lanes), g = loadLanes(dOut + m * channels + i, lanes)
                let s = 1 / (1 + fastExp(-zz))
                storeLanes(g * zz * s, dY + m * channels + i, lanes)
                storeLanes(g * loadLanes(y + m * channels + i, lanes) * s * (1 + zz * (1 - s)),
                           dZ + m * dzStride + i, lanes)
            }
        }
    }
}

/// Naive reference of `gateBackward`.
public func gateBackwardReference(dY: UnsafeMutablePointer<Float>, dZ: UnsafeMutablePointer<Float>, dzStride: Int,
                                  dOut: UnsafePointer<Float>, y: UnsafePointer<Float>, z: UnsafePointer<Float>,
                                  zStride: Int, rows: Int, channels: Int) {
    for m in 0..<rows {
        for d in 0..<channels {
            let zz = Double(z[m * zStride + d]), s = 1 / (1 + exp(-zz)), g = Double(dOut[m * channels + d])
            dY[m * channels + d] = Float(g * zz * s)
            dZ[m * dzStride + d] = Float(g * Double(y[m * channels + d]) * s * (1 + zz * (1 - s)))
        }
    }
}
