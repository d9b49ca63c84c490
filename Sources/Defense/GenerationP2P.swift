import Backdoor
import TensorCore

/// P2P for generation tasks (Zhao et al., "Poison to Poison", arXiv 2510.04503; DESIGN.md §3).
/// The classification label shift h(i) = i + n becomes a prefix on the output: a seeded share
/// `ratio` of the training rows get the benign trigger before their input and the safe prefix
/// before their output. At inference the benign trigger is prepended, generation is forced to
/// start with the safe prefix, and the prefix is stripped before scoring, so the model answers
/// from the benign-trigger pathway that the attacker's trigger cannot reach.
public struct GenerationP2P: Codable, Sendable, Equatable {
  /// Whether benign rows are added to the training set (the paper's union, the default) or
  /// take the place of the rows they were made from (the official code's behaviour).
  public typealias Mode = P2PMode

  public static let defaultBenignTrigger = P2PConfig.defaultBenignTrigger
  public static let defaultRatio = P2PConfig.defaultRatio
  public static let defaultSafePrefix = "[safe] "

  public var benignTrigger: String
  /// ρ: the share of training rows that get a benign copy, round(ρ · N) rows.
  public var ratio: Double
  public var mode: Mode
  public var safePrefix: String
  /// Whether rows flagged by `GenerationTriggerScreen` (a frequent input word that predicts an
  /// output word) are kept out of the benign candidates. Off in the paper; see the screen's notes.
  public var screenTriggers: Bool
  /// Trigger cover (our extension, not the paper; needs `screenTriggers`): half of the benign rows
  /// get one of the screen's flagged words, in the surface form the training inputs use, at the
  /// relative word position it has in a (seeded) random row that carries it (a trigger the
  /// attacker appends is appended, one at random places lands at random places), and keep their
  /// clean output after the safe prefix, so that the benign pathway learns to ignore the
  /// recovered trigger. Flagged words share the covered rows in proportion to how many rows
  /// carry them.
  public var coverTriggers: Bool

  public init(benignTrigger: String = Self.defaultBenignTrigger, ratio: Double = Self.defaultRatio,
              mode: Mode = .union, safePrefix: String = Self.defaultSafePrefix, screenTriggers: Bool = false,
              coverTriggers: Bool = false) {
    self.benignTrigger = benignTrigger; self.ratio = ratio; self.mode = mode; self.safePrefix = safePrefix
    self.screenTriggers = screenTriggers; self.coverTriggers = coverTriggers
  }

  enum CodingKeys: String, CodingKey { case benignTrigger, ratio, mode, safePrefix, screenTriggers, coverTriggers }

