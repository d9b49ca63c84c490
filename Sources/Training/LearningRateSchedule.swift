import Foundation

/// The learning-rate schedules of Hugging Face transformers (`transformers.optimization`), with
/// a linear warm-up from 0:
///
/// - `constant`: `get_constant_schedule_with_warmup`, λ(s) = s / max(1, W) for s < W, then 1;
/// - `linear`: `get_linear_schedule_with_warmup`, then max(0, (N − s) / max(1, N − W));
/// - `cosine`: `get_cosine_schedule_with_warmup` (half a cycle), then
///   max(0, ½(1 + cos(π · p))) with p = (s − W) / max(1, N − W).
///
/// PyTorch's `LambdaLR` makes the learning rate of the optimizer step `s` (0-based: the first
/// step is 0) equal to `base · λ(s)` when the loop is `optimizer.step(); scheduler.step()`. So with
/// warm-up the first step runs at learning rate 0, exactly as in transformers' `Trainer`.
/// The factor is computed in Double, like Python, and rounded to Float once.
public enum LearningRateSchedule: String, Codable, Sendable, CaseIterable, Equatable {
  case constant
  case linear
  case cosine

  /// The learning rate for the optimizer step `step` (0-based) of a run of `totalSteps` steps
  /// whose first `warmupSteps` steps warm up linearly from 0 to `base`.
  public func learningRate(step: Int, totalSteps: Int, base: Float, warmupSteps: Int) -> Float {
    Float(Double(base) * factor(step: step, totalSteps: totalSteps, warmupSteps: warmupSteps))
  }

  /// The multiplier λ(step) of the base learning rate (the `lr_lambda` of transformers).
  public func factor(step: Int, totalSteps: Int, warmupSteps: Int) -> Double {
    let s = Double(step), n = Double(totalSteps), w = Double(warmupSteps)
    if step < warmupSteps { return s / max(1, w) }
    switch self {
    case .constant:
      return 1
    case .linear:
      return max(0, (n - s) / max(1, n - w))
    case .cosine:
      let progress = (s - w) / max(1, n - w)
      // num_cycles = 0.5: cos(π · 2 · 0.5 · progress)
      return max(0, 0.5 * (1 + cos(Double.pi * 2 * 0.5 * progress)))
    }
  }

  /// Warm-up steps from a ratio of the whole run, as transformers' `TrainingArguments`
  /// (`warmup_ratio`) computes them: ⌈totalSteps · ratio⌉. Throws `invalidValue` for a ratio
  /// outside [0, 1].
  public static func warmupSteps(ratio: Double, totalSteps: Int) throws(TrainingError) -> Int {
    guard ratio >= 0, ratio <= 1 else {
      throw .invalidValue(key: "warmupRatio", value: "\(ratio)", expected: "in [0, 1]")
    }
    return Int((Double(totalSteps) * ratio).rounded(.up))
  }
}
