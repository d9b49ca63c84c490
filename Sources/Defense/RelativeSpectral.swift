import TensorCore

/// The relative spectral screen (our extension, for triggers no word screen finds: paraphrases,
/// styles). A trigger that only one label's rows carry adds variance to that label's
/// representations alone, so for each label the direction along which its rows vary most
/// *relative to the other labels' rows* — the top generalized eigenvector of (Σ_label, Σ_others)
/// in the top-d principal subspace of all rows — points at it, where a plain principal direction
/// (spectral signatures, activation clustering) mostly finds the task's own variation. The rows
/// are ranked along that direction (the heavier tail first) and split by one-dimensional 2-means;
/// a label is judged to hold a trigger when its top eigenvalue stands out from the second
/// (`Criteria.minEigenRatio`) and the high cluster is a minority of its rows. Features are the base
/// model's mean sentence states: no probe has to be trained.
///
/// Offline study on the full SST-2 (`scripts/study/relative_spectral.py`, results/README.md):
/// 614 (SynBkd) and 666 (StyleBkd) poisoned rows among the top 692 of the target label, against
/// 103 and 242 for the probe screen's clusters; eigenvalue ratios 1.64 and 4.11 for the poisoned
/// label, 1.30-1.47 for clean labels.
public enum RelativeSpectral {
  public struct Criteria: Codable, Sendable, Equatable {
    /// Principal components of all rows kept (d).
    public var components: Int
    /// First/second generalized eigenvalue ratio from which a label is judged to hold a trigger.
    public var minEigenRatio: Double
    /// Largest share of a label's rows the flagged cluster may hold.
    public var maxRelativeSize: Double
    /// Ridge added to the other labels' covariance, relative to its mean eigenvalue.
    public var ridge: Double
    public init(components: Int = 100, minEigenRatio: Double = 1.55, maxRelativeSize: Double = 0.5, ridge: Double = 1e-3) {
      self.components = components; self.minEigenRatio = minEigenRatio; self.maxRelativeSize = maxRelativeSize; self.ridge = ridge
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
    /// The high 2-means cluster along the direction, most extreme first.
    public var cluster: [Int]
    public var relativeSize: Double
    public var flagged: Bool
  }

  /// Judges every label; `features` one vector per training row, `labels` one per row.
  /// Flagged rows come most extreme first, the flagged labels' rankings taken in turn; each gets
  /// the label a ridge classifier on the standardized features, fitted without the flagged rows,
  /// ranks highest among the other labels (its text's label under a dirty-label attack).
  public static func screen(features: [[Float]], labels: [Int], classes: Int, criteria: Criteria = Criteria(),
                            seed: UInt64) throws(DefenseError) -> ProbeScreenResult {
    guard features.count == labels.count, let width = features.first?.count, width > 0,
          features.allSatisfy({ $0.count == width }) else {
      throw .invalidConfig(key: "spectral screen features", value: "\(features.count) rows",
                           expected: "\(labels.count) vectors of one width, one per training row")
    }
    for (i, y) in labels.enumerated() where y < 0 || y >= classes { throw .badLabel(row: i, label: y, labels: classes) }
    var rng = SeededRNG(seed: seed)
    let d = min(criteria.components, width, max(1, features.count - 1))
    let z = ActivationClustering.project(features, components: d, using: &rng).map { $0.map(Double.init) }
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
      var p = inside.map { r in zip(z[r], w).reduce(0.0) { $0 + $1.0 * $1.1 } }
      let sorted = p.sorted(), median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : 0.5 * (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2])
      p = p.map { $0 - median }
      if p.reduce(0.0, { $0 + $1 * $1 * $1 }) < 0 { p = p.map { -$0 } }
      let high = twoMeansHigh(p)
      let cluster = inside.indices.filter { high[$0] }.sorted { p[$0] != p[$1] ? p[$0] > p[$1] : inside[$0] < inside[$1] }.map { inside[$0] }
      let ratio = values.count > 1 && values[1] > 0 ? values[0] / values[1] : 0
      let size = Double(cluster.count) / Double(inside.count)
      directions.append(Direction(label: label, rows: inside.count, eigenvalues: Array(values.prefix(3)), eigenRatio: ratio,
                                  cluster: cluster, relativeSize: size,
                                  flagged: ratio >= criteria.minEigenRatio && size <= criteria.maxRelativeSize && !cluster.isEmpty))
    }
    let judged = directions.filter(\.flagged)
    var flagged: [Int] = []
    for rank in 0..<(judged.map(\.cluster.count).max() ?? 0) {
      for dir in judged where rank < dir.cluster.count { flagged.append(dir.cluster[rank]) }
    }
    // The flip label: the other label for two labels, else the reclassifier's best other label.
    var flips = flagged.map { labels[$0] == 0 ? 1 : 0 }
    if classes > 2 {
      let standardized = RidgeClassifier.standardized(features), flaggedSet = Set(flagged)
      let rest = labels.indices.filter { !flaggedSet.contains($0) }
      let model = RidgeClassifier.fit(rest.map { standardized[$0] }, labels: rest.map { labels[$0] }, classes: classes, ridge: 100)
      flips = flagged.map { i in
        let s = model.scores(standardized[i])
        var best = -1
        for j in s.indices where j != labels[i] && (best < 0 || s[j] > s[best]) { best = j }
        return best
      }
    }
    return ProbeScreenResult(splits: [], poisonedLabels: judged.map(\.label), flaggedRows: flagged, flipLabels: flips,
                             spectral: directions)
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

  /// One-dimensional 2-means started at the 25th and 90th percentiles: true for the rows of the
  /// cluster with the larger centre.
  public static func twoMeansHigh(_ p: [Double]) -> [Bool] {
    let sorted = p.sorted()
    var c = [sorted[sorted.count / 4], sorted[min(sorted.count - 1, sorted.count * 9 / 10)]]
    var high = p.map { abs($0 - c[1]) < abs($0 - c[0]) }
    for _ in 0..<100 {
      let hi = p.indices.filter { high[$0] }, lo = p.indices.filter { !high[$0] }
      guard !hi.isEmpty, !lo.isEmpty else { break }
      let next = [lo.reduce(0.0) { $0 + p[$1] } / Double(lo.count), hi.reduce(0.0) { $0 + p[$1] } / Double(hi.count)]
      if next == c { break }
      c = next
      high = p.map { abs($0 - c[1]) < abs($0 - c[0]) }
    }
    return high
  }
}
