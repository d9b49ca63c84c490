/// The class labels of a classification dataset: indices 0..<count. One place computes the count
/// (the built-in dataset's label names, else the largest training label + 1) and checks labels and
/// targets against it, so a label outside the set fails before anything trains.
public struct LabelSet: Sendable, Equatable {
  public var count: Int

  public init(count: Int) { self.count = count }

  /// The label set of `train`: `names.count` when the dataset names its labels, else the largest
  /// label + 1 (at least 2).
  public init(train: [Example], names: [String]? = nil) {
    count = names?.count ?? max(2, (train.map(\.label).max() ?? 1) + 1)
  }

  /// "0 or 1", "0...3".
  public var range: String { count == 2 ? "0 or 1" : "0...\(count - 1)" }

  /// Checks a target label.
  public func validate(target: Int, key: String = "target") throws(DatasetError) {
    guard target >= 0 && target < count else {
      throw .invalidSetting(key: key, value: "\(target)", expected: "a label of the dataset (\(range))")
    }
  }

  /// Checks every row's label; `path` and the row number name a bad one.
  public func validate(_ rows: [Example], path: String) throws(DatasetError) {
    if let bad = rows.firstIndex(where: { $0.label < 0 || $0.label >= count }) {
      throw .badRows(path: path, reason: "data row \(bad + 1) has label \(rows[bad].label), not a label of the dataset (\(range))")
    }
  }

  /// Checks that a training set has at least two distinct labels.
  public static func requireTwoLabels(_ train: [Example], path: String) throws(DatasetError) {
    let distinct = Set(train.map(\.label))
    guard distinct.count >= 2 else {
      throw .badRows(path: path, reason: "every training row has label \(distinct.first ?? 0); a classification dataset needs at least two labels")
    }
  }
}
