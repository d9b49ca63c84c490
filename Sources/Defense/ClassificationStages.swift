import Backdoor
import TensorCore

/// The state of a classification P2P pipeline (`P2PReconstruction`): the training rows and what
/// the stages decided so far. Inputs computed with the model (agreement margins, the probe's
/// result) come in with it.
public struct ClassificationDefenseState: DrawState {
  public let train: [Example]
  public let config: P2PConfig
  /// Zero-shot agreement margins, one per training row (agreement selection).
  public var margins: [Float]?
  /// The probe screen's result (probe stages).
  public var probe: ProbeScreenResult?
  /// The benign draw and the final shuffle share this generator.
  public var rng: SeededRNG
  /// Rows never chosen as benign.
  public var excluded: Set<Int> = []
  /// Suspicious trigger words found by the screen.
  public var suspicious: [String] = []
  /// The benign rows, ascending.
  public var chosen: [Int] = []
  /// Benign rows whose input carries a recovered trigger phrase: the covered text.
  public var coverText: [Int: String] = [:]
  /// Flagged rows added to the safe space with another label.
  public var flipLabel: [Int: Int] = [:]
  /// What the stages report (their fields of the manifest).
  public var record: P2PManifest

  public init(train: [Example], config: P2PConfig, margins: [Float]? = nil, probe: ProbeScreenResult? = nil) {
    self.train = train; self.config = config; self.margins = margins; self.probe = probe
    rng = SeededRNG(seed: config.seed)
    record = P2PManifest(config: config, inputRows: train.count, outputRows: 0, benignSourceRows: [], benignPoisonedRows: 0)
  }

  public var rowCount: Int { train.count }
  public var ratio: Double { config.ratio }

  /// A partial Fisher–Yates shuffle with `rng.next() % n` (the draw every result so far used), sorted.
  public mutating func draw(_ k: Int, from candidates: [Int]) -> [Int] {
    var order = candidates
    for i in 0..<k {
      let j = i + Int(rng.next() % UInt64(order.count - i))
      order.swapAt(i, j)
    }
    return Array(order.prefix(k)).sorted()
  }

  public func shortfall(wanted: Int, available: Int) -> any Error {
    DefenseError.noBenignRows(reason: "rho \(ratio) asks for \(wanted) of \(rowCount) rows, but the screens kept \(excluded.count) out "
                                + "and only \(available) remain; lower the ratio or check the screens' report")
  }

  public func checkChosen() throws { try ClassificationStages.requireBenignRows(self) }

  /// Keeps `rows` out of the benign candidates; returns how many they are.
  mutating func exclude(_ rows: Set<Int>) -> Int {
    excluded.formUnion(rows)
    return rows.count
  }

  /// The probe screen's result, which the probe stages need.
  func requireProbe() throws(DefenseError) -> ProbeScreenResult {
    guard let probe else {
      throw .invalidConfig(key: config.spectralScreen == true ? "spectral screen" : "probe screen", value: "true",
                           expected: "the screen's result for the training rows")
    }
    return probe
  }
}

/// The classification stages by name.
public enum ClassificationStages {
  public static let registry = StageRegistry<ClassificationDefenseState>([
    TriggerWordScreen(), ProbeExclusion(), ProbeExclusion(name: "spectral"), OracleExclusion(), RandomSelection<ClassificationDefenseState>(), AgreementSelection(),
    StratifiedSelection(), TriggerCover(), FlipCover(),
  ])

  /// The stage names a configuration runs, in order: the screens, the selection, the covers.
  public static func names(for config: P2PConfig) -> [String] {
    var s: [String] = []
    // Released words (the default's probe path) still keep their rows out of the benign candidates.
    if config.screenTriggers == true || !(config.releasedWords ?? []).isEmpty { s.append(TriggerWordScreen().name) }
    if config.probeScreen == true { s.append(ProbeExclusion().name) }
    if config.spectralScreen == true { s.append(ProbeExclusion(name: "spectral").name) }
    if config.excludePoisonedFromBenign == true { s.append(OracleExclusion().name) }
    switch config.selection ?? .random {
    case .random: s.append(RandomSelection<ClassificationDefenseState>().name)
    case .agreement: s.append(AgreementSelection().name)
    case .stratified: s.append(StratifiedSelection().name)
    }
    if config.coverTriggers == true { s.append(TriggerCover().name) }
    if config.probeScreen == true || config.spectralScreen == true { s.append(FlipCover().name) }
    return s
  }

  /// Every label needs benign rows, or the safe space can never answer it.
  static func requireBenignRows(_ state: ClassificationDefenseState) throws(DefenseError) {
    let train = state.train, chosen = state.chosen, ratio = state.config.ratio
    guard !chosen.isEmpty else {
      throw DefenseError.noBenignRows(reason: "rho \(ratio) of \(train.count) training rows (\(state.excluded.count) kept out by the screens) is no row")
    }
    let benignLabels = Set(chosen.map { train[$0].label })
    if let missing = Set(train.map(\.label)).subtracting(benignLabels).min() {
      throw DefenseError.noBenignRows(reason: "no benign row has label \(missing) (\(chosen.count) benign rows of \(train.count)), so the safe label space "
                            + "could never predict it; raise the ratio or use more training rows")
    }
  }
}

