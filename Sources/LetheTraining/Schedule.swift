import Foundation

/// The learning-rate schedules of transformers' `get_scheduler`, each with a linear warmup from 0.
/// Step `k` (0-based: the k-th optimizer update) uses `base * factor(k)`, as `LambdaLR` does.
public enum LearningRateSchedule: String, Codable, Sendable, CaseIterable {
    /// get_constant_schedule_with_warmup
    case constant
    /// get_linear_schedule_with_warmup
    case linear
    /// get_cosine_schedule_with_warmup (num_cycles 0.5)
    case cosine
}

public struct LearningRatePlan: Codable, Equatable, Sendable {
    public var base: Double
    public var schedule: LearningRateSchedule
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(base: Double, schedule: LearningRateSchedule, warmupSteps: Int, totalSteps: Int) {
        self.base = base
        self.schedule = schedule
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The learning rate of update `step` (0-based).
    public func rate(atStep step: Int) -> Double {
        base * factor(atStep: step)
    }

    func factor(atStep step: Int) -> Double {
        // if current_step < num_warmup_steps: return float(current_step) / float(max(1, num_warmup_steps))
        if step < warmupSteps { return Double(step) / Double(max(1, warmupSteps)) }
        let decaySteps = Double(max(1, totalSteps - warmupSteps))
        switch schedule {
        case .constant:
            return 1
        case .linear:
            // max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))
            return max(0, Double(totalSteps - step) / decaySteps)
        case .cosine:
            // max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))
            let progress = Double(step - warmupSteps) / decaySteps
            return max(0, 0.5 * (1 + cos(Double.pi * 0.5 * 2 * progress)))
        }
    }
}
