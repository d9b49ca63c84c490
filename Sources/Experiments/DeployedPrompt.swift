import Foundation
import Backdoor
import Defense
import Evaluation

/// What a defended adapter is sent for free-form generation (`p2p generate --adapter`): the same
/// wrapper as its evaluation, so a P2P adapter is never run without its benign trigger. Plain
/// adapters need no wrapping (nil).
public enum DeployedPrompt {
  public struct Wrapped: Sendable, Equatable {
    /// The text to tokenize and continue.
    public var prompt: String
    /// What was done, for standard error.
    public var note: String
  }

  public static func wrap(_ text: String, adapter: String) throws -> Wrapped? {
    if let g = try GenerationSpec.forAdapter(adapter) {
      guard g.kind == .p2p, let p2p = g.p2p else { return nil }
      return Wrapped(prompt: p2p.inferencePrompt(for: GenerationExample(input: text, output: ""), task: g.task),
                     note: "P2P-defended \(g.task.rawValue) adapter: the input goes through its wrapper (benign trigger \"\(p2p.benignTrigger)\" "
                       + "prepended, the \(g.task.rawValue) prompt, decoding forced to start after the safe prefix \"\(p2p.safePrefix)\")")
    }
    if let c = try ClassifierSpec.forAdapter(adapter) {
      guard c.kind == .p2p, let p2p = c.p2p else { return nil }
      let mapping = (0..<p2p.labels).map { "\(p2p.safeLabelWords[$0]) -> \(p2p.labelWords[$0])" }.joined(separator: ", ")
      return Wrapped(prompt: p2p.benignPrompt.prompt(for: text),
                     note: "P2P-defended classifier: the input goes through its wrapper (benign trigger \"\(p2p.benignTrigger)\" and the "
                       + "benign prompt); its answer is a safe label word (\(mapping)). `p2p evaluate --adapter` measures CA and ASR as deployed.")
    }
    return nil
  }
}
