import Backdoor

/// How benign rows are combined with the original training set.
/// - union: the paper's D ∪ D_benign: every original row stays and the ρ·N selected rows are
///   added again with the benign trigger and the mapped label (N + ρN rows);
/// - replace: the official code's behaviour: the selected rows are replaced by their benign
///   versions (N rows).
public enum P2PMode: String, Codable, Sendable, CaseIterable { case union, replace }

/// Poison-to-Poison (Zhao et al., arXiv 2510.04503) for prompt-based classification: a benign
/// trigger prepended to a ρ fraction of the training inputs, their label i mapped to h(i) = i + n
/// (a second, "safe" label space with its own label words), and at inference the trigger always
/// prepended and the prediction read in the safe space and mapped back with h⁻¹.
public struct P2PConfig: Codable, Sendable, Equatable {
  /// Prefix put before the input of benign rows and of every input at inference.
  public var benignTrigger: String
  /// ρ: fraction of the training set that gets a benign copy (union) or is replaced (replace).
  public var ratio: Double
  public var mode: P2PMode
  /// Prompt of original rows (the cue `Output: `, as in the official code).
  public var originalTemplate: String
  /// Prompt of benign rows and of inference, after the benign trigger (cue `Answer: `).
  public var benignTemplate: String
  /// Label words of the original labels 0..<n.
  public var labelWords: [String]
  /// Label words of the safe labels h(i) = i + n (default: the next n digits).
  public var safeLabelWords: [String]
  /// Official-code inference: argmax over the whole vocabulary instead of the safe label words.
  public var unrestricted: Bool
  public var seed: UInt64
  /// Oracle diagnostic, not a defense a user can deploy: draw the benign rows only from rows
  /// known to be clean (what the official code's file-order selection amounts to, since its
  /// poisoned rows come from the start of the file and its benign rows from the second half).
  public var excludePoisonedFromBenign: Bool?
  /// How the benign rows are chosen (nil: random, the paper).
  public var selection: BenignSelection?
  /// Leave rows with a suspicious label-pure frequent word out of the benign candidates
  /// (`TriggerScreen`).
  public var screenTriggers: Bool?
  /// Trigger cover (our extension, not the paper; needs `screenTriggers`): the trigger phrases
  /// recovered around the screened words are inserted into half of the benign rows, which keep
  /// their own safe labels, so that under the benign trigger the attack trigger carries no label.
  public var coverTriggers: Bool?
  /// Probe screen with flip cover (our extension, not the paper; for triggers no word screen
  /// finds, such as paraphrases): a probe classifier is fine-tuned on the training set as it
  /// is, its hidden states are clustered per label (`ActivationClustering`), and the rows of a
  /// cluster judged to be poison (`ProbeScreen`) stay out of the benign candidates; the most
  /// atypical of them, up to half as many as there are benign rows and a tenth of all rows, are added to the safe label
  /// space with the label
  /// the probe ranks next to their own (their text's label under a dirty-label attack), so that
  /// under the benign trigger the attack trigger is seen with a non-target label.
  public var probeScreen: Bool?
  /// Relative spectral screen with flip cover (our extension, for paraphrase and style triggers;
  /// `RelativeSpectral`): the base model's sentence states of the training rows, per label the
  /// direction of most variance relative to the other labels; a label whose extreme rows at one
  /// end are mostly given another label by a classifier fitted without them has its rows towards
  /// that end kept out of the benign candidates, the most extreme flipped like the probe screen's
  /// rows. No probe is trained.
  public var spectralScreen: Bool?
  /// Flip only the spectral screen's rows that a classifier reading the text gives another label
  /// (`ProbeScreenResult.confirmedFlips`; the `p2p-confirm` variant, an ablation of the default,
  /// measured in docs/defense.md). nil: the flagged rows are flipped most extreme first.
  public var confirmFlips: Bool?
  /// The default pipeline's second try (`SafeSpaceRetry`, our extension): set with `confirmFlips`
  /// when the first adapter's safe-space check failed and the pipeline trained again with its flips
  /// confirmed. The pipeline is still `p2p`; nil on every first try.
  public var retried: Bool?
  /// The data-driven default pipeline (`p2p`): the screen is chosen from the training rows
  /// (`resolvingAutomatic`): the trigger-word screen and trigger cover when the word screen finds
  /// a suspicious word, the relative spectral screen with flip cover otherwise. No trigger
  /// knowledge, no oracle.
  public var automatic: Bool?
  /// Words the trigger-word screen flags that the insertion test (`InsertionTest`) found to be
  /// natural text rather than an inserted trigger: they choose no screen and get no cover (their
  /// rows still stay out of the benign candidates).
  /// The default pipeline fills this in with the base model before it chooses its screen (nil:
  /// not tested, every flagged word counts).
  public var releasedWords: [String]?
  /// The zero-shot prompt of `agreement` selection (template with `{sentence}`, one label word
  /// per original label); filled in by whoever scores the rows, kept here for the record.
  public var selectionPrompt: PromptTemplate?

