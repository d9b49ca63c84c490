import TensorCore

/// What the probe screen found: the per-label splits, the labels judged poisoned, the flagged
/// rows and, for each, the label the probe ranks next to the row's own.
public struct ProbeScreenResult: Codable, Sendable, Equatable {
  public var splits: [ActivationClustering.Split]
  public var poisonedLabels: [Int]
  /// Flagged rows (indices into the training set), most atypical first: the small clusters'
  /// rankings (`ActivationClustering.Split.smallCluster`) taken in turn, one row of each label.
  public var flaggedRows: [Int]
  /// One per flagged row: the label of largest probe score other than the row's own.
  public var flipLabels: [Int]
  /// Wall-clock seconds the screen took (reading the representations and judging them; not the
  /// probe's training), when the caller recorded it.
  public var seconds: Double?
  /// The relative spectral screen's per-label findings, when it made this result (`splits` is then empty).
  public var spectral: [RelativeSpectral.Direction]?
  /// The label shares the spectral screen compared the training set's with.
  public var reference: LabelReference?
  /// One per flagged row (spectral screen): whether a classifier that reads the row's text (the
  /// base model's states; intercept, class-balanced, fitted without the flagged rows) gives it
  /// another label, and that classifier's best other label. `FlipCover` uses them with
  /// `P2PConfig.confirmFlips` (`p2p-confirm`). nil for the probe screen and results written before.
  public var confirmedFlips: [Bool]?
  public var confirmedLabels: [Int]?

  public init(splits: [ActivationClustering.Split], poisonedLabels: [Int], flaggedRows: [Int], flipLabels: [Int], seconds: Double? = nil,
              spectral: [RelativeSpectral.Direction]? = nil) {
    self.splits = splits; self.poisonedLabels = poisonedLabels; self.flaggedRows = flaggedRows; self.flipLabels = flipLabels
    self.seconds = seconds; self.spectral = spectral
  }
}

/// The decision of the probe screen (`P2PConfig.probeScreen`). Each label's rows are split in
/// two by activation clustering on the hidden states of a probe classifier fine-tuned on the
/// possibly-poisoned training set; the smaller cluster is the candidate. Chen et al. 2018's
/// *exclusionary reclassification* then tells a poison cluster from a natural one: a classifier
/// trained without the candidate rows on features that do not know the trigger (here a ridge
/// classifier on the *base* model's sentence representations) gives a poison cluster — text of
/// another class carrying the target label — mostly other labels, and a natural cluster mostly
/// its own. A label whose candidate is reclassified at a rate >= `minReclassified` (and holds at
/// most `maxRelativeSize` of its rows) is judged poisoned and its candidate flagged, ranked by how
/// far each row lies towards the small cluster.
public enum ProbeScreen {
  public struct Criteria: Codable, Sendable, Equatable {
    /// Principal components of the probe's states kept for 2-means.
    public var components: Int
    public var minReclassified: Double
    public var maxRelativeSize: Double
    /// Ridge penalty of the reclassifier on standardized base features.
    public var ridge: Double
    public init(components: Int = 10, minReclassified: Double = 0.4, maxRelativeSize: Double = 0.5, ridge: Double = 100) {
      self.components = components; self.minReclassified = minReclassified; self.maxRelativeSize = maxRelativeSize
      self.ridge = ridge
    }
  }

  /// features: the probe's hidden state at the answer position of each training row; scores: its
  /// label-word logits there (rows × labels); baseFeatures: the base model's representation of
  /// each row; labels: the training labels.
  public static func judge(features: [[Float]], scores: [[Float]], baseFeatures: [[Float]], labels: [Int],
                           criteria: Criteria = Criteria(), seed: UInt64) throws(DefenseError) -> ProbeScreenResult {
    guard features.count == labels.count, scores.count == labels.count, baseFeatures.count == labels.count else {
      throw .invalidConfig(key: "probe features", value: "\(features.count) features, \(scores.count) scores, \(baseFeatures.count) base features",
                           expected: "\(labels.count), one per training row")
    }
    for (i, y) in labels.enumerated() where y < 0 || y >= scores[i].count || scores[i].count < 2 {
      throw .badLabel(row: i, label: y, labels: scores[i].count)
    }
    let n = scores[0].count
    var rng = SeededRNG(seed: seed)
    var splits = ActivationClustering.splits(features: features, labels: labels, components: criteria.components, using: &rng)
    let base = RidgeClassifier.standardized(baseFeatures)
    for k in splits.indices {
      let candidate = Set(splits[k].smallCluster)
      let rest = labels.indices.filter { !candidate.contains($0) }
      guard !candidate.isEmpty, Set(rest.map { labels[$0] }).count >= 2 else { continue }
      let model = RidgeClassifier.fit(rest.map { base[$0] }, labels: rest.map { labels[$0] }, classes: n, ridge: criteria.ridge)
      let moved = splits[k].smallCluster.filter { model.predict(base[$0]) != splits[k].label }.count
      splits[k].reclassified = Double(moved) / Double(candidate.count)
    }
    let poisoned = splits.filter { ($0.reclassified ?? 0) >= criteria.minReclassified && $0.relativeSize <= criteria.maxRelativeSize }
    var flagged: [Int] = []
    for rank in 0..<(poisoned.map(\.smallCluster.count).max() ?? 0) {
      for split in poisoned where rank < split.smallCluster.count { flagged.append(split.smallCluster[rank]) }
    }
    let flips = flagged.map { i -> Int in
      var best = -1
      for (j, v) in scores[i].enumerated() where j != labels[i] && (best < 0 || v > scores[i][best]) { best = j }
      return best
    }
    return ProbeScreenResult(splits: splits, poisonedLabels: poisoned.map(\.label), flaggedRows: flagged, flipLabels: flips)
  }
}
