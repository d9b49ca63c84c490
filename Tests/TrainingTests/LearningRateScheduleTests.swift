import Foundation
import Testing
import Training

/// The schedules against transformers 5.x, driven as in training (`optimizer.step()` then
/// `scheduler.step()`, reading `param_groups[0]["lr"]` before each step), base lr 0.5:
///
///     get_linear_schedule_with_warmup(opt, 3, 10) / get_cosine_schedule_with_warmup(opt, 3, 10) /
///     get_constant_schedule_with_warmup(opt, 3), steps 0...11; and W = 0, N = 7, steps 0...7.
@Suite struct LearningRateScheduleTests {
  static let linear: [Double] = [
    0.0, 0.16666666666666666, 0.3333333333333333, 0.5, 0.42857142857142855, 0.35714285714285715,
    0.2857142857142857, 0.21428571428571427, 0.14285714285714285, 0.07142857142857142, 0.0, 0.0,
  ]
  static let cosine: [Double] = [
    0.0, 0.16666666666666666, 0.3333333333333333, 0.5, 0.47524221697560476, 0.4058724504646834,
    0.3056302334890786, 0.19436976651092142, 0.09412754953531663, 0.02475778302439524, 0.0, 0.024757783024395214,
  ]
  static let constant: [Double] = [0.0, 0.16666666666666666, 0.3333333333333333] + [Double](repeating: 0.5, count: 9)
  static let linearNoWarmup: [Double] = [
    0.5, 0.42857142857142855, 0.35714285714285715, 0.2857142857142857, 0.21428571428571427,
    0.14285714285714285, 0.07142857142857142, 0.0,
  ]
  static let cosineNoWarmup: [Double] = [
    0.5, 0.47524221697560476, 0.4058724504646834, 0.3056302334890786, 0.19436976651092142,
    0.09412754953531663, 0.02475778302439524, 0.0,
  ]

  @Test(arguments: [
    (LearningRateSchedule.linear, 3, 10, linear), (.cosine, 3, 10, cosine), (.constant, 3, 10, constant),
    (.linear, 0, 7, linearNoWarmup), (.cosine, 0, 7, cosineNoWarmup),
  ])
  func matchesTransformers(schedule: LearningRateSchedule, warmup: Int, total: Int, expected: [Double]) {
    for (step, lr) in expected.enumerated() {
      let factor = schedule.factor(step: step, totalSteps: total, warmupSteps: warmup)
      #expect(abs(0.5 * factor - lr) <= 1e-15, "\(schedule) step \(step)")
      #expect(schedule.learningRate(step: step, totalSteps: total, base: 0.5, warmupSteps: warmup) == Float(lr))
    }
  }

  /// P2P's recipe: lr 2e-4, linear decay, no warm-up: full lr at the first step, base/N at the last.
  @Test func p2pRecipe() {
    let n = 100
    #expect(LearningRateSchedule.linear.learningRate(step: 0, totalSteps: n, base: 2e-4, warmupSteps: 0) == 2e-4)
    #expect(LearningRateSchedule.linear.learningRate(step: n - 1, totalSteps: n, base: 2e-4, warmupSteps: 0) == Float(Double(Float(2e-4)) / 100))
    #expect(LearningRateSchedule.constant.learningRate(step: 57, totalSteps: n, base: 2e-4, warmupSteps: 0) == 2e-4)
  }

  @Test func warmupRatioAndCoding() throws {
    #expect(try LearningRateSchedule.warmupSteps(ratio: 0.1, totalSteps: 95) == 10)  // ceil(9.5)
    #expect(try LearningRateSchedule.warmupSteps(ratio: 0, totalSteps: 95) == 0)
    #expect(thrownTrainingError { try LearningRateSchedule.warmupSteps(ratio: 1.5, totalSteps: 10) }
      == .invalidValue(key: "warmupRatio", value: "1.5", expected: "in [0, 1]"))
    let json = try JSONEncoder().encode([LearningRateSchedule.cosine])
    #expect(String(decoding: json, as: UTF8.self) == #"["cosine"]"#)
    #expect(try JSONDecoder().decode([LearningRateSchedule].self, from: json) == [.cosine])
  }
}
