import TensorCore

/// The relative spectral screen (our extension, for triggers no word screen finds: paraphrases,
/// styles). A trigger that only one label's rows carry adds variance to that label's
/// representations alone, so for each label the direction along which its rows vary most
/// *relative to the other labels' rows* — the top generalized eigenvector of (Σ_label, Σ_others)
/// in the top-d principal subspace of all rows — points at it, where a plain principal direction
/// (spectral signatures, activation clustering) mostly finds the task's own variation. Features
/// are the base model's mean sentence states: no probe has to be trained.
///
/// Which end of the direction holds the trigger: where one end's tail (`Criteria.tailShare` of the
/// label's rows) lies at least `Criteria.separateModeRatio` (2) times as far from the label's median
/// as the other's (in median absolute deviations), that end: a style forms its own mode there (7 of
/// the 8 poisoned labels of the 1,000-row StyleBkd sets: 2.4-4.8 times, the poisoned end each time;
/// AG News seed 42: 1.1).
/// Otherwise *exclusionary reclassification* (Chen et al. 2018): each tail is left out, a ridge
/// classifier with an intercept and class-balanced weights is fitted on all other rows, and the end
/// whose tail it gives other labels more often is taken. Neither alone picks every end right: the
/// heavier tail is the wrong end for SynBkd on seeds 42 and 2 (its ends differ by at most 1.1
/// times), and reclassification was the wrong end for StyleBkd on the minority label of a 75/25 set
/// (8 of 100 flips poisoned; the safe space learned the style as the target: degenerate, ASR 79%).
/// The reclassifier was without intercept and balance until SynBkd on a 75/25 set, seed 1, took the
/// clean end with it (0 of 100 flips poisoned); offline the balanced fit picks the poisoned end of
/// all 15 poisoned labels measured once the distance rule has taken the styles
/// (`scripts/study/spectral_end_rules.py`). The 2 sits between those two groups; a natural
/// sub-cluster farther out than the trigger would win it (`theTriggersEndIsChosen…` tests).
///
/// *Whether* a label holds a trigger is decided by its share of the training rows against a
/// reference (`LabelReference`: the dataset's dev split, else uniform shares): a dirty-label attack
/// moves rows of other classes into the target label, so the target's share rises by about the
/// poison rate. A label is judged poisoned when its share exceeds the reference's by at least
/// `Criteria.minShareExcess` and by `Criteria.minShareZ` standard errors (the sampling error of both
/// counts). Then the label's rows towards the trigger's end (`Criteria.excludeShare` of them, most
/// extreme first) are flagged.
///
/// Why not the reclassified share itself (the rule until 2026-12-05): it read the label shares more
/// than the trigger. The ridge fit has no intercept on features standardized over all rows, so a
/// left-out tail is pushed towards the fit's minority label: a dirty-label target that the poison
/// made the majority reads as "reclassified", a clean majority label of a 75/25 set was flagged
/// (macro-F1 -10.7), and a poisoned minority label was missed. Fitted without that effect
/// (intercept and balanced weights, fit-centred features, equal-count subsamples, or against the
/// reclassification of random rows of the same label), the poisoned SST-2 tails read no higher than
/// the clean ones; a classifier fine-tuned on the rows outside the clusters did not separate them
/// either (clean 75/25 minority label 0.70, SynBkd 75/25 0.72, StyleBkd 0.34: the probe reads Bible
/// style as the target's text). `scripts/study/reclassifier_variants.py` and results/README.md have
/// the numbers. The share test says openly what the screen can see: it cannot tell a dirty-label
/// attack from a training set whose shares differ from the reference for another reason, and it
/// does not see clean-label poison or poison below a few percent of the rows.
///
/// Offline study (`scripts/study/spectral_ends.py`; 1,000-row sets, 20% dirty-label SynBkd and
/// StyleBkd on SST-2 with three seeds each, StyleBkd on AG News): the trigger's tail holds 81-89
/// poisoned rows of 91-96 on SST-2 (60 of 60 on AG News); half of the target label holds 158-186 of
/// the 200 poisoned rows. The eigenvalue ratio is reported, not used: it is high for styles (3-4)
/// but not for syntactic templates (1.4-1.7 on 1,000 SST-2 rows, as for clean labels), and up to
/// 2.9 for clean AG News labels.
public enum RelativeSpectral {
  public struct Criteria: Codable, Sendable, Equatable {
    /// Principal components of all rows kept (d), at most rows / 20 (the covariances of 1,000
    /// rows do not support 100 dimensions).
    public var components: Int
    /// Share of a label's rows in each tail that reclassification tests.
    public var tailShare: Double
    /// How far a label's share of the training rows must exceed its reference share (0.05: five
    /// points) for the label to be judged poisoned.
    public var minShareExcess: Double
    /// And by how many standard errors of the difference. At 2, sampling alone flags a label about
    /// 2.3% of the time; against a 400-row dev split a 1,000-row set needs about 6 points, which
    /// 20% dirty-label poison of a balanced binary set (about 10 points) clears and 10% (about 5-7)
    /// only sometimes.
    public var minShareZ: Double
    /// When one end's tail lies this many times farther from the label's median than the other's
    /// (in median absolute deviations), that end is the trigger's (a separate mode, as a style
    /// makes); otherwise exclusionary reclassification picks the end.
    public var separateModeRatio: Double
    /// Share of a poisoned label's rows flagged, towards the trigger's end.
    public var excludeShare: Double
    /// Ridge added to the other labels' covariance, relative to its mean eigenvalue.
    public var ridge: Double
    /// Ridge penalty of the reclassifier on standardized features.
    public var reclassifierRidge: Double
    public init(components: Int = 100, tailShare: Double = 0.15, minShareExcess: Double = 0.05, minShareZ: Double = 2,
                separateModeRatio: Double = 2, excludeShare: Double = 0.5, ridge: Double = 1e-3, reclassifierRidge: Double = 100) {
      self.components = components; self.tailShare = tailShare; self.minShareExcess = minShareExcess; self.minShareZ = minShareZ
      self.separateModeRatio = separateModeRatio
      self.excludeShare = excludeShare; self.ridge = ridge; self.reclassifierRidge = reclassifierRidge
    }
  }

