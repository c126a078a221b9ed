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
