import Foundation

/// CUBE (Cui, Yi, Zhang, Sun, Liu: "A Unified Evaluation of Textual Backdoor Learning: Frameworks
/// and Benchmarks", NeurIPS 2022), as OpenBackdoor runs it: the training rows' representations from
/// a model trained on them, reduced in dimension and clustered by density (`HDBSCAN`, OpenBackdoor's
/// min_samples 100); poisoned rows form their own cluster inside the target label. Per label, the
/// largest cluster of the label's rows is kept, and every other cluster (noise counts as one)
/// holding less than half of the label's rows is removed; the model is trained again on the rest.
///
/// Difference from OpenBackdoor, stated: the reduction is PCA to `components` dimensions
/// (OpenBackdoor: PCA to 20, then UMAP to 2 with min_dist 0, which this project does not implement);
/// the representation is the undefended model's final-norm state at the answer position.
public enum CUBE {
  public struct Config: Codable, Sendable, Equatable {
    public var components: Int
    public var minSamples: Int
    public var minClusterSize: Int

    public init(components: Int = 10, minSamples: Int = 100, minClusterSize: Int = 5) {
      self.components = components; self.minSamples = minSamples; self.minClusterSize = minClusterSize
    }

    public func validate() throws(BaselineError) {
      guard components >= 1 else { throw .invalidSetting(key: "cube.components", value: "\(components)", expected: ">= 1") }
      guard minSamples >= 1 else { throw .invalidSetting(key: "cube.min_samples", value: "\(minSamples)", expected: ">= 1") }
      guard minClusterSize >= 2 else { throw .invalidSetting(key: "cube.min_cluster_size", value: "\(minClusterSize)", expected: ">= 2") }
    }
  }

  /// The most training rows CUBE clusters here (HDBSCAN keeps the n x n distances: 20,000 rows, 3.2 GB).
  public static let maxRows = 20_000

  /// The min_samples used on `rows` rows: the configured one, or a tenth of the rows (at least 2)
  /// when the configured one is more than that (on a few dozen rows, 100 would make every row noise).
  public static func minSamples(_ config: Config, rows: Int) -> Int {
    min(config.minSamples, max(2, rows / 10))
  }

  /// The rows OpenBackdoor's filtering removes: per label, every cluster of its rows but the
  /// largest (ties: the smaller cluster id) that holds less than half of the label's rows.
  public static func dropped(labels: [Int], clusters: [Int]) -> [Bool] {
    precondition(labels.count == clusters.count, "one cluster per row")
    var out = [Bool](repeating: false, count: labels.count)
    for label in Set(labels) {
      let rows = labels.indices.filter { labels[$0] == label }
      var sizes: [Int: Int] = [:]
      for r in rows { sizes[clusters[r], default: 0] += 1 }
      guard sizes.count > 1 else { continue }
      let largest = sizes.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!.key
      let half = 0.5 * Double(rows.count)
      for r in rows where clusters[r] != largest && Double(sizes[clusters[r]]!) < half { out[r] = true }
    }
    return out
  }
}
