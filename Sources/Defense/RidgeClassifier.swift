/// A one-vs-rest ridge (regularised least-squares) classifier without intercept: for each class c,
/// w_c minimises ‖X·w_c − t_c‖² + λ‖w_c‖² with t_c = +1 for rows of class c and −1 otherwise, and
/// a row goes to the class of largest x·w_c. Meant for standardized features (`standardized`).
/// Having no intercept, it does not take over the class priors as an offset; but when it is fitted
/// on all rows but a few, with features standardized over all of them (exclusionary
/// reclassification), the fitted rows' mean is not zero and the class offset is absorbed along the
/// direction to the left-out rows, which pushes those rows towards the fit's minority label
/// (docs/defense.md, "The reclassified share depends on the label shares"). Used by the probe and
/// relative spectral screens.
public struct RidgeClassifier: Sendable, Equatable {
  /// (classes, d).
  public var weights: [[Double]]

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

  /// What a fit needs of its rows: the Gram matrix XᵀX and the right-hand sides XᵀT. Rows can be
  /// added and taken out again (weight -1), so fits on all rows but a few share one pass.
  public struct Statistics: Sendable {
    public let width: Int, classes: Int
    /// XᵀX (width × width, row-major, upper triangle kept).
    var gram: [Double]
    /// XᵀT (classes × width), t = +1 for the row's class and -1 otherwise.
    var rhs: [[Double]]

    public init(width: Int, classes: Int) {
      self.width = width; self.classes = classes
      gram = [Double](repeating: 0, count: width * width)
      rhs = [[Double]](repeating: [Double](repeating: 0, count: width), count: classes)
    }

    public mutating func add(_ row: [Float], label: Int, weight: Double = 1) {
      let d = width
      for a in 0..<d where row[a] != 0 {
        let va = weight * Double(row[a])
        for b in a..<d { gram[a * d + b] += va * Double(row[b]) }
      }
      for c in 0..<classes {
        let t = label == c ? weight : -weight
        for j in 0..<d { rhs[c][j] += Double(row[j]) * t }
      }
    }

    public func fit(ridge: Double) -> RidgeClassifier {
      let d = width
      var g = gram
      for a in 0..<d {
        g[a * d + a] += ridge
        for b in 0..<a { g[a * d + b] = g[b * d + a] }
      }
      let l = RidgeClassifier.cholesky(g, d)
      return RidgeClassifier(weights: rhs.map { RidgeClassifier.solve(l, d, $0) })
    }
  }

  /// Scores x·w_c of each class for one row.
  public func scores(_ row: [Float]) -> [Double] {
    weights.map { w in var s = 0.0; for j in w.indices { s += w[j] * Double(row[j]) }; return s }
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
