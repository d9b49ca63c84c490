/// A one-vs-rest ridge (regularised least-squares) classifier, by default without intercept: for each class c,
/// w_c minimises ‖X·w_c − t_c‖² + λ‖w_c‖² with t_c = +1 for rows of class c and −1 otherwise, and
/// a row goes to the class of largest x·w_c. Meant for standardized features (`standardized`).
/// Having no intercept, it does not take over the class priors as an offset; but when it is fitted
/// on all rows but a few, with features standardized over all of them (exclusionary
/// reclassification), the fitted rows' mean is not zero and the class offset is absorbed along the
/// direction to the left-out rows, which pushes those rows towards the fit's minority label
/// (docs/defense.md, "Why not the reclassified share"). `Statistics.fitBalanced` adds an intercept
/// and class-balanced weights, which removes that effect. Used by the probe and relative spectral
/// screens.
public struct RidgeClassifier: Sendable, Equatable {
  /// (classes, d).
  public var weights: [[Double]]
  /// One per class with an intercept (`Statistics.fitBalanced`); nil without.
  public var bias: [Double]?

  public init(weights: [[Double]], bias: [Double]? = nil) {
    self.weights = weights; self.bias = bias
  }

  /// Columns scaled to zero mean and unit variance (a constant column becomes 0).
  public static func standardized(_ x: [[Float]]) -> [[Float]] {
    guard let d = x.first?.count, !x.isEmpty else { return x }
    var mean = [Double](repeating: 0, count: d), sq = [Double](repeating: 0, count: d)
    for r in x { for j in 0..<d { mean[j] += Double(r[j]); sq[j] += Double(r[j]) * Double(r[j]) } }
    let n = Double(x.count)
    let scale = (0..<d).map { j -> Double in
      mean[j] /= n
      let v = sq[j] / n - mean[j] * mean[j]
      return v > 1e-12 ? 1 / v.squareRoot() : 0
    }
    return x.map { r in (0..<d).map { Float((Double(r[$0]) - mean[$0]) * scale[$0]) } }
  }

  /// Fits on rows `x` (n × d) with labels in 0..<classes.
  public static func fit(_ x: [[Float]], labels: [Int], classes: Int, ridge: Double) -> RidgeClassifier {
    var statistics = Statistics(width: x.first?.count ?? 0, classes: classes)
    for (i, r) in x.enumerated() { statistics.add(r, label: labels[i]) }
    return statistics.fit(ridge: ridge)
  }

  /// What a fit needs of its rows, per class: the Gram matrix, the row sum and the row count (the
  /// right-hand sides XᵀT follow from the sums, t = +1 for the row's class and -1 otherwise). Rows
  /// can be added and taken out again (weight -1), so fits on all rows but a few share one pass.
  public struct Statistics: Sendable {
    public let width: Int, classes: Int
    /// Σ x xᵀ of each class's rows (width × width, row-major, upper triangle kept).
    var gram: [[Double]]
    /// Σ x of each class's rows.
    var sum: [[Double]]
    var count: [Double]

    public init(width: Int, classes: Int) {
      self.width = width; self.classes = classes
      gram = [[Double]](repeating: [Double](repeating: 0, count: width * width), count: classes)
      sum = [[Double]](repeating: [Double](repeating: 0, count: width), count: classes)
      count = [Double](repeating: 0, count: classes)
    }

    public mutating func add(_ row: [Float], label: Int, weight: Double = 1) {
      let d = width
      gram[label].withUnsafeMutableBufferPointer { g in
        for a in 0..<d where row[a] != 0 {
          let va = weight * Double(row[a])
          for b in a..<d { g[a * d + b] += va * Double(row[b]) }
        }
      }
      for j in 0..<d { sum[label][j] += weight * Double(row[j]) }
      count[label] += weight
    }

    /// The fit without intercept, every row weighted 1.
    public func fit(ridge: Double) -> RidgeClassifier {
      solve(weights: [Double](repeating: 1, count: classes), intercept: false, ridge: ridge)
    }

