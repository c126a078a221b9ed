import CBLAS
import CLetheKernels
import Foundation

/// The kernels OpenBLAS runs its matrix products with, which are most of the work of training (and of encoding and
/// decoding on CPUs without AVX2; elsewhere those multiply on packed weights, see PackedLinear.swift).
///
/// Debian's OpenBLAS is built for every x86-64 generation and picks kernels from the CPU's model number when it
/// loads. A CPU newer than the library, or a virtual machine that reports a generic model (the development
/// machine's "Intel(R) Xeon(R) Processor"), gets its fallback, Prescott (SSE3): sgemm at a quarter of the speed
/// of the AVX-512 kernels on the same core (30 against 117 GFLOPS measured there, 160 x 128 x 50,280, one
/// thread). The environment variable OPENBLAS_CORETYPE overrides the choice, but OpenBLAS reads it only when it
/// loads, before any Swift code runs; so a process that finds OpenBLAS on the fallback sets it and starts itself
/// again (`execv` keeps its process id and arguments).
public enum BLASCore {
    /// The core type whose kernels OpenBLAS is using, e.g. "Prescott" or "SkylakeX".
    public static var current: String { String(cString: openblas_get_corename()) }

    /// The best core type this CPU runs, by its instruction sets: SkylakeX, Haswell, or nil.
    public static var bestForThisCPU: String? { lethe_blas_core_for_cpu().map { String(cString: $0) } }

    /// Restarts this process with OPENBLAS_CORETYPE set to `bestForThisCPU` when OpenBLAS fell back to Prescott on a
    /// CPU that runs better kernels. A user's own OPENBLAS_CORETYPE is kept (OPENBLAS_CORETYPE=Prescott reproduces,
    /// to the bit, a run made on the fallback). Returns when there is nothing to do, or when the restart fails (the
    /// process then goes on, slower, with the same results to float32 rounding).
    public static func useTheCPUsKernels() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, current.lowercased() == "prescott",
              let best = bestForThisCPU else { return }
        setenv("OPENBLAS_CORETYPE", best, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }
}
