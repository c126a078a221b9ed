import Foundation

/// Where every tensor of a Mamba model lives in ONE contiguous float32 buffer (llm.c's layout): a gradient
/// buffer or AdamW moment of the same layout is a buffer of `count` floats, and "for every parameter" is one
/// loop over it.
///
/// Order: embeddings, then each layer's tensors, then norm_f, then lm_head only when it is not tied. With
/// tied embeddings the lm_head IS the embedding block: `lmHead == embeddings`, so a backward pass that
/// accumulates the lm_head gradient into `lmHead` and the embedding gradient into `embeddings` sums both
/// into the one tensor, as PyTorch does for tied weights.
public struct ParameterLayout: Equatable, Sendable {
    /// One tensor: its Hugging Face name, shape (PyTorch's) and offset in floats.
    public struct Entry: Equatable, Sendable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    /// Offsets (in floats) of one layer's tensors; shapes as in transformers (Mamba-2's where they differ: its
    /// conv has C = DI + 2·G·N channels, its A_log, D and dt_bias one value per head; it has no x_proj and
    /// dt_proj.weight, whose offsets then name an empty tensor, and a gated norm that Mamba-1 has not).
    public struct Layer: Equatable, Sendable {
        public let norm: Int  // backbone.layers.{i}.norm.weight             (H)
        public let inProj: Int  // mixer.in_proj.weight                     (2*DI, H)     Mamba-2 (DI + C + heads, H)
        public let convWeight: Int  // mixer.conv1d.weight                  (DI, 1, K)    Mamba-2 (C, 1, K)
        public let convBias: Int  // mixer.conv1d.bias                      (DI)          Mamba-2 (C)
        public let xProj: Int  // mixer.x_proj.weight                       (R + 2N, DI)  Mamba-2 none
        public let dtProjWeight: Int  // mixer.dt_proj.weight               (DI, R)       Mamba-2 none
        public let dtProjBias: Int  // mixer.dt_proj.bias                   (DI)          Mamba-2 mixer.dt_bias (heads)
        public let aLog: Int  // mixer.A_log                                (DI, N)       Mamba-2 (heads)
        public let d: Int  // mixer.D                                       (DI)          Mamba-2 (heads)
        public let gatedNorm: Int  // Mamba-2 mixer.norm.weight             Mamba-1 none  Mamba-2 (DI)
        public let outProj: Int  // mixer.out_proj.weight                   (H, DI)
    }

    public let config: MambaConfig
    /// Every stored tensor in buffer order (no lm_head entry when it is tied).
    public let entries: [Entry]
    public let embeddings: Int  // backbone.embeddings.weight  (V, H)
    public let layers: [Layer]
    public let normF: Int  // backbone.norm_f.weight  (H)
    /// lm_head.weight (V, H); equal to `embeddings` when tied.
    public let lmHead: Int
    public var lmHeadIsTied: Bool { config.tieWordEmbeddings }
    /// Total floats of the buffer.
    public let count: Int

    public static let lmHeadName = "lm_head.weight"