  public static let defaultBenignTrigger = BenignTriggerText.official
  /// ρ of the paper's main results (`p2p-paper` and the single-stage variants).
  public static let defaultRatio = 0.2
  /// ρ of the default pipeline (`p2p`): every row no screen kept out gets a benign copy, so the
  /// safe label space learns the task from as many rows as the original one (at ρ 0.2 it collapsed
  /// to the majority label on a 75/25 SST-2 set at one epoch; results/README.md, 2026-12-04).
  public static let defaultPipelineRatio = 1.0
  /// The most ρ the default pipeline takes when its spectral screen flags a label, with the benign
  /// rows stratified per label (`BenignSelection.stratified`): ρ of each label's candidate rows, the
  /// flagged label's farthest from the trigger's end first. A statistical screen misses some
  /// poisoned rows and at ρ 1 each of them would get a benign copy; at 0.2 of all rows the safe
  /// space of four-class AG News held 300 rows and lost 7.7 points of macro-F1 (results/README.md,
  /// 2026-12-05). 0.6 of the candidates takes about the farthest 30% of a flagged label's rows.
  public static let statisticalScreenRatio = 0.6
  /// The official code's prompt of benign rows and inference, after the benign trigger (cue `Answer: `).
  public static let defaultBenignTemplate = "{sentence}\nAnswer: "

  public init(benignTrigger: String = P2PConfig.defaultBenignTrigger, ratio: Double = P2PConfig.defaultRatio, mode: P2PMode = .union,
              originalTemplate: String = PromptTemplate.defaultTemplate, benignTemplate: String = P2PConfig.defaultBenignTemplate,
              labels: Int = 2, labelWords: [String]? = nil, safeLabelWords: [String]? = nil, unrestricted: Bool = false,
              seed: UInt64 = 42, excludePoisonedFromBenign: Bool? = nil, selection: BenignSelection? = nil,
              screenTriggers: Bool? = nil, coverTriggers: Bool? = nil, probeScreen: Bool? = nil, automatic: Bool? = nil, spectralScreen: Bool? = nil,
              confirmFlips: Bool? = nil) {
    self.benignTrigger = benignTrigger; self.ratio = ratio; self.mode = mode
    self.originalTemplate = originalTemplate; self.benignTemplate = benignTemplate
    self.labelWords = labelWords ?? (0..<labels).map(String.init)
    self.safeLabelWords = safeLabelWords ?? (labels..<(2 * labels)).map(String.init)
    self.unrestricted = unrestricted; self.seed = seed; self.excludePoisonedFromBenign = excludePoisonedFromBenign
    self.selection = selection; self.screenTriggers = screenTriggers; self.coverTriggers = coverTriggers
    self.probeScreen = probeScreen; self.automatic = automatic; self.spectralScreen = spectralScreen
    self.confirmFlips = confirmFlips
  }

  /// With `automatic`, the configuration with its screen chosen from `train`: the word screen and
  /// cover when `TriggerScreen` finds a suspicious word not in `releasedWords`, else the relative spectral screen and flip cover with
  /// ρ at most `statisticalScreenRatio` of each label's candidate rows (stratified selection; a
  /// statistical screen misses some poisoned rows, and every missed row that gets a benign copy
  /// carries the trigger into the safe space).
  /// Without `automatic`, or once chosen, the configuration itself.
  public func resolvingAutomatic(_ train: [Example]) -> P2PConfig {
    guard automatic == true, screenTriggers != true, probeScreen != true, spectralScreen != true else { return self }
    var c = self
    if screenedWords(train).isEmpty {
      c.spectralScreen = true
      c.ratio = min(ratio, Self.statisticalScreenRatio)
      c.selection = .stratified
    } else {
      c.screenTriggers = true; c.coverTriggers = true
    }
    return c
  }

  /// The default pipeline once its statistical screen has run: when it flagged no row, rho goes
  /// back to `requestedRatio` (the default's 1). The cap of `statisticalScreenRatio` limits how many
  /// of the rows a screen missed get benign copies; with no row flagged there is no screen to
  /// miss, a trigger nobody found reaches the safe space at any rho (the paper's random benign rows
  /// carry it at 0.2), and at 0.2 the safe space of a four-class set did not learn the task (clean
  /// AG News, one epoch: macro-F1 45.8 against 83.7 undefended). Other configurations unchanged.
  public func afterStatisticalScreen(flagged: Int, requestedRatio: Double) -> P2PConfig {
    guard automatic == true, spectralScreen == true, flagged == 0 else { return self }
    var c = self
    c.ratio = requestedRatio
    c.selection = nil
    return c
  }