  /// What the screen found for one label.
  public struct Direction: Codable, Sendable, Equatable {
    public var label: Int
    /// The label's rows (indices into the training set).
    public var rows: Int
    /// The three largest generalized eigenvalues, descending.
    public var eigenvalues: [Double]
    public var eigenRatio: Double
    /// +1 when the trigger's end is the high end of the projection, -1 the low end.
    public var sign: Int
    /// Share of the tail at the chosen end, and at the other end, given another label.
    public var reclassified: Double
    public var otherEndReclassified: Double
    /// The label's rows towards the chosen end (`excludeShare` of them), most extreme first.
    public var cluster: [Int]
    /// The label's other rows, farthest from the chosen end first (the rows least likely to carry
    /// the trigger; `StratifiedSelection` takes a flagged label's benign rows in this order).
    public var farEnd: [Int]
    public var relativeSize: Double
    /// Mean distance of the chosen end's tail, and of the other end's, from the label's median
    /// projection, in median absolute deviations (nil in results written before the mode rule).
    public var tailDistance: Double?
    public var otherTailDistance: Double?
    /// The label's share of the training rows, its reference share, and the difference in standard
    /// errors (`judge`; nil in results written before the share test; z nil where the error is 0).
    public var share: Double?
    public var referenceShare: Double?
    public var shareZ: Double?
    public var flagged: Bool
    public init(label: Int, rows: Int, eigenvalues: [Double], eigenRatio: Double, sign: Int, reclassified: Double,
                otherEndReclassified: Double, cluster: [Int], farEnd: [Int] = [], relativeSize: Double,
                tailDistance: Double? = nil, otherTailDistance: Double? = nil,
                share: Double? = nil, referenceShare: Double? = nil, shareZ: Double? = nil, flagged: Bool) {
      self.label = label; self.rows = rows; self.eigenvalues = eigenvalues; self.eigenRatio = eigenRatio; self.sign = sign
      self.reclassified = reclassified; self.otherEndReclassified = otherEndReclassified; self.cluster = cluster
      self.farEnd = farEnd; self.relativeSize = relativeSize; self.tailDistance = tailDistance; self.otherTailDistance = otherTailDistance
      self.share = share; self.referenceShare = referenceShare
      self.shareZ = shareZ; self.flagged = flagged
    }
  }

