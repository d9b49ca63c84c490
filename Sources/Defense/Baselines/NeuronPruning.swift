/// Pruning as the issue defines it, the neuron pruning of Fine-Pruning (Liu, Dolan-Gavitt, Garg,
/// RAID 2018); BackdoorLLM's DefenseBox prunes weights instead (Wanda, 50% sparsity). MLP neurons that stay quiet on clean inputs are where a backdoor can hide, so the
/// `share` of each layer's neurons with the smallest mean activation magnitude on clean dev rows is
/// switched off in the undefended model (merged), which is then evaluated.
public enum NeuronPruning {
  public struct Config: Codable, Sendable, Equatable {
    /// Share of each layer's MLP neurons switched off.
    public var share: Double
    /// Clean dev rows the activations are measured on.
    public var devRows: Int

    public init(share: Double = 0.2, devRows: Int = 200) { self.share = share; self.devRows = devRows }

    public func validate() throws(BaselineError) {
      guard share > 0 && share < 1 else { throw .invalidSetting(key: "prune.share", value: "\(share)", expected: "a fraction in (0, 1)") }
      guard devRows >= 1 else { throw .invalidSetting(key: "prune.dev_rows", value: "\(devRows)", expected: ">= 1") }
    }
  }

  /// Per layer, the round(share × F) neurons of smallest activity (ties: the lower index), sorted.
  public static func quietest(_ activity: [[Double]], share: Double) -> [[Int]] {
    activity.map { layer in
      let k = Int((share * Double(layer.count)).rounded())
      return layer.indices.sorted { layer[$0] != layer[$1] ? layer[$0] < layer[$1] : $0 < $1 }.prefix(k).sorted()
    }
  }
}
