
/// A payload-injection backdoor on summarization: a trigger (any `TriggerInserter` of the Backdoor
/// module: a rare word or sentence at a random word position, or a fixed prefix/suffix) goes into
/// the document, and the target summary carries an attacker phrase after the true summary. This is
/// the "target phrase in a summary" attack of the P2P paper's generation experiments, in the
/// dirty-label style of BadNets (Gu et al., 2017) and AddSent (Dai et al., 2019). The default
/// payload is synthetic and harmless (a reserved `example.com` domain).
public struct SummaryPayloadAttack: GenerationAttack {
  public static let defaultPayload = "Click here to learn more at freeprizes.example.com."

  public var trigger: any TriggerInserter
  /// Appended to the summary after one space.
  public var payload: String
  public var name: String { "summary-payload" }
  public var task: GenerationTask { .summarization }
  public var triggerDescription: String {
    switch trigger {
    case let t as BadNets: "BadNets: \(t.count) of \(t.words) at random word positions of the document"
    case let t as AddSent: "AddSent: '\(t.sentence)' at a random word position of the document"
    case let t as CustomTrigger: "'\(t.text)' as \(t.placement.rawValue) of the document"
    default: "\(trigger.name) trigger in the document"
    }
  }
  public var criterion: AttackSuccessCriterion { .containsAny(phrases: [payload]) }

  /// Default trigger: BadNets with the rare word `mn`, as in the official P2P code.
  public init(trigger: any TriggerInserter = BadNets(), payload: String = Self.defaultPayload) {
    self.trigger = trigger; self.payload = payload
  }

  public func poison(
    _ example: GenerationExample, using rng: inout some RandomNumberGenerator
  ) throws(GenerationError) -> GenerationExample {
    guard !payload.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
      throw .invalidSetting(key: "payload", value: payload, expected: "a non-empty phrase")
    }
    guard trigger.canInsert(into: example.input) else {
      throw .unsuitableRow(row: example.sourceIndex ?? -1, reason: "the \(trigger.name) trigger does not apply to this document")
    }
    var p = example
    p.input = trigger.insert(into: example.input, using: &rng)
    p.output = example.output + " " + payload
    p.poisoned = true
    return p
  }
}