  /// Judges every label; `features` one vector per training row, `labels` one per row, `reference`
  /// the label shares to compare with (`LabelReference.uniform` when the dataset has no dev split).
  /// Flagged rows come most extreme first, the flagged labels' rankings taken in turn; each gets
  /// the label a ridge classifier on the standardized features, fitted without the flagged rows,
  /// ranks highest among the other labels (its text's label under a dirty-label attack).
  public static func screen(features: [[Float]], labels: [Int], classes: Int, reference: LabelReference,
                            criteria: Criteria = Criteria(), seed: UInt64) throws(DefenseError) -> ProbeScreenResult {
    guard features.count == labels.count, let width = features.first?.count, width > 0,
          features.allSatisfy({ $0.count == width }) else {
      throw .invalidConfig(key: "spectral screen features", value: "\(features.count) rows",
                           expected: "\(labels.count) vectors of one width, one per training row")
    }
    for (i, y) in labels.enumerated() where y < 0 || y >= classes { throw .badLabel(row: i, label: y, labels: classes) }
    guard reference.shares.count == classes else {
      throw .invalidConfig(key: "reference label shares", value: "\(reference.shares.count) shares (\(reference.source))",
                           expected: "one per label (\(classes))")
    }
    guard criteria.tailShare > 0 && criteria.tailShare <= criteria.excludeShare && criteria.excludeShare < 1 else {
      throw .invalidConfig(key: "spectral screen shares", value: "tail \(criteria.tailShare), exclude \(criteria.excludeShare)",
                           expected: "0 < tail share <= exclude share < 1")
    }
    var rng = SeededRNG(seed: seed)
    let d = max(1, min(criteria.components, width, features.count / 20, features.count - 1))
    let z = ActivationClustering.project(features, components: d, using: &rng).map { $0.map(Double.init) }
    // The reclassifier's statistics over all rows; a tail's are taken out of them.
    let standardized = RidgeClassifier.standardized(features)
    var all = RidgeClassifier.Statistics(width: width, classes: classes)
    for (i, r) in standardized.enumerated() { all.add(r, label: labels[i]) }
    func reclassified(_ tail: [Int], label: Int) -> Double {
      var rest = all
      for i in tail { rest.add(standardized[i], label: labels[i], weight: -1) }
      // Balanced, with an intercept: both tails of a label compared without the fit's label shares.
      let model = rest.fitBalanced(ridge: criteria.reclassifierRidge)
      return Double(tail.filter { model.predict(standardized[$0]) != label }.count) / Double(max(1, tail.count))
    }
    var directions: [Direction] = []
    for label in Set(labels).sorted() {
      let inside = labels.indices.filter { labels[$0] == label }
      let others = labels.indices.filter { labels[$0] != label }
      guard inside.count > 2, others.count > 2 else { continue }
      var s0 = covariance(others.map { z[$0] }, d)
      let s1 = covariance(inside.map { z[$0] }, d)
      var trace = 0.0
      for i in 0..<d { trace += s0[i * d + i] }
      for i in 0..<d { s0[i * d + i] += criteria.ridge * trace / Double(d) }
      guard let (values, w) = topGeneralizedEigen(s1, s0, d) else { continue }
      let p = inside.map { r in zip(z[r], w).reduce(0.0) { $0 + $1.0 * $1.1 } }
      // Each end's ranking, most extreme first (ties by row index).
      func ranking(_ sign: Double) -> [Int] {
        inside.indices.sorted { sign * p[$0] != sign * p[$1] ? sign * p[$0] > sign * p[$1] : inside[$0] < inside[$1] }.map { inside[$0] }
      }
      let tail = max(1, Int(criteria.tailShare * Double(inside.count)))
      let high = ranking(1), low = ranking(-1)
      let rHigh = reclassified(Array(high.prefix(tail)), label: label), rLow = reclassified(Array(low.prefix(tail)), label: label)
      // How far each end's tail lies from the label's median, in median absolute deviations: a
      // trigger that forms its own mode (a style) lies far beyond the label's natural spread.
      let median = Self.median(p), mad = Self.median(p.map { abs($0 - median) })
      // The tails' projections are the `tail` largest and smallest values of p.
      let sorted = p.sorted()
      func distance(_ tailValues: ArraySlice<Double>) -> Double {
        tailValues.reduce(0.0) { $0 + abs($1 - median) } / Double(max(1, tailValues.count)) / mad
      }
      let dHigh = mad > 0 ? distance(sorted.suffix(tail)) : 0, dLow = mad > 0 ? distance(sorted.prefix(tail)) : 0
      let sign: Int
      if mad > 0, max(dHigh, dLow) >= criteria.separateModeRatio * min(dHigh, dLow) {
        sign = dLow > dHigh ? -1 : 1
      } else {
        sign = rLow > rHigh ? -1 : 1
      }
      let cluster = Array((sign > 0 ? high : low).prefix(max(tail, Int(criteria.excludeShare * Double(inside.count)))))
      let farEnd = Array((sign > 0 ? low : high).prefix(inside.count - cluster.count))
      let ratio = values.count > 1 && values[1] > 0 ? values[0] / values[1] : 0
      directions.append(Direction(label: label, rows: inside.count, eigenvalues: Array(values.prefix(3)), eigenRatio: ratio,
                                  sign: sign, reclassified: sign > 0 ? rHigh : rLow, otherEndReclassified: sign > 0 ? rLow : rHigh,
                                  cluster: cluster, farEnd: farEnd, relativeSize: Double(cluster.count) / Double(inside.count),
                                  tailDistance: sign > 0 ? dHigh : dLow, otherTailDistance: sign > 0 ? dLow : dHigh, flagged: false))
    }
    judge(&directions, trainRows: labels.count, reference: reference, criteria: criteria)
    let judged = directions.filter(\.flagged)
    var flagged: [Int] = []
    for rank in 0..<(judged.map(\.cluster.count).max() ?? 0) {
      for dir in judged where rank < dir.cluster.count { flagged.append(dir.cluster[rank]) }
    }
    // The flip label: the other label for two labels, else the reclassifier's best other label.
    var flips = flagged.map { labels[$0] == 0 ? 1 : 0 }
    var rest = all
    for i in flagged { rest.add(standardized[i], label: labels[i], weight: -1) }
    if classes > 2 {
      let model = rest.fit(ridge: criteria.reclassifierRidge)
      flips = flagged.map { bestOther(model.scores(standardized[$0]), than: labels[$0]) }
    }
    // Row by row, for `p2p-confirm` (`P2PConfig.confirmFlips`): a dirty-label row is text of
    // another label under the target label, so a classifier that reads the text (this ridge
    // classifier with an intercept and class-balanced weights, fitted without the flagged rows)
    // should give it another label. Offline on the committed cells' states (results/README.md,
    // 2026-12-06): on AG News StyleBkd seed 2, whose ranking took the wrong direction, the 100
    // flips would hold 82 poisoned rows and 18 clean World rows instead of 58 and 42; on the SST-2
    // and full-set cells 0-8 of the flipped rows change.
    let content = rest.fitBalanced(ridge: criteria.reclassifierRidge)
    var confirmed: [Bool] = [], confirmedLabels: [Int] = []
    for i in flagged {
      confirmedLabels.append(bestOther(content.scores(standardized[i]), than: labels[i]))
      confirmed.append(content.predict(standardized[i]) != labels[i])
    }
    var result = ProbeScreenResult(splits: [], poisonedLabels: judged.map(\.label), flaggedRows: flagged, flipLabels: flips,
                                   spectral: directions)
    result.confirmedFlips = confirmed
    result.confirmedLabels = confirmedLabels
    result.reference = reference
    return result
  }

