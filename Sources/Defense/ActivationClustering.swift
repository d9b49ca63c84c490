import TensorCore

/// Activation clustering (Chen et al. 2018, "Detecting Backdoor Attacks on Deep Neural Networks by
/// Activation Clustering"): a model fine-tuned on poisoned data reaches the target label along two
/// paths, the task's features for clean rows and the trigger's for poisoned ones, so the hidden
/// states of one label's rows split into two clusters, the smaller one the poison. Per label: the
/// centred states are projected on their top principal components and split by 2-means.
/// Pure math on given features; `ProbeScreen` decides which splits are poison.
public enum ActivationClustering {
  /// The 2-means split of one label's rows.
  public struct Split: Codable, Sendable, Equatable {
    public var label: Int
    /// Row indices (into the training set) of the label, ascending.
    public var rows: [Int]
    /// Row indices of the smaller cluster, farthest first along the axis from the larger
    /// cluster's centre to the smaller one's (the most atypical rows of the label first).
    public var smallCluster: [Int]
    /// |small cluster| / |rows|.
    public var relativeSize: Double
    /// Mean silhouette of the split in the projected space (−1…1; high = well separated).
    public var silhouette: Double
    /// Share of the small cluster that a classifier trained without it assigns to another label
    /// (set by `ProbeScreen`).
    public var reclassified: Double?
  }

  /// Projections of the centred rows of `x` (n × c) on their top `k` principal components (n × k),
  /// by subspace iteration on the c × c covariance; `rng` draws the starting basis.
  public static func project(_ x: [[Float]], components k: Int, iterations: Int = 60,
                             using rng: inout SeededRNG) -> [[Float]] {
    let n = x.count
    guard n > 0, let c = x.first?.count, c > 0 else { return [] }
    let k = min(k, c, n)
    var mean = [Double](repeating: 0, count: c)
    for r in x { for j in 0..<c { mean[j] += Double(r[j]) } }
    for j in 0..<c { mean[j] /= Double(n) }
    // Covariance (c, c), symmetric; Double for stable accumulation.
    var cov = [Double](repeating: 0, count: c * c)
    var centred = [Double](repeating: 0, count: c)
    for r in x {
      for j in 0..<c { centred[j] = Double(r[j]) - mean[j] }
      for a in 0..<c where centred[a] != 0 {
        let va = centred[a]
        for b in a..<c { cov[a * c + b] += va * centred[b] }
      }
    }
    for a in 0..<c { for b in a..<c { cov[b * c + a] = cov[a * c + b] } }
    // Basis (k, c): random start, then Q ← orth(cov · Q).
    var basis = (0..<k).map { _ in (0..<c).map { _ in Double(rng.nextFloat()) - 0.5 } }
    orthonormalize(&basis)
    for _ in 0..<iterations {
      basis = basis.map { v in (0..<c).map { a in var s = 0.0; for b in 0..<c { s += cov[a * c + b] * v[b] }; return s } }
      orthonormalize(&basis)
    }
    return x.map { r in
      basis.map { v in var s = 0.0; for j in 0..<c { s += (Double(r[j]) - mean[j]) * v[j] }; return Float(s) }
    }
  }

  /// Modified Gram–Schmidt on the rows of `q`; a row that vanishes is replaced by a unit vector.
  static func orthonormalize(_ q: inout [[Double]]) {
    for i in q.indices {
      for j in 0..<i {
        let d = zip(q[i], q[j]).reduce(0) { $0 + $1.0 * $1.1 }
        for t in q[i].indices { q[i][t] -= d * q[j][t] }
      }
      let norm = q[i].reduce(0) { $0 + $1 * $1 }.squareRoot()
      if norm > 1e-12 {
        for t in q[i].indices { q[i][t] /= norm }
      } else {
        q[i] = q[i].indices.map { $0 == i % q[i].count ? 1 : 0 }
      }
    }
  }

