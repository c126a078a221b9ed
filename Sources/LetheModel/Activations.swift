/// The intermediate tensors of one layer's forward pass over M = B·L tokens, sequence-major rows
/// (row m = b·L + t). A backward pass reads them; inference reuses one set for every layer. Mamba-2's in
/// brackets where they differ (C = DI + 2·G·N conv channels, H heads). * Written only when a backward pass will read
/// them: by a forward pass keeping every layer (retention `everything`) or by `recomputeLayer` (Mamba-2's y, which
/// its gate reads, always).
public final class LayerActivations {
    public let normed: FloatBuffer  // (M, H)       RMSNorm(hidden) · norm.weight
    public let rstd: FloatBuffer  // (M)            1/sqrt(mean(hidden²) + eps)
    public let xz: FloatBuffer  // (M, 2·DI)        in_proj output: x = columns 0..<DI, gate z = DI..<2·DI
                                //                  [(M, DI + C + H): z | xBC | dt]
    public let convOut: FloatBuffer  // (M, DI)     conv1d(x), before SiLU [(M, C): conv1d(xBC)]; backward only *
    public let u: FloatBuffer  // (M, DI)           SiLU(convOut): the scan input [(M, C): x | B | C]
    public let xProj: FloatBuffer  // (M, R + 2N)   x_proj(u): dt (low rank) | B | C [none]
    /// (M, R + 2N) what dt_proj and the scan read: `xProj` itself for Mamba-1 (the same buffer); for Falcon-Mamba
    /// its three parts each RMS-normalised, their 1/rms in `mixerRstd` (3, M: dt's rows, B's, C's).
    public let ssmParameters: FloatBuffer
    public let mixerRstd: FloatBuffer
    public let dt: FloatBuffer  // (M, DI)          dt_proj.weight @ dt_low (bias and softplus are in the scan) [none]
    public let y: FloatBuffer  // (M, DI)           scan output with the D skip, before the gate; backward only *
    public let gated: FloatBuffer  // (M, DI)       y · SiLU(z): out_proj's input [the gated norm's input]
    /// Mamba-2: (M, DI) the gated norm's output, out_proj's input, and (G, M) its 1/rms per group; else empty.
    public let gatedNormed: FloatBuffer
    public let gatedRstd: FloatBuffer

    public init(config c: MambaConfig, tokens m: Int) {
        let (di, mamba2) = (c.intermediateSize, c.isMamba2)
        normed = FloatBuffer(count: m * c.hiddenSize)
        rstd = FloatBuffer(count: m)
        xz = FloatBuffer(count: m * c.inProjSize)
        convOut = FloatBuffer(count: m * c.convChannels)
        u = FloatBuffer(count: m * c.convChannels)
        xProj = FloatBuffer(count: mamba2 ? 0 : m * c.xProjSize)
        ssmParameters = c.isFalconMamba ? FloatBuffer(count: m * c.xProjSize) : xProj
        mixerRstd = FloatBuffer(count: c.isFalconMamba ? 3 * m : 0)
        dt = FloatBuffer(count: mamba2 ? 0 : m * di)
        y = FloatBuffer(count: m * di)
        gated = FloatBuffer(count: m * di)
        gatedNormed = FloatBuffer(count: mamba2 ? m * di : 0)
        gatedRstd = FloatBuffer(count: (c.mamba2?.groups ?? 0) * m)
    }

    /// Floats of the buffers above for `m` tokens (what `init` allocates).
    static func floats(_ c: MambaConfig, tokens m: Int) -> Int {
        let (di, mamba2) = (c.intermediateSize, c.isMamba2)
        // normed, rstd, xz, convOut and u, xProj, Falcon-Mamba's ssmParameters and mixerRstd, dt, y, gated,
        // Mamba-2's gatedNormed and gatedRstd
        return m * (c.hiddenSize + 1 + c.inProjSize + 2 * c.convChannels + (mamba2 ? 0 : c.xProjSize)
            + (c.isFalconMamba ? c.xProjSize + 3 : 0) + (mamba2 ? 0 : di) + 2 * di
            + (mamba2 ? di + c.mamba2!.groups : 0))
    }
}

/// Buffers for forward passes of up to `tokenCapacity` tokens (B·L), the one activation layout of encoding,
/// decoding and training; `batchSize` and `length` are the shape of the last pass. What is kept:
/// - `none` (inference): one residual buffer updated in place and one set of `LayerActivations` for all layers;
/// - `residualStream` (training that recomputes): every block's input kept, one set of `LayerActivations` that
///   the backward pass refills block by block (`MambaModel.recomputeLayer`);
/// - `everything` (training): every block's input and its own `LayerActivations`.
/// Reuse one instance across calls to avoid reallocating.
public final class MambaActivations {
    public enum Retention: Sendable { case none, residualStream, everything }

    public let config: MambaConfig
    public let tokenCapacity: Int
    public let retention: Retention
    public internal(set) var batchSize: Int
    public internal(set) var length: Int
    /// The residual stream (M, H): `hidden[l]` enters layer l, `hidden[numLayers]` leaves the last one. With
    /// `none` there is one buffer, updated in place.
    public let hidden: [FloatBuffer]
    public let layers: [LayerActivations]
    public let normF: FloatBuffer  // (M, H)   norm_f(hidden[numLayers]): lm_head's input
    public let normFRstd: FloatBuffer  // (M)

    public var tokens: Int { batchSize * length }
    public var keepsEveryLayer: Bool { retention == .everything }
    /// A pass that keeps tensors for a backward pass is training's, whose backward products are split among the
    /// workers: its forward products are too. Encoding and decoding keep nothing and split by shape alone.
    public var productSplit: ProductSplit { retention == .none ? .byShape : .byWorkers }

    public init(config: MambaConfig, tokenCapacity m: Int, retention: Retention) {
        self.config = config
        tokenCapacity = m
        self.retention = retention
        batchSize = 0
        length = 0
        hidden = (0..<(retention == .none ? 1 : config.numLayers + 1)).map { _ in FloatBuffer(count: m * config.hiddenSize) }
        layers = (0..<(retention == .everything ? config.numLayers : 1)).map { _ in LayerActivations(config: config, tokens: m) }
        normF = FloatBuffer(count: m * config.hiddenSize)
        normFRstd = FloatBuffer(count: m)
    }

    /// For passes of `batchSize` sequences of `length` tokens; `keepEveryLayer`: retention `everything`, else `none`.
    public convenience init(config: MambaConfig, batchSize: Int, length: Int, keepEveryLayer: Bool = false) {
        self.init(config: config, tokenCapacity: batchSize * length, retention: keepEveryLayer ? .everything : .none)
        self.batchSize = batchSize
        self.length = length
    }

    /// The residual stream entering layer `l` (l == numLayers: leaving the last layer).
    public func hidden(enteringLayer l: Int) -> FloatBuffer { hidden.count > 1 ? hidden[l] : hidden[0] }

    public func layer(_ l: Int) -> LayerActivations { layers.count > 1 ? layers[l] : layers[0] }

    /// Bytes of one block's `LayerActivations` over `tokens` tokens.
    public static func bytesPerLayer(_ c: MambaConfig, tokens m: Int) -> Int { 4 * LayerActivations.floats(c, tokens: m) }
}
