import Foundation
import LetheModel

/// AdamW's hyperparameters, the learning-rate schedule and clipping.
public struct OptimizerSettings: Codable, Equatable, Sendable {
    public var learningRate: LearningRatePlan
    public var weightDecay: Double
    /// Clip the gradients to this global L2 norm (torch.nn.utils.clip_grad_norm_); nil: no clipping.
    public var clipNorm: Double?
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double

    public init(learningRate: LearningRatePlan, weightDecay: Double, clipNorm: Double?,
                beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.clipNorm = clipNorm
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }
}

/// One line of train_log.jsonl.
public struct StepRecord: Codable, Equatable, Sendable {
    /// Updates done, this one included (1 for the first).
    public var step: Int
    /// The batch's mean loss before this step's update.
    public var loss: Double
    /// The learning rate this update used.
    public var lr: Double
    /// The global gradient norm before clipping.
    public var gradNorm: Double
    /// Chunk tokens of the batch per second of this step (loss, gradients and update).
    public var tokensPerSecond: Double
    /// Which pass over the training chunks the batch belongs to (1 for the first); no chunk repeats within one.
    public var pass: Int?

    enum CodingKeys: String, CodingKey {
        case step, loss, lr, pass
        case gradNorm = "grad_norm"
        case tokensPerSecond = "tokens_per_s"
    }
}

/// A decoder, its gradients and its optimizer: `train(_:)` is one step of training.
public final class Trainer {
    public let backprop: Backprop
    public var optimizer: AdamW
    public let settings: OptimizerSettings

    public var model: MambaModel { backprop.model }
    /// Updates done so far.
    public var step: Int { optimizer.step }

    public init(model: MambaModel, objective: TrainingObjective, settings: OptimizerSettings) {
        backprop = Backprop(model: model, objective: objective)
        self.settings = settings
        optimizer = AdamW(parameterCount: model.layout.count, decayed: model.layout.decayedRanges,
                          weightDecay: settings.weightDecay, beta1: settings.beta1, beta2: settings.beta2,
                          epsilon: settings.epsilon)
    }

    /// Loss and gradients of `batch`, clipping, then one AdamW update with the schedule's learning rate.
    /// A loss or gradient that is not finite stops training before it reaches the weights.
    public func train(_ batch: TrainingBatch) throws -> StepRecord {
        let start = DispatchTime.now().uptimeNanoseconds
        let loss = try backprop.lossAndGradients(batch)
        let gradients = backprop.gradients
        let norm = globalGradientNorm(gradients.pointer, count: gradients.count)
        guard loss.isFinite, norm.isFinite else {
            throw TrainingError("step \(step + 1): the loss (\(loss)) or the gradient norm (\(norm)) is not finite; the weights were not updated")
        }
        let scale = settings.clipNorm.map { clipCoefficient(norm: norm, maxNorm: $0) } ?? 1
        let lr = settings.learningRate.rate(atStep: optimizer.step)
        optimizer.update(parameters: model.parameters.pointer, gradients: gradients.pointer, gradientScale: scale,
                         learningRate: lr, clearingGradients: true)
        backprop.gradientsAreZero = true
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return StepRecord(step: optimizer.step, loss: loss, lr: lr, gradNorm: norm,
                          tokensPerSecond: Double(batch.tokens.count) / max(seconds, 1e-9))
    }
}