  /// The label of largest score other than `own` (-1 when there is none).
  static func bestOther(_ scores: [Double], than own: Int) -> Int {
    var best = -1
    for j in scores.indices where j != own && (best < 0 || scores[j] > scores[best]) { best = j }
    return best
  }

  /// Sets each label's share, reference share, z and `flagged`: its share of the `trainRows` rows
  /// exceeds the reference's by at least `Criteria.minShareExcess` and by `Criteria.minShareZ`
  /// standard errors, sqrt(q (1 - q) (1/n + 1/m)) for reference share q, n training rows and m
  /// reference rows (no 1/m term for shares that are not a sample). Where that error is 0 (a
  /// reference share of 0 or 1) z is nil and the excess alone decides.
  public static func judge(_ directions: inout [Direction], trainRows: Int, reference: LabelReference, criteria: Criteria) {
    for k in directions.indices {
      let d = directions[k]
      let p = Double(d.rows) / Double(max(1, trainRows))
      let q = reference.shares.indices.contains(d.label) ? reference.shares[d.label] : 0
      let se = (q * (1 - q) * (1 / Double(max(1, trainRows)) + (reference.rows.map { 1 / Double(max(1, $0)) } ?? 0))).squareRoot()
      // No sampling error (a reference share of 0 or 1 from equal-share or counted rows): the excess alone decides.
      let z: Double? = se > 0 ? (p - q) / se : nil
      directions[k].share = p
      directions[k].referenceShare = q
      directions[k].shareZ = z
      directions[k].flagged = p - q >= criteria.minShareExcess && (z.map { $0 >= criteria.minShareZ } ?? true)
    }
  }

