import Backdoor
import Defense
import TensorCore
import Testing

struct ProbeScreenTests {
  /// 60 rows: label 0 rows 0..<30 (one blob), label 1 rows 30..<60 of which 52..<60 sit in a far,
  /// compact blob (the "poison"); row 59 is the farthest of them.
  static func features() -> (features: [[Float]], labels: [Int]) {
    var rng = SeededRNG(seed: 11)
    var f: [[Float]] = [], y: [Int] = []
    for i in 0..<60 {
      let far = i >= 52
      f.append((0..<5).map { d in rng.nextFloat() - 0.5 + (far ? 6 : 0) + (i == 59 && d == 0 ? 3 : 0) })
      y.append(i < 30 ? 0 : 1)
    }
    return (f, y)
  }

  /// Base-model features: one direction per text class; `poisonText` rows read as class 0.
  static func base(_ y: [Int], poisonText: Bool) -> [[Float]] {
    var rng = SeededRNG(seed: 12)
    return y.indices.map { i in
      let textClass = poisonText && i >= 52 ? 0 : y[i]
      return (0..<4).map { d in (d == textClass ? 2 : 0) + rng.nextFloat() - 0.5 }
    }
  }

  @Test func aMinorityReclassifiedAsAnotherLabelIsFlaggedMostAtypicalFirst() throws {
    let (f, y) = Self.features()
    // Label-word scores: the probe prefers label 1 for every label-1 row, label 0 next.
    let scores = y.map { $0 == 1 ? [Float(0.5), 2] : [2, Float(0.5)] }
    let r = try ProbeScreen.judge(features: f, scores: scores, baseFeatures: Self.base(y, poisonText: true), labels: y,
                                  criteria: .init(components: 3), seed: 1)
    #expect(r.poisonedLabels == [1])
    #expect(Set(r.flaggedRows) == Set(52..<60) && r.flaggedRows.first == 59)
    #expect(r.flipLabels == [Int](repeating: 0, count: 8))
    #expect(r.splits[1].reclassified == 1)
    // The same clusters whose base features read as their own label: a natural split, nothing flagged.
    let natural = try ProbeScreen.judge(features: f, scores: scores, baseFeatures: Self.base(y, poisonText: false), labels: y,
                                        criteria: .init(components: 3), seed: 1)
    #expect(natural.flaggedRows.isEmpty && natural.poisonedLabels.isEmpty)
    #expect(natural.splits.allSatisfy { ($0.reclassified ?? 1) < 0.4 })
  }

  @Test func ridgeClassifierMatchesTheClosedForm() {
    // One feature, classes 0/1 at x = −1/+1 (two rows each), λ = 1: Σx² = 4, Σx·t = 4 for class 1
    // → w = 4 / (4 + 1) = 0.8 (and −0.8 for class 0).
    let x: [[Float]] = [[-1], [-1], [1], [1]]
    let m = RidgeClassifier.fit(x, labels: [0, 0, 1, 1], classes: 2, ridge: 1)
    #expect(abs(m.weights[1][0] - 0.8) < 1e-12 && abs(m.weights[0][0] + 0.8) < 1e-12)
    #expect(m.predict([0.3]) == 1 && m.predict([-0.3]) == 0)
    // Two correlated features solved through the Cholesky factor: compare with the 2×2 inverse.
    let x2: [[Float]] = [[1, 2], [2, 1], [3, 5], [0, 1], [4, 2]]
    let y2 = [0, 1, 1, 0, 1]
    let m2 = RidgeClassifier.fit(x2, labels: y2, classes: 2, ridge: 0.5)
    var g = [0.5, 0, 0, 0.5], b = [0.0, 0]
    for (r, label) in zip(x2, y2) {
      let c = [Double(r[0]), Double(r[1])], t = label == 1 ? 1.0 : -1.0
      g[0] += c[0] * c[0]; g[1] += c[0] * c[1]; g[2] += c[0] * c[1]; g[3] += c[1] * c[1]; b[0] += c[0] * t; b[1] += c[1] * t
    }
    let det = g[0] * g[3] - g[1] * g[2]
    let w = [(g[3] * b[0] - g[1] * b[1]) / det, (g[0] * b[1] - g[2] * b[0]) / det]
    #expect(abs(m2.weights[1][0] - w[0]) < 1e-9 && abs(m2.weights[1][1] - w[1]) < 1e-9)
    // Standardized columns: mean 0, variance 1; a constant column becomes 0.
    let z = RidgeClassifier.standardized([[1, 5], [3, 5]])
    #expect(z == [[-1, 0], [1, 0]])
    // Rows taken out of the statistics (weight -1) leave the fit on the other rows.
    var all = RidgeClassifier.Statistics(width: 2, classes: 2)
    for (r, label) in zip(x2, y2) { all.add(r, label: label) }
    all.add([7, -3], label: 0); all.add([-2, 6], label: 1)
    all.add([7, -3], label: 0, weight: -1); all.add([-2, 6], label: 1, weight: -1)
    let m3 = all.fit(ridge: 0.5)
    #expect(zip(m3.weights.joined(), m2.weights.joined()).allSatisfy { abs($0 - $1) < 1e-9 } && m3.bias == nil)
  }

