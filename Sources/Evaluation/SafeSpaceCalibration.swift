/// Calibration of a P2P classifier's safe label space on clean dev rows (our extension). The safe
/// space is trained on the ρ·N benign rows only, so with few training steps or imbalanced labels its
/// scores can favour one label for every input (a degenerate deployed classifier) although they
/// still rank the inputs well. One offset per safe label, added before the argmax, is fitted to
/// maximize the macro-F1 on labelled clean rows; offset 0 is fixed at 0 (only differences matter).
/// Coordinate ascent: each other offset in turn is set to the best of the thresholds where some
/// row's prediction changes, until no offset moves; ties keep the offset closest to 0.
public enum SafeSpaceCalibration {
  /// safeScores: the n safe label words' scores of each row; gold: the rows' labels in 0..<n.
  public static func fit(safeScores: [[Float]], gold: [Int], labels n: Int, rounds: Int = 5) throws(EvaluationError) -> [Float] {
    guard safeScores.count == gold.count, !gold.isEmpty, safeScores.allSatisfy({ $0.count == n }),
          gold.allSatisfy({ $0 >= 0 && $0 < n }) else {
      throw EvaluationError.emptyInput("calibration needs labelled rows with \(n) safe-label scores each and labels in 0..<\(n)")
    }
    var bias = [Float](repeating: 0, count: n)
    func macroF1(_ b: [Float]) -> Double {
      let predicted = safeScores.map { row in
        var best = 0
        for j in 1..<n where row[j] + b[j] > row[best] + b[best] { best = j }
        return best
      }
      return ClassificationMetrics(gold: gold, predicted: predicted, labels: n).macroF1
    }
    var current = macroF1(bias)
    for _ in 0..<rounds {
      var moved = false
      for j in 1..<n {
        // Row i switches to or from label j where row[j] + b_j crosses the best other score.
        var candidates: Set<Float> = [0]
        for row in safeScores {
          var other = -Float.infinity
          for k in 0..<n where k != j { other = max(other, row[k] + bias[k]) }
          let t = other - row[j]
          if t.isFinite { candidates.insert(t + 1e-4); candidates.insert(t - 1e-4) }
        }
        var best = (f1: current, value: bias[j])
        for c in candidates.sorted(by: { abs($0) < abs($1) }) {
          var b = bias
          b[j] = c
          let f = macroF1(b)
          if f > best.f1 + 1e-12 { best = (f, c) }
        }
        if best.value != bias[j] { bias[j] = best.value; current = best.f1; moved = true }
      }
      if !moved { break }
    }
    return bias
  }
}

/// What a calibration did to the dev rows' predictions. The offsets are fitted to clean rows only,
/// so they cannot see an attack: moving predictions towards the attacker's target can re-open the
/// backdoor (measured 2026-12-06 on SST-2 SynBkd seed 1, two epochs: offsets fitted on 400 dev rows
/// took the ASR from 5.7% to 37.1%, and test macro-F1 from 91.5 to 90.4; docs/defense.md).
public struct CalibrationShift: Codable, Sendable, Equatable {
  /// Predicted rows per label without and with the offsets.
  public var before: [Int]
  public var after: [Int]

  public init(before: [Int], after: [Int]) { self.before = before; self.after = after }

  /// From the rows' predicted labels (in 0..<n) without and with the offsets.
  public init(predictedBefore: [Int], after predictedAfter: [Int], labels n: Int) {
    func counts(_ p: [Int]) -> [Int] { (0..<n).map { l in p.filter { $0 == l }.count } }
    self.init(before: counts(predictedBefore), after: counts(predictedAfter))
  }

  /// Labels predicted for more rows after the calibration, ascending.
  public var favoured: [Int] { before.indices.filter { $0 < after.count && after[$0] > before[$0] } }

  /// A caution when the offsets move predictions towards a label: named as judged poisoned when
  /// it is in `suspected` (the screens' poisoned labels, when the adapter's manifest records them).
  public func caution(suspected: [Int] = []) -> String? {
    guard !favoured.isEmpty else { return nil }
    let moved = favoured.map { "label \($0) (\(before[$0]) -> \(after[$0]) of \(before.reduce(0, +)) dev rows)" }.joined(separator: ", ")
    let hit = favoured.filter(suspected.contains)
    return "the offsets move predictions towards " + moved
      + (hit.isEmpty ? "" : "; label(s) \(hit) were judged poisoned by the screens")
      + ". Offsets fitted on clean rows cannot see an attack: towards an attack's target they can re-open the backdoor."
      + " Measure the ASR before deploying the calibrated adapter (the offsets are in classifier.json; delete `safeBias` there to undo)."
  }
}