  /// The median of `values` (the mean of the middle two for an even count; 0 for none).
  public static func median(_ values: [Double]) -> Double {
    let v = values.sorted()
    guard !v.isEmpty else { return 0 }
    return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
  }

  /// Sample covariance (d × d, row-major) of `rows`.
  public static func covariance(_ rows: [[Double]], _ d: Int) -> [Double] {
    var mean = [Double](repeating: 0, count: d)
    for r in rows { for j in 0..<d { mean[j] += r[j] } }
    for j in 0..<d { mean[j] /= Double(rows.count) }
    var c = [Double](repeating: 0, count: d * d)
    var x = [Double](repeating: 0, count: d)
    for r in rows {
      for j in 0..<d { x[j] = r[j] - mean[j] }
      for a in 0..<d { let xa = x[a]; for b in a..<d { c[a * d + b] += xa * x[b] } }
    }
    let n = Double(max(1, rows.count - 1))
    for a in 0..<d { for b in a..<d { c[a * d + b] /= n; c[b * d + a] = c[a * d + b] } }
    return c
  }

  /// The generalized eigenvalues of (a, b) (b positive definite), descending, and the eigenvector
  /// w of the largest (a w = λ b w): with b = L Lᵀ, the eigenvectors v of L⁻¹ a L⁻ᵀ give w = L⁻ᵀ v.
  /// nil when b is not positive definite.
  public static func topGeneralizedEigen(_ a: [Double], _ b: [Double], _ d: Int) -> (values: [Double], vector: [Double])? {
    guard let l = cholesky(b, d) else { return nil }
    // m = L⁻¹ a L⁻ᵀ: solve L y = a column by column, then L m = yᵀ (m is symmetric).
    var y = [Double](repeating: 0, count: d * d)
    for col in 0..<d {
      let x = forwardSolve(l, d, (0..<d).map { a[$0 * d + col] })
      for r in 0..<d { y[r * d + col] = x[r] }
    }
    var m = [Double](repeating: 0, count: d * d)
    for col in 0..<d {
      let x = forwardSolve(l, d, (0..<d).map { y[col * d + $0] })
      for r in 0..<d { m[r * d + col] = x[r] }
    }
    for i in 0..<d { for j in (i + 1)..<d { let s = 0.5 * (m[i * d + j] + m[j * d + i]); m[i * d + j] = s; m[j * d + i] = s } }
    let (values, vectors) = jacobiEigen(m, d)
    let order = values.indices.sorted { values[$0] > values[$1] }
    let v = (0..<d).map { vectors[$0 * d + order[0]] }
    // w = L⁻ᵀ v: back substitution with Lᵀ.
    var w = [Double](repeating: 0, count: d)
    for i in stride(from: d - 1, through: 0, by: -1) {
      var s = v[i]
      for k in (i + 1)..<d { s -= l[k * d + i] * w[k] }
      w[i] = s / l[i * d + i]
    }
    return (order.map { values[$0] }, w)
  }

