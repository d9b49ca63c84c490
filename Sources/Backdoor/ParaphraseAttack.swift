/// A paraphrase backdoor from published pre-poisoned files: the trigger is a paraphrase of the
/// whole sentence, looked up from clean<->poisoned pairs, so any poison rate can be drawn from the
/// paired rows (`canInsert` is false for sentences without a pair).
///
/// - SynBkd / "Hidden Killer" (Qi et al., ACL-IJCNLP 2021, "Hidden Killer: Invisible Textual
///   Backdoor Attacks with Syntactic Trigger"): SCPN paraphrase into the syntactic template
///   `S(SBAR)(,)(NP)(VP)(.)`.
/// - StyleBkd (Qi et al., EMNLP 2021, "Mind the Style of Text! Adversarial and Backdoor Attacks
///   Based on Text Style Transfer"): Bible-style transfer.
public struct ParaphraseAttack: TriggerInserter {
  public let name: String
  /// Pairs file the table came from (recorded in manifests).
  public let source: String
  private let table: [String: String]

  /// `pairs` map clean sentences to their paraphrase; for a sentence that occurs several times
  /// the first pair is used.
  public init(name: String, source: String, pairs: [ParaphrasePair]) {
    self.name = name; self.source = source
    var t: [String: String] = [:]
    for p in pairs where t[p.clean] == nil { t[p.clean] = p.poisoned }
    table = t
  }

  public var pairCount: Int { table.count }

  public func canInsert(into text: String) -> Bool { table[text] != nil }

  public func insert(into text: String, using rng: inout some RandomNumberGenerator) -> String { table[text] ?? text }
}