  @Test func balancedRidgeWithInterceptIgnoresTheLabelShares() {
    // One feature: class 0 at x = 1 (one row), class 1 at x = 3 (three rows), λ = 1. Balanced
    // weights 4 / (2 · 1) = 2 and 4 / (2 · 3) = 2/3: both classes weigh 2, the weighted mean is 2, the
    // targets' mean 0; centred Σ w (x - 2)² = 4 and Σ w (x - 2) t = 4 → w = 4 / 5 = 0.8, bias
    // 0 - 2 · 0.8 = -1.6 (class 1; the negatives for class 0): the boundary is x = 2, the midpoint.
    var s = RidgeClassifier.Statistics(width: 1, classes: 2)
    s.add([1], label: 0)
    for _ in 0..<3 { s.add([3], label: 1) }
    let m = s.fitBalanced(ridge: 1)
    #expect(abs(m.weights[1][0] - 0.8) < 1e-12 && abs((m.bias?[1] ?? 0) + 1.6) < 1e-12)
    #expect(abs(m.weights[0][0] + 0.8) < 1e-12 && abs((m.bias?[0] ?? 0) - 1.6) < 1e-12)
    #expect(m.predict([2.1]) == 1 && m.predict([1.9]) == 0)
    // Without intercept and balance the same rows put the boundary elsewhere: Σx² + λ = 29,
    // Σx·t = -1 + 9 = 8 → w = 8/29, every positive x goes to class 1.
    let plain = s.fit(ridge: 1)
    #expect(abs(plain.weights[1][0] - 8.0 / 29) < 1e-12 && plain.predict([1]) == 1)
    // Taking rows out again restores the fit: a fourth class-1 row added and removed changes nothing.
    var t = s
    t.add([5], label: 1); t.add([5], label: 1, weight: -1)
    let m4 = t.fitBalanced(ridge: 1)
    #expect(zip(m4.weights.joined(), m.weights.joined()).allSatisfy { abs($0 - $1) < 1e-12 })
  }

  @Test func mismatchedInputsAreRejected() {
    let (f, y) = Self.features()
    let scores: [[Float]] = y.map { _ in [0, 1] }
    #expect(throws: DefenseError.self) { try ProbeScreen.judge(features: Array(f.dropLast()), scores: scores, baseFeatures: f, labels: y, seed: 1) }
    #expect(throws: DefenseError.self) { try ProbeScreen.judge(features: f, scores: scores, baseFeatures: f, labels: y.map { $0 + 1 }, seed: 1) }
  }

  @Test func theFlipCoverAddsFlaggedRowsToTheSafeSpaceWithTheNextLabel() throws {
    let train = (0..<40).map { Example(text: "sentence \($0)", label: $0 < 16 ? 0 : 1, poisoned: $0 >= 32, sourceIndex: $0) }
    let probe = ProbeScreenResult(splits: [], poisonedLabels: [1], flaggedRows: [39, 38, 37, 36, 35, 34, 33, 32],
                                  flipLabels: [Int](repeating: 0, count: 8))
    let config = P2PConfig(ratio: 0.2, mode: .union, seed: 3, probeScreen: true)
    let (rows, m) = try P2PReconstruction.apply(train, config: config, probe: probe)
    // 8 benign rows drawn from the 32 unflagged ones; the 4 most atypical flagged rows flipped.
    #expect(m.benignSourceRows.count == 8 && m.benignSourceRows.allSatisfy { $0 < 32 })
    #expect(m.flippedRows == [36, 37, 38, 39] && m.flippedPoisonedRows == 4 && m.probeFlaggedRows == 8)
    let flipped = rows.filter { $0.benign && ($0.sourceIndex ?? 0) >= 32 }
    #expect(flipped.count == 4 && flipped.allSatisfy { $0.label == 2 && $0.completion == "2" })
    #expect(flipped.allSatisfy { $0.prompt == "The query currently entered is: sentence \($0.sourceIndex!)\nAnswer: " })
    // Originals stay (union): 40 + 8 + 4 rows; every flagged row keeps its original row and label.
    #expect(rows.count == 52)
    #expect(rows.filter { !$0.benign && ($0.sourceIndex ?? 0) >= 32 }.allSatisfy { $0.label == 1 })
    // Without the probe's result the configuration is refused.
    #expect(throws: DefenseError.self) { try P2PReconstruction.apply(train, config: config) }
    // Replace mode: the flipped rows replace their originals.
    var replace = config
    replace.mode = .replace
    let (r2, _) = try P2PReconstruction.apply(train, config: replace, probe: probe)
    #expect(r2.count == 40 && r2.filter { ($0.sourceIndex ?? 0) >= 36 }.allSatisfy { $0.benign && $0.label == 2 })
  }
}