    /// The fit with an unpenalized intercept and class-balanced row weights (each class weighs as
    /// much as the others in all: n / (classes · n_c) per row): the label shares of the fitted rows
    /// do not move its decisions (`RelativeSpectral` chooses a trigger's end with it).
    public func fitBalanced(ridge: Double) -> RidgeClassifier {
      let n = count.reduce(0, +), present = Double(count.filter { $0 > 0 }.count)
      return solve(weights: count.map { $0 > 0 ? n / (present * $0) : 0 }, intercept: true, ridge: ridge)
    }

    /// Weighted least squares: class c's rows weigh `weights[c]`; with `intercept`, features and
    /// targets are centred on their weighted means and the bias restores them.
    func solve(weights cw: [Double], intercept: Bool, ridge: Double) -> RidgeClassifier {
      let d = width
      var g = [Double](repeating: 0, count: d * d)
      var s = [Double](repeating: 0, count: d)
      var total = 0.0
      for c in 0..<classes where cw[c] != 0 {
        for i in 0..<(d * d) { g[i] += cw[c] * gram[c][i] }
        for j in 0..<d { s[j] += cw[c] * sum[c][j] }
        total += cw[c] * count[c]
      }
      // Right-hand sides Σ w x t_k and target means Σ w t_k / W.
      var rhs = [[Double]](repeating: [Double](repeating: 0, count: d), count: classes)
      var targetMean = [Double](repeating: 0, count: classes)
      for k in 0..<classes {
        for c in 0..<classes where cw[c] != 0 {
          let t = c == k ? 1.0 : -1.0
          for j in 0..<d { rhs[k][j] += cw[c] * t * sum[c][j] }
          targetMean[k] += cw[c] * t * count[c]
        }
        targetMean[k] /= max(total, 1e-300)
      }
      let mean = s.map { $0 / max(total, 1e-300) }
      if intercept {
        // Centred: G - W m mᵀ (upper triangle), rhs_k - W m t̄_k.
        for a in 0..<d { for b in a..<d { g[a * d + b] -= total * mean[a] * mean[b] } }
        for k in 0..<classes { for j in 0..<d { rhs[k][j] -= total * mean[j] * targetMean[k] } }
      }
      for a in 0..<d {
        g[a * d + a] += ridge
        for b in 0..<a { g[a * d + b] = g[b * d + a] }
      }
      let l = RidgeClassifier.cholesky(g, d)
      let w = rhs.map { RidgeClassifier.solve(l, d, $0) }
      let bias = intercept ? (0..<classes).map { k in targetMean[k] - zip(mean, w[k]).reduce(0) { $0 + $1.0 * $1.1 } } : nil
      return RidgeClassifier(weights: w, bias: bias)
    }
  }

  /// Scores x·w_c of each class for one row.
  public func scores(_ row: [Float]) -> [Double] {
    weights.enumerated().map { c, w in
      var s = bias?[c] ?? 0
      for j in w.indices { s += w[j] * Double(row[j]) }
      return s
    }
  }

  public func predict(_ row: [Float]) -> Int {
    let s = scores(row)
    return s.indices.max { s[$0] < s[$1] } ?? 0
  }

  /// Lower-triangular L with L·Lᵀ = A (A symmetric positive definite, d × d row-major).
  static func cholesky(_ a: [Double], _ d: Int) -> [Double] {
    var l = [Double](repeating: 0, count: d * d)
    for i in 0..<d {
      for j in 0...i {
        var s = a[i * d + j]
        for k in 0..<j { s -= l[i * d + k] * l[j * d + k] }
        l[i * d + j] = i == j ? max(s, 1e-300).squareRoot() : s / l[j * d + j]
      }
    }
    return l
  }

  /// x with L·Lᵀ·x = b.
  static func solve(_ l: [Double], _ d: Int, _ b: [Double]) -> [Double] {
    var y = b
    for i in 0..<d {
      for k in 0..<i { y[i] -= l[i * d + k] * y[k] }
      y[i] /= l[i * d + i]
    }
    for i in stride(from: d - 1, through: 0, by: -1) {
      for k in (i + 1)..<d { y[i] -= l[k * d + i] * y[k] }
      y[i] /= l[i * d + i]
    }
    return y
  }
}
