/// The intermediate tensors of one layer's forward pass over M = B·L tokens, sequence-major rows
/// (row m = b·L + t). A backward pass reads them; inference reuses one set for every layer.
public final class LayerActivations {
    public let normed: FloatBuffer  // (M, H)       RMSNorm(hidden) · norm.weight
    public let rstd: FloatBuffer  // (M)            1/sqrt(mean(hidden²) + eps)
    public let xz: FloatBuffer  // (M, 2·DI)        in_proj output: x = columns 0..<DI, gate z = DI..<2·DI
    public let convOut: FloatBuffer  // (M, DI)     conv1d(x), before SiLU
    public let u: FloatBuffer  // (M, DI)           SiLU(convOut): the scan input
    public let xProj: FloatBuffer  // (M, R + 2N)   x_proj(u): dt (low rank) | B | C
    public let dt: FloatBuffer  // (M, DI)          dt_proj.weight @ dt_low (bias and softplus are in the scan)
    public let y: FloatBuffer  // (M, DI)           scan output with the D skip, before the gate
    public let gated: FloatBuffer  // (M, DI)       y · SiLU(z): out_proj's input

    public init(config c: MambaConfig, tokens m: Int) {
        normed = FloatBuffer(count: m * c.hiddenSize)
        rstd = FloatBuffer(count: m)
        xz = FloatBuffer(count: m * 2 * c.intermediateSize)
        convOut = FloatBuffer(count: m * c.intermediateSize)
        u = FloatBuffer(count: m * c.intermediateSize)
        xProj = FloatBuffer(count: m * c.xProjSize)
        dt = FloatBuffer(count: m * c.intermediateSize)
        y = FloatBuffer(count: m * c.intermediateSize)
        gated = FloatBuffer(count: m * c.intermediateSize)
    }
}

/// Buffers for a forward pass over `batchSize` sequences of `length` tokens. With `keepEveryLayer` every
/// layer keeps its own `LayerActivations` and its input residual stream (what training needs); without,
/// one set is reused by all layers and the residual stream is updated in place (inference).
/// Reuse one instance across calls of the same shape to avoid reallocating.
public final class MambaActivations {
    public let config: MambaConfig
    public let batchSize: Int
    public let length: Int
    public let keepsEveryLayer: Bool
    /// The residual stream (M, H): `hidden[l]` enters layer l, `hidden[numLayers]` leaves the last one.
    /// Without `keepsEveryLayer` there is one buffer, updated in place.
    public let hidden: [FloatBuffer]
    public let layers: [LayerActivations]
    public let normF: FloatBuffer  // (M, H)   norm_f(hidden[numLayers]): lm_head's input
    public let normFRstd: FloatBuffer  // (M)

    public var tokens: Int { batchSize * length }

    public init(config: MambaConfig, batchSize: Int, length: Int, keepEveryLayer: Bool = false) {
        self.config = config
        self.batchSize = batchSize
        self.length = length
        keepsEveryLayer = keepEveryLayer
        let m = batchSize * length
        hidden = (0..<(keepEveryLayer ? config.numLayers + 1 : 1)).map { _ in FloatBuffer(count: m * config.hiddenSize) }
        layers = (0..<(keepEveryLayer ? config.numLayers : 1)).map { _ in LayerActivations(config: config, tokens: m) }
        normF = FloatBuffer(count: m * config.hiddenSize)
        normFRstd = FloatBuffer(count: m)
    }

    /// The residual stream entering layer `l` (l == numLayers: leaving the last layer).
    public func hidden(enteringLayer l: Int) -> FloatBuffer { keepsEveryLayer ? hidden[l] : hidden[0] }

    public func layer(_ l: Int) -> LayerActivations { keepsEveryLayer ? layers[l] : layers[0] }
}
