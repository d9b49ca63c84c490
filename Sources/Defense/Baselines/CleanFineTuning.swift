import Backdoor

/// Clean fine-tuning (BackdoorLLM's DefenseBox, "fine-tuning"): the undefended adapter is trained
/// further on a small set of clean labelled rows, which is meant to overwrite the backdoor. The
/// rows are the first `rowsPerLabel` of each label in the dataset's clean dev split (never the
/// test rows, never the possibly poisoned training rows).
public enum CleanFineTuning {
  public struct Config: Codable, Sendable, Equatable {
    public var rowsPerLabel: Int
    public var epochs: Int
    /// nil: the cell's learning rate.
    public var learningRate: Float?

    public init(rowsPerLabel: Int = 100, epochs: Int = 2, learningRate: Float? = nil) {
      self.rowsPerLabel = rowsPerLabel; self.epochs = epochs; self.learningRate = learningRate
    }

    public func validate() throws(BaselineError) {
      guard rowsPerLabel >= 1 else { throw .invalidSetting(key: "finetune.rows_per_label", value: "\(rowsPerLabel)", expected: ">= 1") }
      guard epochs >= 1 else { throw .invalidSetting(key: "finetune.epochs", value: "\(epochs)", expected: ">= 1") }
      if let lr = learningRate, !(lr > 0 && lr.isFinite) {
        throw .invalidSetting(key: "finetune.lr", value: "\(lr)", expected: "a positive number")
      }
    }
  }

  /// The clean rows: the first `perLabel` of each label of `dev` (all of a label's rows when it has
  /// fewer), in the split's order; an error when there is no dev split or a label has no row.
  public static func rows(dev: [Example]?, labels: Int, perLabel: Int) throws(BaselineError) -> [Example] {
    guard let dev, !dev.isEmpty else {
      throw .noCleanRows(defense: "finetune", reason: "the dataset has no dev split (dev.jsonl); clean fine-tuning never trains on test rows")
    }
    var taken = [Int](repeating: 0, count: labels), out: [Example] = []
    for e in dev where e.label >= 0 && e.label < labels && taken[e.label] < perLabel {
      taken[e.label] += 1
      out.append(e)
    }
    if let missing = taken.indices.first(where: { taken[$0] == 0 }) {
      throw .noCleanRows(defense: "finetune", reason: "the dev split has no row of label \(missing)")
    }
    return out
  }
}