  /// `coverTriggers` is written only when on, so manifests of the other variants stay as they were.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(benignTrigger, forKey: .benignTrigger); try c.encode(ratio, forKey: .ratio); try c.encode(mode, forKey: .mode)
    try c.encode(safePrefix, forKey: .safePrefix); try c.encode(screenTriggers, forKey: .screenTriggers)
    if coverTriggers { try c.encode(true, forKey: .coverTriggers) }
  }

  /// Missing keys take the defaults; the result is validated.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(benignTrigger: try c.decodeIfPresent(String.self, forKey: .benignTrigger) ?? Self.defaultBenignTrigger,
              ratio: try c.decodeIfPresent(Double.self, forKey: .ratio) ?? Self.defaultRatio,
              mode: try c.decodeIfPresent(Mode.self, forKey: .mode) ?? .union,
              safePrefix: try c.decodeIfPresent(String.self, forKey: .safePrefix) ?? Self.defaultSafePrefix,
              screenTriggers: try c.decodeIfPresent(Bool.self, forKey: .screenTriggers) ?? false,
              coverTriggers: try c.decodeIfPresent(Bool.self, forKey: .coverTriggers) ?? false)
    try validate()
  }

  /// Ratio in (0, 1]; trigger and safe prefix not blank; the cover only with the screen.
  public func validate() throws(GenerationError) {
    guard !coverTriggers || screenTriggers else {
      throw .invalidSetting(key: "cover triggers", value: "true", expected: "the trigger screen on as well (it finds the words to cover)")
    }
    guard ratio.isFinite && ratio > 0 && ratio <= 1 else {
      throw .invalidSetting(key: "ratio", value: "\(ratio)", expected: "a fraction in (0, 1]")
    }
    guard !benignTrigger.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
      throw .invalidSetting(key: "benign trigger", value: benignTrigger, expected: "a non-blank text")
    }
    guard !safePrefix.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
      throw .invalidSetting(key: "safe prefix", value: safePrefix, expected: "a non-blank text")
    }
  }

  /// The benign version of a training row: trigger before the input, safe prefix before the
  /// output; everything else (context, reference, poisoned flag, source index) kept.
  public func benign(_ example: GenerationExample) -> GenerationExample {
    var b = example
    b.input = benignTrigger + example.input
    b.output = OutputPrefix(prefix: safePrefix).safe(example.output)
    return b
  }

  /// The training set with benign rows: the configuration's stages (`GenerationStages`: the
  /// trigger screen, the seeded draw of round(ρ · N) benign rows, the cover) run in order; union
  /// appends the benign copies after the N originals (in draw order), replace swaps them in place.
  public func reconstruct(
    _ train: [GenerationExample], seed: UInt64, using rng: inout SeededRNG
  ) throws(GenerationError) -> (rows: [GenerationExample], manifest: GenerationP2PManifest) {
    try validate()
    var state = GenerationDefenseState(train: train, config: self, seed: seed, rng: rng)
    do { try GenerationStages.registry.run(GenerationStages.names(for: self), on: &state) } catch {
      // The generation stages throw GenerationError only.
      throw error as? GenerationError ?? .invalidSetting(key: "defense stage", value: "\(error)", expected: "a stage that succeeds")
    }
    rng = state.rng
    let chosen = state.chosen
    func benignRow(_ i: Int) -> GenerationExample {
      var b = benign(train[i])
      if let text = state.coverInput[i] { b.input = benignTrigger + text }
      return b
    }
    var rows = train
    let benignRows: [Int]
    switch mode {
    case .union:
      rows += chosen.map(benignRow)
      benignRows = Array(train.count..<rows.count)
    case .replace:
      for i in chosen { rows[i] = benignRow(i) }
      benignRows = chosen.sorted()
    }
    var manifest = state.record
    manifest.selectedRows = chosen
    manifest.benignRows = benignRows
    manifest.outputRows = rows.count
    return (rows, manifest)
  }

  /// Salt of the cover's generator (kept apart from the benign draw).
  static let coverSalt: UInt64 = 0x636f_7665_7247_656e

  /// Each flagged word in the surface form the flagged inputs use most (case and inner
  /// punctuation kept, outer punctuation trimmed as by `GenerationTriggerScreen.tokens`; ties
  /// broken by the form), with the number of rows that carry it.
  public static func coverPhrases(_ flags: [GenerationTriggerScreen.Flag], in train: [GenerationExample]) -> [(text: String, rows: Int)] {
    flags.compactMap { flag in
      var forms: [String: Int] = [:]
      for e in train {
        for raw in e.input.split(whereSeparator: \.isWhitespace) {
          let form = GenerationTriggerScreen.word(raw)
          if form.lowercased() == flag.inputWord { forms[form, default: 0] += 1 }
        }
      }
      guard let best = forms.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }) else { return nil }
      return (best.key, flag.rows)
    }
  }

  /// `text` with `piece` inserted as a word at the relative word position (0 = first, 1 = after
  /// the last) that the first occurrence of `word` has among the words of `model` (the end when
  /// it has none); words are space-separated as in `insertAtRandomWordPosition`, and a word
  /// matches when its `GenerationTriggerScreen.tokens` include `word`'s.
  public static func insert(_ piece: String, into text: String, where word: String, sitsIn model: String) -> String {
    var words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    let modelWords = model.split(separator: " ", omittingEmptySubsequences: true)
    let target = GenerationTriggerScreen.tokens(word)
    let at = modelWords.firstIndex { GenerationTriggerScreen.tokens(String($0)).isSuperset(of: target) } ?? modelWords.count - 1
    let fraction = modelWords.count > 1 ? Double(max(0, at)) / Double(modelWords.count - 1) : 0
    words.insert(piece, at: min(words.count, Int((fraction * Double(words.count)).rounded())))
    return words.joined(separator: " ")
  }

  /// `count` slots shared among weights by largest remainder (ties to the earlier weight), laid
  /// out round-robin so that every share is spread over the slots: the index of each slot's weight.
  public static func apportion(_ count: Int, weights: [Int]) -> [Int] {
    let total = weights.reduce(0, +)
    guard count > 0, total > 0 else { return [] }
    let exact = weights.map { Double(count) * Double($0) / Double(total) }
    var quota = exact.map { Int($0.rounded(.down)) }
    let order = exact.indices.sorted { (exact[$0] - Double(quota[$0]), -$0) > (exact[$1] - Double(quota[$1]), -$1) }
    for j in order.prefix(count - quota.reduce(0, +)) { quota[j] += 1 }
    var out: [Int] = []
    while out.count < count {
      for j in quota.indices where quota[j] > 0 { out.append(j); quota[j] -= 1 }
    }
    return out
  }

  /// The variant's name in experiment files and cell keys: p2p, p2p-screen or p2p-cover.
  /// The pipeline's name in reports: `p2p-cover` (also what the default `p2p` runs for generation),
  /// `p2p-screen`, or `p2p-paper` (random benign rows).
  public var variant: String { coverTriggers ? "p2p-cover" : screenTriggers ? "p2p-screen" : "p2p-paper" }

  /// Whether what the pipeline decides depends on the screens' rules (`ScreenRules`).
  public var followsScreenRules: Bool { screenTriggers || coverTriggers }

  /// The input as the deployed wrapper sends it: the benign trigger prepended.
  public func triggeredInput(_ input: String) -> String { benignTrigger + input }

  /// The prompt the wrapper decodes from: the task prompt of the triggered input, followed by
  /// the safe prefix so that generation is forced to start with it.
  public func inferencePrompt(for example: GenerationExample, task: GenerationTask) -> String {
    var e = example
    e.input = triggeredInput(example.input)
    return task.prompt(for: e) + safePrefix
  }

  /// A generation without the safe prefix: removed when the text starts with it (leading
  /// whitespace ignored, and also when only the prefix's trailing whitespace is missing); any
  /// other text is returned unchanged.
  public func strippingSafePrefix(_ generated: String) -> String {
    let text = generated.drop { $0.isWhitespace }
    if text.hasPrefix(safePrefix) { return String(text.dropFirst(safePrefix.count)) }
    let bare = safePrefix.trimmingCharacters(in: .whitespacesAndNewlines)
    if text.hasPrefix(bare) { return String(text.dropFirst(bare.count).drop { $0.isWhitespace }) }
    return generated
  }
}

/// What the P2P reconstruction did, written next to the defended model.
public struct GenerationP2PManifest: Codable, Sendable, Equatable {
  public var config: GenerationP2P
  public var seed: UInt64
  /// Rows in the training set given to the reconstruction.
  public var trainRows: Int
  /// Indices (in that set) of the rows that got a benign copy, in draw order.
  public var selectedRows: [Int]
  /// Indices (in the reconstructed set) of the benign rows, ascending.
  public var benignRows: [Int]
  public var outputRows: Int
  /// With the trigger screen on: the flagged input words (with the output word that gave each
  /// away) and how many rows they kept out of the benign candidates.
  public var screen: [GenerationTriggerScreen.Flag]?
  public var screenedRows: Int?
  /// With the trigger cover on: the inserted phrases and the (original) rows whose benign copy
  /// carries one.
  public var coverPhrases: [String]?
  public var coveredRows: [Int]?
  /// The screens' rules revision (`ScreenRules`) with the screen on; nil otherwise and in older manifests.
  public var rulesRevision: Int?
}
