import Foundation
import LetheModel

/// Random weights for a model trained from scratch (`--init` a folder holding only config.json), distributed as
/// transformers' MambaPreTrainedModel._init_weights draws them (with its default rescale_prenorm_residual=False;
/// Mamba-2's as Mamba2PreTrainedModel's, in `randomize`):
///   embeddings, in_proj, x_proj         normal(0, initializer_range)
///   dt_proj.weight                      uniform(±time_step_rank^-0.5 · time_step_scale), or that constant
///   dt_proj.bias                        softplus⁻¹(dt), dt = exp(uniform(log time_step_min, log time_step_max)) ≥ floor
///   conv1d.weight, out_proj.weight      kaiming_uniform(a=√5): uniform(±1/√fan_in)
///   conv1d.bias 0, A_log = log(1…N), D = 1, norm weights 1
/// The draws come from `Xoshiro256(seed)`, so a seed gives the same weights everywhere (not torch's numbers).
public struct MambaInitialization: Equatable, Sendable {
    public var initializerRange = 0.1
    public var timeStepScale = 1.0
    public var timeStepMin = 0.001
    public var timeStepMax = 0.1
    public var timeStepFloor = 1e-4
    /// time_step_init_scheme "constant" instead of "random".
    public var constantTimeStep = false

    public init() {}

    /// The initialisation settings of a Hugging Face config.json (transformers' defaults where absent).
    public init(configJSON url: URL) throws {
        let json = try MambaConfig.jsonObject(contentsOf: url)
        func number(_ key: String, _ fallback: Double) throws -> Double {
            guard let value = json[key] else { return fallback }
            guard let n = value as? NSNumber else { throw TrainingError("\(url.path): '\(key)' must be a number") }
            return n.doubleValue
        }
        initializerRange = try number("initializer_range", initializerRange)
        timeStepScale = try number("time_step_scale", timeStepScale)
        timeStepMin = try number("time_step_min", timeStepMin)
        timeStepMax = try number("time_step_max", timeStepMax)
        timeStepFloor = try number("time_step_floor", timeStepFloor)
        switch json["time_step_init_scheme"] as? String ?? "random" {
        case "random": constantTimeStep = false
        case "constant": constantTimeStep = true
        case let other: throw TrainingError("\(url.path): time_step_init_scheme '\(other)' is neither 'random' nor 'constant'")
        }
        guard timeStepMin > 0, timeStepMax >= timeStepMin else {
            throw TrainingError("\(url.path): time_step_min and time_step_max must satisfy 0 < min <= max")
        }
    }

    /// Overwrites every parameter of `model`.
    public func randomize(_ model: MambaModel, seed: UInt64) {
        var rng = Xoshiro256(seed: seed)
        let c = model.config, w = model.weights
        let (h, di, n, k, r) = (c.hiddenSize, c.intermediateSize, c.stateSize, c.convKernel, c.timeStepRank)
        func fill(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ draw: (inout Xoshiro256) -> Double) {
            for i in 0..<count { p[i] = Float(draw(&rng)) }
        }
        func uniform(_ bound: Double) -> (inout Xoshiro256) -> Double {
            { bound * (2 * Double($0.nextUnitFloat()) - 1) }
        }
        let normal: (inout Xoshiro256) -> Double = { [initializerRange] in initializerRange * $0.nextGaussian() }
        fill(w.embeddings, c.vocabSize * h, normal)
        let dtBias: (inout Xoshiro256) -> Double = { [timeStepMin, timeStepMax, timeStepFloor] rng in
            let dt = max(timeStepFloor, exp(Double(rng.nextUnitFloat()) * (log(timeStepMax) - log(timeStepMin))
                                            + log(timeStepMin)))
            return dt + log(-expm1(-dt))  // inverse of softplus
        }
        if let heads = c.mamba2?.heads {
            // Mamba2PreTrainedModel._init_weights: Linear and embedding normal(0, initializer_range), then
            // init_mamba2_weights (A_log = log(1…H), D = 1, dt_bias as Mamba-1's), conv1d and out_proj
            // kaiming_uniform(a=√5), conv bias 0, norm weights 1.
            for layer in w.layers {
                fill(layer.norm, h) { _ in 1 }
                fill(layer.inProj, c.inProjSize * h, normal)
                fill(layer.convWeight, c.convChannels * k, uniform(1 / Double(k).squareRoot()))
                fill(layer.convBias, c.convChannels) { _ in 0 }
                fill(layer.dtProjBias, heads, dtBias)
                for head in 0..<heads { layer.aLog[head] = Float(log(Double(head + 1))) }
                fill(layer.d, heads) { _ in 1 }
                fill(layer.gatedNorm, di) { _ in 1 }
                fill(layer.outProj, h * di, uniform(1 / Double(di).squareRoot()))
            }
            fill(w.normF, h) { _ in 1 }
            if !model.layout.lmHeadIsTied { fill(w.lmHead, c.vocabSize * h, normal) }
            return
        }
        for layer in w.layers {
            fill(layer.norm, h) { _ in 1 }
            fill(layer.inProj, 2 * di * h, normal)
            fill(layer.convWeight, di * k, uniform(1 / Double(k).squareRoot()))
            fill(layer.convBias, di) { _ in 0 }
            fill(layer.xProj, (r + 2 * n) * di, normal)
            let dtStd = pow(Double(r), -0.5) * timeStepScale
            fill(layer.dtProjWeight, di * r, constantTimeStep ? { _ in dtStd } : uniform(dtStd))
            fill(layer.dtProjBias, di, dtBias)
            for d in 0..<di { for j in 0..<n { layer.aLog[d * n + j] = Float(log(Double(j + 1))) } }
            fill(layer.d, di) { _ in 1 }
            fill(layer.outProj, h * di, uniform(1 / Double(di).squareRoot()))
        }
        fill(w.normF, h) { _ in 1 }
        if !model.layout.lmHeadIsTied { fill(w.lmHead, c.vocabSize * h, normal) }
    }
}

extension Xoshiro256 {
    /// A standard normal draw (Box-Muller on two 24-bit uniforms).
    public mutating func nextGaussian() -> Double {
        let u1 = (Double(nextUnitFloat()) + 0x1p-25), u2 = Double(nextUnitFloat())
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

extension MambaModel {
    /// The checkpoint in `folder` (see `MambaModel.load`), or, when the folder holds only config.json, a model of
    /// that config with random weights drawn as transformers initialises them from `seed`. `random` says which.
    public static func loadOrRandomize(from folder: URL, seed: UInt64) throws -> (model: MambaModel, random: Bool) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        guard !names.contains(where: { $0.hasSuffix(".safetensors") || $0.hasSuffix(".bin") || $0.hasSuffix(".index.json") }) else {
            return (try MambaModel.load(from: folder), false)
        }
        let config = folder.appendingPathComponent("config.json")
        let model = MambaModel(config: try MambaConfig.read(contentsOf: config))
        try MambaInitialization(configJSON: config).randomize(model, seed: seed)
        return (model, true)
    }
}
