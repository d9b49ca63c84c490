import Foundation

/// HDBSCAN (Campello, Moulavi, Sander 2013; McInnes, Healy 2017), as scikit-learn's `HDBSCAN` with
/// its defaults (Euclidean distance, alpha 1, `cluster_selection_method="eom"`, epsilon 0, no
/// single cluster): density-based clusters of any shape and a noise label, the clustering CUBE uses.
///
/// 1. Core distance of a point: the distance to its `minSamples`-th nearest neighbour, counting
///    the point itself (so the (minSamples - 1)-th other point).
/// 2. Mutual reachability d(a, b) = max(core(a), core(b), |a - b|); its minimum spanning tree
///    (Prim, O(n²)) sorted by weight is a single-linkage hierarchy.
/// 3. The hierarchy condensed with `minClusterSize`: walking down from the root at lambda = 1 /
///    distance, a split whose two sides both hold at least `minClusterSize` points makes two new
///    clusters; a side smaller than that falls out of its cluster as points.
/// 4. A cluster's stability is the sum over its points of (lambda where the point leaves - lambda
///    where the cluster was born); bottom up, a cluster is selected when its stability is at least
///    the sum of its selected descendants' (excess of mass). The root is never selected.
/// 5. A point takes the label of the selected cluster it lies under; other points are noise (-1).
public enum HDBSCAN {
  /// Labels 0..<k of the points (in order of the clusters' first appearance in the condensed tree),
  /// -1 for noise. The points must be finite (callers check data they did not make).
  public static func fit(_ x: [[Double]], minClusterSize: Int = 5, minSamples: Int? = nil) -> [Int] {
    let n = x.count
    guard n > 1 else { return [Int](repeating: -1, count: n) }
    precondition(x.allSatisfy { $0.allSatisfy(\.isFinite) }, "HDBSCAN.fit: a point with NaN or infinite coordinates")
    let k = min(max(1, minSamples ?? minClusterSize), n)
    func dist(_ a: Int, _ b: Int) -> Double {
      var s = 0.0
      for j in x[a].indices { let d = x[a][j] - x[b][j]; s += d * d }
      return s.squareRoot()
    }
    var d = [Double](repeating: 0, count: n * n)
    for a in 0..<n { for b in (a + 1)..<n { let v = dist(a, b); d[a * n + b] = v; d[b * n + a] = v } }
    // 1. Core distances: the k-th smallest distance of each row, the point itself (0) included.
    let core = (0..<n).map { a -> Double in Array(d[(a * n)..<(a * n + n)]).sorted()[k - 1] }
    // 2. Prim's MST on mutual reachability.
    var inTree = [Bool](repeating: false, count: n), best = [Double](repeating: .infinity, count: n)
    var from = [Int](repeating: -1, count: n)
    var edges: [(a: Int, b: Int, w: Double)] = []
    var current = 0
    inTree[0] = true
    for _ in 1..<n {
      var next = -1, nextW = Double.infinity
      for b in 0..<n where !inTree[b] {
        let w = max(core[current], core[b], d[current * n + b])
        if w < best[b] { best[b] = w; from[b] = current }
        if best[b] < nextW { nextW = best[b]; next = b }
      }
      edges.append((from[next], next, nextW))
      inTree[next] = true
      current = next
    }
    edges = edges.enumerated().sorted { $0.element.w != $1.element.w ? $0.element.w < $1.element.w : $0.offset < $1.offset }.map(\.element)
    // Single linkage: node ids 0..<n are points, n + i the i-th merge (children, distance, size).
    var parent = [Int](repeating: -1, count: 2 * n - 1), size = [Int](repeating: 1, count: 2 * n - 1)
    var children = [(Int, Int)](repeating: (-1, -1), count: 2 * n - 1), height = [Double](repeating: 0, count: 2 * n - 1)
    var root = Array(0..<(2 * n - 1))
    func find(_ i: Int) -> Int { var i = i; while root[i] != i { root[i] = root[root[i]]; i = root[i] }; return i }
    for (i, e) in edges.enumerated() {
      let node = n + i, ra = find(e.a), rb = find(e.b)
      children[node] = (ra, rb); height[node] = e.w; size[node] = size[ra] + size[rb]
      parent[ra] = node; parent[rb] = node; root[ra] = node; root[rb] = node
    }
    // 3. Condensed tree: (parent cluster, child: point or cluster, lambda, size).
    struct Entry { var parent: Int; var child: Int; var lambda: Double; var size: Int; var isCluster: Bool }
    var condensed: [Entry] = []
    func lambda(_ h: Double) -> Double { h > 0 ? 1 / h : .infinity }
    func leaves(_ node: Int) -> [Int] {
      var out: [Int] = [], stack = [node]
      while let v = stack.popLast() { if v < n { out.append(v) } else { stack.append(children[v].1); stack.append(children[v].0) } }
      return out
    }
    var nextCluster = 1  // cluster 0 is the root
    var stack: [(node: Int, cluster: Int)] = [(2 * n - 2, 0)]
    while let (node, cluster) = stack.popLast() {
      guard node >= n else { continue }
      let (l, r) = children[node], lam = lambda(height[node])
      let bigL = size[l] >= minClusterSize, bigR = size[r] >= minClusterSize
      if bigL && bigR {
        for c in [l, r] {
          condensed.append(Entry(parent: cluster, child: nextCluster, lambda: lam, size: size[c], isCluster: true))
          stack.append((c, nextCluster))
          nextCluster += 1
        }
      } else {
        for (c, big) in [(l, bigL), (r, bigR)] {
          if big { stack.append((c, cluster)) } else {
            for p in leaves(c) { condensed.append(Entry(parent: cluster, child: p, lambda: lam, size: 1, isCluster: false)) }
          }
        }
      }
    }
    // 4. Stability and excess-of-mass selection.
    let clusters = nextCluster
    var birth = [Double](repeating: 0, count: clusters), stability = [Double](repeating: 0, count: clusters)
    var kids = [[Int]](repeating: [], count: clusters)
    for e in condensed where e.isCluster { birth[e.child] = e.lambda; kids[e.parent].append(e.child) }
    // Merges at distance 0 (duplicate points) have lambda = inf, and so does a cluster holding
    // them: its stability is infinite, as in scikit-learn (which then always selects it).
    for e in condensed { stability[e.parent] += (e.lambda - birth[e.parent]) * Double(e.size) }
    var selected = [Bool](repeating: false, count: clusters), score = stability
    for c in stride(from: clusters - 1, through: 1, by: -1) {
      let sum = kids[c].reduce(0) { $0 + score[$1] }
      // scikit-learn's test, NaN included (inf - inf): the children win only when strictly more stable.
      if kids[c].isEmpty || !(sum > stability[c]) {
        selected[c] = true
        var s = kids[c]
        while let v = s.popLast() { selected[v] = false; s += kids[v] }
      } else {
        score[c] = sum
      }
    }
    // 5. Labels: each point under its selected ancestor cluster.
    var clusterParent = [Int](repeating: -1, count: clusters)
    for e in condensed where e.isCluster { clusterParent[e.child] = e.parent }
    var labelOf = [Int](repeating: -1, count: clusters), k2 = 0
    for c in 1..<max(clusters, 1) where selected[c] { labelOf[c] = k2; k2 += 1 }
    var labels = [Int](repeating: -1, count: n)
    for e in condensed where !e.isCluster {
      var c = e.parent
      while c > 0 && !selected[c] { c = clusterParent[c] }
      labels[e.child] = c > 0 ? labelOf[c] : -1
    }
    return labels
  }
}