    public init(config: MambaConfig) {
        self.config = config
        let (h, di, n, k, r, v) = (config.hiddenSize, config.intermediateSize, config.stateSize,
                                   config.convKernel, config.timeStepRank, config.vocabSize)
        var entries: [Entry] = []
        func add(_ name: String, _ shape: [Int]) -> Int {
            let offset = entries.last.map { $0.offset + $0.count } ?? 0
            entries.append(Entry(name: name, shape: shape, offset: offset))
            return offset
        }
        embeddings = add("backbone.embeddings.weight", [v, h])
        /// Where the next tensor would start: an absent tensor's (empty) place.
        func none() -> Int { entries.last.map { $0.offset + $0.count } ?? 0 }
        let (c, inProjSize) = (config.convChannels, config.inProjSize)
        layers = (0..<config.numLayers).map { i in
            let p = "backbone.layers.\(i)."
            if let heads = config.mamba2?.heads {
                let norm = add(p + "norm.weight", [h]), dtBias = add(p + "mixer.dt_bias", [heads])
                let aLog = add(p + "mixer.A_log", [heads]), d = add(p + "mixer.D", [heads])
                let convWeight = add(p + "mixer.conv1d.weight", [c, 1, k]), convBias = add(p + "mixer.conv1d.bias", [c])
                let inProj = add(p + "mixer.in_proj.weight", [inProjSize, h])
                let gatedNorm = add(p + "mixer.norm.weight", [di])
                return Layer(norm: norm, inProj: inProj, convWeight: convWeight, convBias: convBias, xProj: none(),
                             dtProjWeight: none(), dtProjBias: dtBias, aLog: aLog, d: d, gatedNorm: gatedNorm,
                             outProj: add(p + "mixer.out_proj.weight", [h, di]))
            }
            return Layer(
                norm: add(p + "norm.weight", [h]),
                inProj: add(p + "mixer.in_proj.weight", [2 * di, h]),
                convWeight: add(p + "mixer.conv1d.weight", [di, 1, k]),
                convBias: add(p + "mixer.conv1d.bias", [di]),
                xProj: add(p + "mixer.x_proj.weight", [r + 2 * n, di]),
                dtProjWeight: add(p + "mixer.dt_proj.weight", [di, r]),
                dtProjBias: add(p + "mixer.dt_proj.bias", [di]),
                aLog: add(p + "mixer.A_log", [di, n]),
                d: add(p + "mixer.D", [di]),
                gatedNorm: none(),
                outProj: add(p + "mixer.out_proj.weight", [h, di]))
        }
        normF = add("backbone.norm_f.weight", [h])
        lmHead = config.tieWordEmbeddings ? embeddings : add(ParameterLayout.lmHeadName, [v, h])
        self.entries = entries
        count = entries.last.map { $0.offset + $0.count } ?? 0
    }

    /// The entry of a Hugging Face tensor name.
    public func entry(named name: String) -> Entry? {
        entries.first { $0.name == name }
    }
}

/// A 64-byte aligned, zero-initialised float buffer of a layout's size: parameters, gradients or AdamW
/// moments. Reference type: the model, its weights view and a trainer share one allocation.
public final class ParameterBuffer: @unchecked Sendable {
    public let layout: ParameterLayout
    public let pointer: UnsafeMutablePointer<Float>
    public var count: Int { layout.count }

    public init(layout: ParameterLayout) {
        self.layout = layout
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, layout.count) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(1, layout.count))
        pointer.initialize(repeating: 0, count: max(1, layout.count))
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }

    /// The floats of one tensor.
    public func tensor(_ entry: ParameterLayout.Entry) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer + entry.offset, count: entry.count)
    }

    /// Typed pointers to every tensor of this buffer.
    public var weights: MambaWeights { MambaWeights(layout: layout, base: pointer) }
}

/// Pointers to the tensors of one buffer laid out by `ParameterLayout`. The forward pass reads the
/// parameters through it; a backward pass writes gradients through the same view of its gradient buffer.
public struct MambaWeights {
    public struct Layer {
        public let norm, inProj, convWeight, convBias, xProj, dtProjWeight, dtProjBias, aLog, d, gatedNorm, outProj:
            UnsafeMutablePointer<Float>
    }

    public let embeddings: UnsafeMutablePointer<Float>
    public let layers: [Layer]
    public let normF: UnsafeMutablePointer<Float>
    /// The lm_head, or the embeddings when tied.
    public let lmHead: UnsafeMutablePointer<Float>

    public init(layout: ParameterLayout, base: UnsafeMutablePointer<Float>) {
        embeddings = base + layout.embeddings
        layers = layout.layers.map { l in
            Layer(norm: base + l.norm, inProj: base + l.inProj, convWeight: base + l.convWeight,
                  convBias: base + l.convBias, xProj: base + l.xProj, dtProjWeight: base + l.dtProjWeight,
                  dtProjBias: base + l.dtProjBias, aLog: base + l.aLog, d: base + l.d, gatedNorm: base + l.gatedNorm,
                  outProj: base + l.outProj)
        }
        normF = base + layout.normF
        lmHead = base + layout.lmHead
    }
}
