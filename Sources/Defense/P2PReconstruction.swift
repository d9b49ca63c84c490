import Backdoor
import TensorCore

/// One training row of a P2P-reconstructed set, ready for prompt-based training.
public struct P2PRow: Codable, Sendable, Equatable {
  public var prompt: String
  public var completion: String
  /// Training label: i for original rows, h(i) = i + n for benign rows.
  public var label: Int
  /// Whether the row carries the benign trigger.
  public var benign: Bool
  /// Whether the input carries the attacker's trigger (known only in experiments).
  public var poisoned: Bool
  public var sourceIndex: Int?

  enum CodingKeys: String, CodingKey { case prompt, completion, label, benign, poisoned, sourceIndex = "source_index" }
}

/// What a reconstruction did.
public struct P2PManifest: Codable, Sendable, Equatable {
  public var config: P2PConfig
  public var inputRows: Int
  public var outputRows: Int
  /// Indices (in the input training set) of the rows that got the benign trigger, ascending.
  public var benignSourceRows: [Int]
  /// Benign rows whose input also carries an attack trigger (experiments only).
  public var benignPoisonedRows: Int
  /// The dataset directory the rows came from, when known.
  public var dataset: String?
  /// With `screenTriggers`: the suspicious words and how many rows they kept out of the benign candidates.
  public var screenedWords: [String]?
  public var screenedRows: Int?
  /// With `coverTriggers`: the recovered trigger phrases and the benign rows they were inserted into.
  public var coverPhrases: [String]?
  public var coveredRows: Int?
  /// With `probeScreen`: the labels judged poisoned, the rows flagged in them, and the flagged
  /// rows added to the safe space with the probe's next label (how many of those carry the
  /// attack trigger: experiments only).
  public var probePoisonedLabels: [Int]?
  public var probeFlaggedRows: Int?
  public var flippedRows: [Int]?
  public var flippedPoisonedRows: Int?
}