/// Keeps rows with a suspicious label-pure frequent word out of the benign candidates
/// (`TriggerScreen`). Words the insertion test released as natural text (`P2PConfig.releasedWords`)
/// keep their rows out too (a label-pure word is suspicious either way: SynBkd's `when` rows are
/// its paraphrases), but only the others are trigger words for the cover.
public struct TriggerWordScreen: DefenseStage {
  public var name: String { "screen" }
  public func apply(to s: inout ClassificationDefenseState) throws {
    let flagged = TriggerScreen.suspiciousWords(s.train), released = Set(s.config.releasedWords ?? [])
    s.suspicious = flagged.filter { !released.contains($0) }
    s.record.screenedWords = flagged
    s.record.screenedRows = s.exclude(TriggerScreen.flaggedRows(s.train, suspicious: flagged))
  }
}

/// Keeps the rows the probe screen (`ProbeScreen`, stage `probe`) or the relative spectral screen
/// (`RelativeSpectral`, stage `spectral`) flagged out of the benign candidates.
public struct ProbeExclusion: DefenseStage {
  public let name: String
  public init(name: String = "probe") { self.name = name }
  public func apply(to s: inout ClassificationDefenseState) throws {
    let probe = try s.requireProbe(), labels = s.config.labels, train = s.train
    guard probe.flaggedRows.allSatisfy({ train.indices.contains($0) }), probe.flipLabels.count == probe.flaggedRows.count,
          probe.flipLabels.allSatisfy({ $0 >= 0 && $0 < labels }),
          probe.confirmedFlips.map({ $0.count == probe.flaggedRows.count }) ?? true,
          probe.confirmedLabels.map({ $0.count == probe.flaggedRows.count && $0.allSatisfy { $0 >= 0 && $0 < labels } }) ?? true else {
      throw DefenseError.invalidConfig(key: "probe screen", value: "\(probe.flaggedRows.count) flagged rows",
                           expected: "rows of this training set with a flip label each in 0..<\(labels)")
    }
    _ = s.exclude(Set(probe.flaggedRows))
    if let reference = probe.reference {
      let n = Double(max(1, train.count))
      s.record.labelShares = (0..<labels).map { l in Double(train.filter { $0.label == l }.count) / n }
      s.record.referenceShares = reference.shares
      s.record.referenceSource = reference.source
    }
  }
}

/// Oracle diagnostic, not a deployable defense: keeps the rows known to be poisoned out.
public struct OracleExclusion: DefenseStage {
  public var name: String { "oracle" }
  public func apply(to s: inout ClassificationDefenseState) throws {
    _ = s.exclude(Set(s.train.indices.filter { s.train[$0].poisoned }))
  }
}

/// Benign rows per label by the base model's zero-shot agreement (`LabelAgreement`); excluded rows rank last.
public struct AgreementSelection: DefenseStage {
  public var name: String { "agreement" }
  public func apply(to s: inout ClassificationDefenseState) throws {
    guard let margins = s.margins else {
      throw DefenseError.invalidConfig(key: "selection", value: "agreement", expected: "zero-shot agreement margins for the training rows")
    }
    let excluded = s.excluded
    let ranked = margins.count == s.train.count ? margins.indices.map { excluded.contains($0) ? -Float.infinity : margins[$0] } : margins
    s.chosen = try LabelAgreement.select(labels: s.train.map(\.label), margins: ranked, ratio: s.config.ratio)
    try ClassificationStages.requireBenignRows(s)
  }
}

/// Benign rows per label (`BenignSelection.stratified`; our extension): each label gets
/// round(ρ · its candidate rows), the rows of that label no screen kept out (ρ 1: all of them), so
/// the safe label space keeps each label's share of the rows the screens trust. A label the
/// relative spectral screen flagged takes its candidates in the screen's order, farthest from the
/// trigger's end first (`RelativeSpectral.Direction.farEnd`): the poisoned rows the screen missed
/// lie nearer the trigger's end (1,000-row SST-2 paraphrase sets: 0-12 poisoned rows in the
/// farthest 20% of the flagged label, 14-42 in its unflagged half). The other labels' rows are
/// drawn at random with the seed.
public struct StratifiedSelection: DefenseStage {
  public init() {}
  public var name: String { "stratified" }
  public func apply(to s: inout ClassificationDefenseState) throws {
    var order: [Int: [Int]] = [:]
    for d in s.probe?.spectral ?? [] where d.flagged { order[d.label] = d.farEnd }
    let labels = s.train.map(\.label), ratio = s.config.ratio, excluded = s.excluded
    var chosen: [Int] = []
    for label in Set(labels).sorted() {
      let candidates = labels.indices.filter { labels[$0] == label && !excluded.contains($0) }
      let k = ratio >= 1 ? candidates.count : Int((ratio * Double(candidates.count)).rounded())
      if let ranked = order[label] {
        let pool = Set(candidates)
        // Candidates the ranking does not hold (it covers the label's unflagged rows) come last.
        let inOrder = ranked.filter { pool.contains($0) }, ranks = Set(inOrder)
        chosen += (inOrder + candidates.filter { !ranks.contains($0) }).prefix(k)
      } else {
        chosen += s.draw(k, from: candidates)
      }
    }
    s.chosen = chosen.sorted()
    try ClassificationStages.requireBenignRows(s)
  }
}

