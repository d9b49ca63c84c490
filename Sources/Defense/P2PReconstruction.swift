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
  /// With `screenTriggers` (or released words): the suspicious words and how many rows they kept
  /// out of the benign candidates (words the insertion test released included; they are not covered).
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
  /// With `confirmFlips` (`p2p-confirm`): flagged rows passed over because a classifier reading
  /// the text gives them their own label.
  public var unconfirmedFlips: Int?
  /// With the spectral screen: each label's share of the training rows, the reference shares it
  /// was judged against (`LabelReference`), and where those come from.
  public var labelShares: [Double]?
  public var referenceShares: [Double]?
  public var referenceSource: String?
  /// The screens' rules revision the decisions were made by (`ScreenRules`), for a configuration
  /// that follows them; nil for the others and for manifests written before the rules were versioned.
  public var rulesRevision: Int?
}

/// Builds the P2P training set: the configuration's stages (`ClassificationStages`: screens,
/// the selection of round(ρ·N) benign rows, covers) run in order, then the benign rows get the
/// benign trigger, the benign cue and the safe label h(i) = i + n (`LabelShift`); union adds them
/// to the N original rows, replace substitutes them. The result is shuffled with the seed.
public enum P2PReconstruction {
  public static func apply(_ train: [Example], config: P2PConfig, margins: [Float]? = nil,
                           probe: ProbeScreenResult? = nil) throws(DefenseError) -> (rows: [P2PRow], manifest: P2PManifest) {
    let config = config.resolvingAutomatic(train)
    try config.validate()
    for (i, e) in train.enumerated() where e.label < 0 || e.label >= config.labels {
      throw .badLabel(row: i, label: e.label, labels: config.labels)
    }
    var state = ClassificationDefenseState(train: train, config: config, margins: margins, probe: probe)
    do { try ClassificationStages.registry.run(ClassificationStages.names(for: config), on: &state) } catch {
      // The classification stages throw DefenseError only.
      throw error as? DefenseError ?? .invalidConfig(key: "defense stage", value: "\(error)", expected: "a stage that succeeds")
    }
    let chosenSet = Set(state.chosen)
    let original = config.originalPrompt, benign = config.benignPrompt, shift = LabelShift(labels: config.labels)
    func originalRow(_ e: Example) -> P2PRow {
      P2PRow(prompt: original.prompt(for: e.text), completion: config.labelWords[e.label], label: e.label, benign: false,
             poisoned: e.poisoned, sourceIndex: e.sourceIndex)
    }
    func benignRow(_ e: Example, text: String, label: Int? = nil) -> P2PRow {
      let h = shift.safe(label ?? e.label)
      return P2PRow(prompt: benign.prompt(for: text), completion: benign.labelWords[h], label: h, benign: true,
                    poisoned: e.poisoned, sourceIndex: e.sourceIndex)
    }
    var rows: [P2PRow] = []
    for (i, e) in train.enumerated() {
      switch config.mode {
      case .union:
        rows.append(originalRow(e))
        if chosenSet.contains(i) { rows.append(benignRow(e, text: state.coverText[i] ?? e.text)) }
        if let f = state.flipLabel[i] { rows.append(benignRow(e, text: e.text, label: f)) }
      case .replace:
        if let f = state.flipLabel[i] {
          rows.append(benignRow(e, text: e.text, label: f))
        } else {
          rows.append(chosenSet.contains(i) ? benignRow(e, text: state.coverText[i] ?? e.text) : originalRow(e))
        }
      }
    }
    for i in stride(from: rows.count - 1, to: 0, by: -1) { rows.swapAt(i, Int(state.rng.next() % UInt64(i + 1))) }
    var manifest = state.record
    manifest.rulesRevision = config.followsScreenRules ? ScreenRules.revision : nil
    manifest.outputRows = rows.count
    manifest.benignSourceRows = state.chosen
    manifest.benignPoisonedRows = state.chosen.filter { train[$0].poisoned }.count
    return (rows, manifest)
  }
}