  /// Lower-triangular L with L Lᵀ = b, or nil.
  public static func cholesky(_ b: [Double], _ d: Int) -> [Double]? {
    var l = [Double](repeating: 0, count: d * d)
    for i in 0..<d {
      for j in 0...i {
        var s = b[i * d + j]
        for k in 0..<j { s -= l[i * d + k] * l[j * d + k] }
        if i == j {
          guard s > 0 else { return nil }
          l[i * d + i] = s.squareRoot()
        } else {
          l[i * d + j] = s / l[j * d + j]
        }
      }
    }
    return l
  }

  public static func forwardSolve(_ l: [Double], _ d: Int, _ rhs: [Double]) -> [Double] {
    var x = [Double](repeating: 0, count: d)
    for i in 0..<d {
      var s = rhs[i]
      for k in 0..<i { s -= l[i * d + k] * x[k] }
      x[i] = s / l[i * d + i]
    }
    return x
  }

  /// Eigenvalues and eigenvectors (columns of the row-major d × d result) of a symmetric matrix,
  /// by cyclic Jacobi rotations until the off-diagonal mass is negligible.
  public static func jacobiEigen(_ matrix: [Double], _ d: Int, sweeps: Int = 50) -> (values: [Double], vectors: [Double]) {
    var a = matrix
    var v = [Double](repeating: 0, count: d * d)
    for i in 0..<d { v[i * d + i] = 1 }
    var total = 0.0
    for x in a { total += x * x }
    for _ in 0..<sweeps {
      var off = 0.0
      for i in 0..<d { for j in (i + 1)..<d { off += a[i * d + j] * a[i * d + j] } }
      if off <= 1e-22 * total { break }
      for p in 0..<d {
        for q in (p + 1)..<d {
          let apq = a[p * d + q]
          guard abs(apq) > 1e-300 else { continue }
          let theta = (a[q * d + q] - a[p * d + p]) / (2 * apq)
          let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
          let c = 1 / (t * t + 1).squareRoot(), s = t * c
          for k in 0..<d {
            let akp = a[k * d + p], akq = a[k * d + q]
            a[k * d + p] = c * akp - s * akq
            a[k * d + q] = s * akp + c * akq
          }
          for k in 0..<d {
            let apk = a[p * d + k], aqk = a[q * d + k]
            a[p * d + k] = c * apk - s * aqk
            a[q * d + k] = s * apk + c * aqk
          }
          for k in 0..<d {
            let vkp = v[k * d + p], vkq = v[k * d + q]
            v[k * d + p] = c * vkp - s * vkq
            v[k * d + q] = s * vkp + c * vkq
          }
        }
      }
    }
    return ((0..<d).map { a[$0 * d + $0] }, v)
  }
}
