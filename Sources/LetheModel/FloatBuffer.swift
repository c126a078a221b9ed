/// A 64-byte aligned, zero-initialised float allocation that lives as long as its owner (activations,
/// scratch): kernels take its `pointer`.
public final class FloatBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        self.count = count
        let capacity = max(1, count)
        pointer = UnsafeMutableRawPointer.allocate(byteCount: capacity * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: capacity)
        pointer.initialize(repeating: 0, count: capacity)
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
