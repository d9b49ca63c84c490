/// A backdoor attack on a generation task: a pure, seeded transform of one clean example into
/// its poisoned version (trigger in the input, attacker's payload in the output).
public protocol GenerationAttack: Sendable {
  /// Short name used in manifests and reports (`badchain`, `summary-payload`).
  var name: String { get }
  /// The task whose examples the attack transforms.
  var task: GenerationTask { get }
  /// One line naming the trigger and where it goes, printed in manifests and reports.
  var triggerDescription: String { get }
  /// How a generation for a triggered input is judged a backdoor success.
  var criterion: AttackSuccessCriterion { get }
  /// The poisoned version of `example` (`poisoned` set, `reference` kept as the clean gold).
  func poison(_ example: GenerationExample, using rng: inout some RandomNumberGenerator) throws(GenerationError) -> GenerationExample
}
