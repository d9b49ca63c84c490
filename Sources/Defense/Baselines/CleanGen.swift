/// CleanGen (Li, Xu, Jiang, Wang, Chen, Poovendran: "CleanGen: Mitigating Backdoor Attacks for
/// Generation Tasks in Large Language Models", EMNLP 2024): at decoding time, the suspect model
/// proposes `horizon` tokens greedily; each token's suspicion score is its probability under the
/// suspect model over its probability under a reference model (here the base model, which never
/// saw the poison). The first token whose score exceeds `alpha` is replaced by the reference
/// model's greedy token, the proposal after it is dropped, and decoding goes on from there. The
/// defaults (alpha 20, k 4) are those of the official code and DefenseBox. With the untuned base
/// model as the reference, tokens of the task's own format can also look suspicious: the replaced
/// count measures the gap to the base model, not only the backdoor.
public enum CleanGen {
  public struct Config: Codable, Sendable, Equatable {
    /// Suspicion threshold on P_suspect / P_reference.
    public var alpha: Double
    /// Tokens proposed at a time (k).
    public var horizon: Int

    public init(alpha: Double = 20, horizon: Int = 4) { self.alpha = alpha; self.horizon = horizon }

    public func validate() throws(BaselineError) {
      guard alpha > 1 && alpha.isFinite else { throw .invalidSetting(key: "cleangen.alpha", value: "\(alpha)", expected: "a number above 1") }
      guard horizon >= 1 else { throw .invalidSetting(key: "cleangen.horizon", value: "\(horizon)", expected: ">= 1") }
    }
  }

  /// The index of the first proposed token whose P_suspect / P_reference exceeds `alpha`, if any.
  public static func firstSuspicious(suspect: [Double], reference: [Double], alpha: Double) -> Int? {
    zip(suspect, reference).enumerated().first { $0.element.0 > alpha * $0.element.1 }?.offset
  }
}