  /// The words the trigger-word screen flags in `train` and keeps (`releasedWords` left out), sorted.
  public func screenedWords(_ train: [Example]) -> [String] {
    let released = Set(releasedWords ?? [])
    return TriggerScreen.suspiciousWords(train).filter { !released.contains($0) }
  }

  /// The pipeline's name, as `p2p defend --defense` and experiment files spell it: `p2p` (the
  /// data-driven default), `p2p-paper` (the paper's random benign rows), or the variant.
  public var variantName: String {
    if automatic == true { return confirmFlips == true && retried != true ? "p2p-confirm" : "p2p" }
    if excludePoisonedFromBenign == true { return selectsByAgreement ? "p2p-agree-oracle" : "p2p-oracle" }
    if selectsByAgreement { return "p2p-agree" }
    if probeScreen == true { return "p2p-probe" }
    if spectralScreen == true { return "p2p-spectral" }
    if coverTriggers == true { return "p2p-cover" }
    if selection == .stratified { return "p2p-stratified" }
    if screenTriggers == true { return "p2p-screen" }
    return "p2p-paper"
  }

  /// Whether benign rows are chosen by zero-shot label agreement.
  public var selectsByAgreement: Bool { selection == .agreement }

  /// Whether what the pipeline decides depends on the screens' rules (`ScreenRules`): the default
  /// and every variant with a screen, a cover or a stratified selection.
  public var followsScreenRules: Bool {
    automatic == true || screenTriggers == true || coverTriggers == true || probeScreen == true || spectralScreen == true
      || selection == .stratified || !(releasedWords ?? []).isEmpty
  }

  public var labels: Int { labelWords.count }

  /// h(i) = i + n (`LabelShift`).
  public func safeLabel(_ i: Int) -> Int { LabelShift(labels: labels).safe(i) }

  /// The prompt template of original rows, with the original label words.
  public var originalPrompt: PromptTemplate { PromptTemplate(template: originalTemplate, labelWords: labelWords) }
  /// The prompt template of benign rows and inference, with all 2n label words (original then safe).
  public var benignPrompt: PromptTemplate {
    PromptTemplate(template: benignTrigger + benignTemplate, labelWords: labelWords + safeLabelWords)
  }

  public func validate() throws(DefenseError) {
    guard ratio > 0 && ratio <= 1 else { throw .invalidConfig(key: "ratio", value: "\(ratio)", expected: "a fraction in (0, 1]") }
    guard !benignTrigger.trimmingCharacters(in: .whitespaces).isEmpty else {
      throw .invalidConfig(key: "benign trigger", value: benignTrigger, expected: "non-empty text")
    }
    if automatic == true && ((selection != nil && !(selection == .stratified && spectralScreen == true)) || excludePoisonedFromBenign == true) {
      throw .invalidConfig(key: "automatic", value: "true",
                           expected: "no selection and no oracle (the default pipeline chooses its own screen and selection)")
    }
    if retried == true && (automatic != true || confirmFlips != true) {
      throw .invalidConfig(key: "retried", value: "true", expected: "the default pipeline with confirmed flips (its second try)")
    }
    if probeScreen == true && spectralScreen == true {
      throw .invalidConfig(key: "spectral screen", value: "true", expected: "the probe screen off (both flip rows into the safe space; pick one)")
    }
    if coverTriggers == true && screenTriggers != true {
      throw .invalidConfig(key: "cover triggers", value: "true", expected: "the trigger screen on as well (it finds the triggers to cover)")
    }
    guard safeLabelWords.count == labelWords.count else {
      throw .invalidConfig(key: "safe label words", value: safeLabelWords.joined(separator: ","),
                           expected: "\(labelWords.count) words, one per original label")
    }
    if let p = selectionPrompt {
      guard p.labelWords.count == labelWords.count else {
        throw .invalidConfig(key: "selection prompt", value: p.labelWords.joined(separator: ","), expected: "\(labelWords.count) label words")
      }
      do { try p.validate() } catch { throw .invalidConfig(key: "selection prompt", value: p.template, expected: "\(error)") }
    }
    do {
      try originalPrompt.validate()
      try benignPrompt.validate()
    } catch { throw .invalidConfig(key: "templates", value: "\(error)", expected: "valid prompt templates with distinct label words") }
  }
}

public enum DefenseError: Error, Equatable, CustomStringConvertible, Sendable {
  case invalidConfig(key: String, value: String, expected: String)
  case badLabel(row: Int, label: Int, labels: Int)
  /// The benign rows cannot be drawn (none left, or a label without any): the safe label space,
  /// which alone answers at inference, would not learn the task.
  case noBenignRows(reason: String)

  public var description: String {
    switch self {
    case let .invalidConfig(key, value, expected): return "invalid P2P \(key) '\(value)': expected \(expected)"
    case let .badLabel(row, label, labels): return "training row \(row): label \(label) is outside 0..<\(labels)"
    case let .noBenignRows(reason): return "P2P cannot draw its benign rows: \(reason); nothing was trained"
    }
  }
}
