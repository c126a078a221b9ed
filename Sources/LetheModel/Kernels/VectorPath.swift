import CLetheKernels

/// The implementations of the vectorised kernels (the selective scan, its one-token step and its backward, Mamba-2's
/// scan and its backward, the causal conv with its SiLU, the blocked lm_head's softmax, the gradient norm): the C
/// kernels of Sources/CLetheKernels with AVX-512F or AVX2+FMA, or the portable Swift SIMD ones. Tests and benchmarks
/// switch between them.
public enum VectorPath: String, Sendable, CaseIterable {
    case swiftSIMD, avx2, avx512

    /// Floats per vector: the channels of one work unit of the scan and its step (the conv's units span
    /// LETHE_CONV_UNIT_VECTORS vectors).
    var lanes: Int { self == .avx512 ? 16 : 8 }

    /// This path's build of a C kernel, given its AVX-512 and AVX2 builds (same signature); nil on the Swift SIMD
    /// path. A call site then writes the kernel's arguments once.
    func cKernel<Kernel>(avx512: Kernel, avx2: Kernel) -> Kernel? {
        switch self {
        case .avx512: return avx512
        case .avx2: return avx2
        case .swiftSIMD: return nil
        }
    }

    /// Whether this CPU runs it.
    public var isAvailable: Bool {
        switch self {
        case .swiftSIMD: return true
        case .avx2: return lethe_avx2_available() != 0
        case .avx512: return lethe_avx512_available() != 0
        }
    }
}

/// The widest kernels this CPU runs (AVX-512, AVX2+FMA, else the portable Swift ones). Set only while no kernel runs.
nonisolated(unsafe) public var vectorPath: VectorPath = VectorPath.allCases.reversed().first { $0.isAvailable }!