/// Trigger cover (our extension): every other benign row, in a seeded order of its own (so the
/// benign rows and the shuffle stay those of the screen alone), gets one recovered trigger phrase,
/// cycling; those rows keep their own safe labels.
public struct TriggerCover: DefenseStage {
  /// Mixed into the seed of the cover's draws.
  static let salt: UInt64 = 0x636F_7665_7254_7267
  public var name: String { "cover" }
  public func apply(to s: inout ClassificationDefenseState) throws {
    let phrases = TriggerScreen.phrases(s.train, suspicious: s.suspicious)
    if !phrases.isEmpty {
      var coverRNG = SeededRNG(seed: s.config.seed ^ Self.salt)
      var order = s.chosen
      for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(coverRNG.next() % UInt64(i + 1))) }
      for (k, i) in order.prefix(order.count / 2).enumerated() {
        s.coverText[i] = insertAtRandomWordPosition(phrases[k % phrases.count], into: s.train[i].text, using: &coverRNG)
      }
    }
    s.record.coverPhrases = phrases
    s.record.coveredRows = s.coverText.count
  }
}

/// Flip cover (our extension): the most atypical probe-flagged rows, up to half as many as there
/// are benign rows and at most a tenth of the training rows, go to the safe space with the probe's
/// next label. (At ρ 0.2 the two limits agree; with more benign rows the tenth holds: beyond the
/// 100 most extreme of 1,000 SST-2 rows more than half of the spectral screen's flagged rows are clean.)
/// The spectral screen's share test also bounds them: a flagged label's rows above its reference
/// share, N (p - q), are about as many rows as the attack can have moved into it (fewer where
/// poisoned rows replaced rows of the label), so no more are flipped. Where the screen confirmed
/// its rows one by one (`ProbeScreenResult.confirmedFlips`: a classifier reading the text gives
/// the row another label) and the configuration asks for it (`P2PConfig.confirmFlips`, the
/// `p2p-confirm` variant), only confirmed rows are flipped, the most extreme first, to that
/// classifier's label, and the others are passed over (counted in `unconfirmedFlips`).
public struct FlipCover: DefenseStage {
  public var name: String { "flip" }
  public func apply(to s: inout ClassificationDefenseState) throws {
    let probe = try s.requireProbe()
    var cap = min(s.chosen.count / 2, max(1, s.rowCount / 10))
    if let moved = Self.rowsAboveReference(probe, rows: s.rowCount) { cap = min(cap, moved) }
    // `p2p-confirm`: only the rows a classifier reading the text gives another label, to that label
    // (`ProbeExclusion` checked both lists against the flagged rows).
    if s.config.confirmFlips == true, let confirmed = probe.confirmedFlips, let labels = probe.confirmedLabels {
      var passedOver = 0
      for k in probe.flaggedRows.indices where s.flipLabel.count < cap {
        if confirmed[k] { s.flipLabel[probe.flaggedRows[k]] = labels[k] } else { passedOver += 1 }
      }
      s.record.unconfirmedFlips = passedOver
    } else {
      for k in probe.flaggedRows.indices.prefix(cap) { s.flipLabel[probe.flaggedRows[k]] = probe.flipLabels[k] }
    }
    let flipped = s.flipLabel.keys.sorted()
    s.record.probePoisonedLabels = probe.poisonedLabels
    s.record.probeFlaggedRows = probe.flaggedRows.count
    s.record.flippedRows = flipped
    s.record.flippedPoisonedRows = flipped.filter { s.train[$0].poisoned }.count
  }

  /// Σ round(N (p - q)) over the spectral screen's flagged labels that recorded their shares; nil
  /// for other screens and older results.
  static func rowsAboveReference(_ probe: ProbeScreenResult, rows: Int) -> Int? {
    let flagged = (probe.spectral ?? []).filter(\.flagged)
    guard !flagged.isEmpty, flagged.allSatisfy({ $0.share != nil && $0.referenceShare != nil }) else { return nil }
    return flagged.reduce(0) { $0 + max(0, Int((Double(rows) * (($1.share ?? 0) - ($1.referenceShare ?? 0))).rounded())) }
  }
}