  /// 2-means (Lloyd) on the rows of `f`: the assignment (0 or 1 per row) of least inertia over
  /// `restarts` seeded starts (two distinct rows as centres).
  public static func twoMeans(_ f: [[Float]], restarts: Int = 10, iterations: Int = 100,
                              using rng: inout SeededRNG) -> [Int] {
    let n = f.count
    guard n >= 2 else { return [Int](repeating: 0, count: n) }
    func d2(_ a: [Float], _ b: [Float]) -> Float { var s: Float = 0; for j in a.indices { let d = a[j] - b[j]; s += d * d }; return s }
    var best: (inertia: Float, assign: [Int])?
    for _ in 0..<restarts {
      let i = Int(rng.next() % UInt64(n))
      var j = Int(rng.next() % UInt64(n - 1)); if j >= i { j += 1 }
      var centres = [f[i], f[j]]
      var assign = [Int](repeating: 0, count: n)
      var inertia: Float = 0
      for _ in 0..<iterations {
        inertia = 0
        var changed = false
        for r in 0..<n {
          let a = d2(f[r], centres[0]), b = d2(f[r], centres[1])
          let k = b < a ? 1 : 0
          if assign[r] != k { assign[r] = k; changed = true }
          inertia += min(a, b)
        }
        for k in 0..<2 {
          let members = (0..<n).filter { assign[$0] == k }
          guard !members.isEmpty else { continue }
          var m = [Float](repeating: 0, count: f[0].count)
          for r in members { for t in m.indices { m[t] += f[r][t] } }
          centres[k] = m.map { $0 / Float(members.count) }
        }
        if !changed { break }
      }
      if best == nil || inertia < best!.inertia { best = (inertia, assign) }
    }
    return best!.assign
  }

  /// Mean silhouette of a two-cluster assignment (0 when a cluster is empty).
  public static func silhouette(_ f: [[Float]], assign: [Int]) -> Double {
    let n = f.count
    let sizes = [assign.filter { $0 == 0 }.count, assign.filter { $0 == 1 }.count]
    guard sizes[0] > 1 && sizes[1] > 1 else { return 0 }
    var total = 0.0
    for i in 0..<n {
      var sum = [0.0, 0.0]
      for j in 0..<n where j != i {
        var s: Float = 0
        for t in f[i].indices { let d = f[i][t] - f[j][t]; s += d * d }
        sum[assign[j]] += Double(s.squareRoot())
      }
      let own = assign[i], other = 1 - own
      let a = sum[own] / Double(sizes[own] - 1), b = sum[other] / Double(sizes[other])
      total += max(a, b) > 0 ? (b - a) / max(a, b) : 0
    }
    return total / Double(n)
  }

  /// Per label (ascending), the 2-means split of its rows' features projected on `components`
  /// principal components. features: one vector per training row; labels: one per row.
  public static func splits(features: [[Float]], labels: [Int], components: Int = 10,
                            using rng: inout SeededRNG) -> [Split] {
    Set(labels).sorted().map { label in
      let rows = labels.indices.filter { labels[$0] == label }
      let f = project(rows.map { features[$0] }, components: components, using: &rng)
      let assign = twoMeans(f, using: &rng)
      let ones = assign.filter { $0 == 1 }.count
      let small = ones * 2 <= assign.count ? 1 : 0
      let inSmall = rows.indices.filter { assign[$0] == small }
      // Centres of both clusters; rank the small cluster's rows by (f − c_large)·(c_small − c_large).
      func centre(_ members: [Int]) -> [Float] {
        var m = [Float](repeating: 0, count: f.first?.count ?? 0)
        for r in members { for t in m.indices { m[t] += f[r][t] } }
        return members.isEmpty ? m : m.map { $0 / Float(members.count) }
      }
      let cSmall = centre(inSmall), cLarge = centre(rows.indices.filter { assign[$0] != small })
      let axis = zip(cSmall, cLarge).map { $0 - $1 }
      let score = inSmall.map { r in zip(zip(f[r], cLarge), axis).reduce(Float(0)) { $0 + ($1.0.0 - $1.0.1) * $1.1 } }
      let members = inSmall.indices.sorted { score[$0] != score[$1] ? score[$0] > score[$1] : inSmall[$0] < inSmall[$1] }
        .map { rows[inSmall[$0]] }
      return Split(label: label, rows: rows, smallCluster: members,
                   relativeSize: rows.isEmpty ? 0 : Double(members.count) / Double(rows.count),
                   silhouette: silhouette(f, assign: assign))
    }
  }
}