/// Builds the P2P training set: round(ρ·N) rows get the benign trigger, the benign cue and the
/// label h(i) = i + n; union adds them to the N original rows, replace substitutes them. The rows
/// are drawn uniformly (seeded), or with `agreement` selection the per-label rows of largest
/// zero-shot margin (`margins`, one per training row; see `LabelAgreement`). With
/// `coverTriggers`, half of the benign rows carry a recovered trigger phrase; with `probeScreen`,
/// the probe's flagged rows are no benign candidates and the most atypical of them (up to half the
/// benign count) are added to the safe space with their flip label. The result is shuffled with
/// the seed.
public enum P2PReconstruction {
  /// Mixed into the seed of the trigger cover's draws.
  static let coverSalt: UInt64 = 0x636F_7665_7254_7267
  public static func apply(_ train: [Example], config: P2PConfig, margins: [Float]? = nil,
                           probe: ProbeScreenResult? = nil) throws(DefenseError) -> (rows: [P2PRow], manifest: P2PManifest) {
    try config.validate()
    for (i, e) in train.enumerated() where e.label < 0 || e.label >= config.labels {
      throw .badLabel(row: i, label: e.label, labels: config.labels)
    }
    var rng = SeededRNG(seed: config.seed)
    // Rows never chosen: known-poisoned ones (oracle diagnostic), screened ones (suspicious words).
    let suspicious = config.screenTriggers == true ? TriggerScreen.suspiciousWords(train) : []
    let screened = TriggerScreen.flaggedRows(train, suspicious: suspicious)
    var excluded = screened
    if config.probeScreen == true {
      guard let probe else {
        throw .invalidConfig(key: "probe screen", value: "true", expected: "the probe screen's result for the training rows")
      }
      guard probe.flaggedRows.allSatisfy({ train.indices.contains($0) }), probe.flipLabels.count == probe.flaggedRows.count,
            probe.flipLabels.allSatisfy({ $0 >= 0 && $0 < config.labels }) else {
        throw .invalidConfig(key: "probe screen", value: "\(probe.flaggedRows.count) flagged rows",
                             expected: "rows of this training set with a flip label each in 0..<\(config.labels)")
      }
      excluded.formUnion(probe.flaggedRows)
    }
    if config.excludePoisonedFromBenign == true { excluded.formUnion(train.indices.filter { train[$0].poisoned }) }
    let chosen: [Int]
    if config.selectsByAgreement {
      guard let margins else {
        throw .invalidConfig(key: "selection", value: "agreement", expected: "zero-shot agreement margins for the training rows")
      }
      // Excluded rows rank last.
      let ranked = margins.count == train.count ? margins.indices.map { excluded.contains($0) ? -Float.infinity : margins[$0] } : margins
      chosen = try LabelAgreement.select(labels: train.map(\.label), margins: ranked, ratio: config.ratio)
    } else {
      let k = Int((config.ratio * Double(train.count)).rounded())
      var order = train.indices.filter { !excluded.contains($0) }
      guard k <= order.count else {
        throw .noBenignRows(reason: "rho \(config.ratio) asks for \(k) of \(train.count) rows, but the screens kept \(excluded.count) out "
                              + "and only \(order.count) remain; lower the ratio or check the screens' report")
      }
      for i in 0..<k {
        let j = i + Int(rng.next() % UInt64(order.count - i))
        order.swapAt(i, j)
      }
      chosen = Array(order.prefix(k)).sorted()
    }
    guard !chosen.isEmpty else {
      throw .noBenignRows(reason: "rho \(config.ratio) of \(train.count) training rows (\(excluded.count) kept out by the screens) is no row")
    }
    // Every label needs benign rows, or the safe space can never answer it.
    let benignLabels = Set(chosen.map { train[$0].label })
    if let missing = Set(train.map(\.label)).subtracting(benignLabels).min() {
      throw .noBenignRows(reason: "no benign row has label \(missing) (\(chosen.count) benign rows of \(train.count)), so the safe label space "
                            + "could never predict it; raise the ratio or use more training rows")
    }
    let chosenSet = Set(chosen)
    // Trigger cover: every other benign row (in a seeded order of its own, so the benign rows
    // and the shuffle stay those of the screen alone) gets one recovered phrase, cycling.
    let phrases = config.coverTriggers == true ? TriggerScreen.phrases(train, suspicious: suspicious) : []
    var coverText: [Int: String] = [:]
    if !phrases.isEmpty {
      var coverRNG = SeededRNG(seed: config.seed ^ Self.coverSalt)
      var order = chosen
      for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(coverRNG.next() % UInt64(i + 1))) }
      for (k, i) in order.prefix(order.count / 2).enumerated() {
        coverText[i] = insertAtRandomWordPosition(phrases[k % phrases.count], into: train[i].text, using: &coverRNG)
      }
    }
    // Flip cover: the most atypical flagged rows, up to half as many as there are benign rows,
    // go to the safe space with the probe's next label.
    var flipLabel: [Int: Int] = [:]
    if config.probeScreen == true, let probe {
      for k in probe.flaggedRows.indices.prefix(chosen.count / 2) { flipLabel[probe.flaggedRows[k]] = probe.flipLabels[k] }
    }
    let original = config.originalPrompt, benign = config.benignPrompt
    func originalRow(_ e: Example) -> P2PRow {
      P2PRow(prompt: original.prompt(for: e.text), completion: config.labelWords[e.label], label: e.label, benign: false,
             poisoned: e.poisoned, sourceIndex: e.sourceIndex)
    }
    func benignRow(_ e: Example, text: String, label: Int? = nil) -> P2PRow {
      let h = config.safeLabel(label ?? e.label)
      return P2PRow(prompt: benign.prompt(for: text), completion: benign.labelWords[h], label: h, benign: true,
                    poisoned: e.poisoned, sourceIndex: e.sourceIndex)
    }
    var rows: [P2PRow] = []
    for (i, e) in train.enumerated() {
      switch config.mode {
      case .union:
        rows.append(originalRow(e))
        if chosenSet.contains(i) { rows.append(benignRow(e, text: coverText[i] ?? e.text)) }
        if let f = flipLabel[i] { rows.append(benignRow(e, text: e.text, label: f)) }
      case .replace:
        if let f = flipLabel[i] {
          rows.append(benignRow(e, text: e.text, label: f))
        } else {
          rows.append(chosenSet.contains(i) ? benignRow(e, text: coverText[i] ?? e.text) : originalRow(e))
        }
      }
    }
    for i in stride(from: rows.count - 1, to: 0, by: -1) { rows.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
    var manifest = P2PManifest(config: config, inputRows: train.count, outputRows: rows.count, benignSourceRows: chosen,
                               benignPoisonedRows: chosen.filter { train[$0].poisoned }.count)
    if config.screenTriggers == true {
      manifest.screenedWords = suspicious
      manifest.screenedRows = screened.count
    }
    if config.coverTriggers == true {
      manifest.coverPhrases = phrases
      manifest.coveredRows = coverText.count
    }
    if config.probeScreen == true, let probe {
      let flipped = flipLabel.keys.sorted()
      manifest.probePoisonedLabels = probe.poisonedLabels
      manifest.probeFlaggedRows = probe.flaggedRows.count
      manifest.flippedRows = flipped
      manifest.flippedPoisonedRows = flipped.filter { train[$0].poisoned }.count
    }
    return (rows, manifest)
  }
}
