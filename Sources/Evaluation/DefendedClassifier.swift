import Backdoor
import Defense
import TensorCore

/// The P2P inference wrapper, the only way a defended model is exposed: every input gets the
/// benign trigger and the benign cue, the prediction is read in the safe label space only
/// (restricted to the safe label words) and mapped back with h⁻¹. With `config.unrestricted`
/// (the official code) the argmax is over the whole vocabulary and a token that is no label
/// word predicts `invalidPrediction`.
public struct DefendedClassifier: Sendable {
  public let config: P2PConfig
  public let scorer: any LabelScorer
  /// Token ids of the original label words, then of the safe label words.
  public let labelIDs: [Int]
  public static let invalidPrediction = -1

  public init(scorer: any LabelScorer, config: P2PConfig) throws {
    try config.validate()
    self.config = config
    self.scorer = scorer
    labelIDs = try config.benignPrompt.labelTokenIDs(scorer.encode)
  }

  func prompts(_ texts: [String]) -> [String] { texts.map(config.benignPrompt.prompt(for:)) }

  /// Logits of all 2n label words (original then safe) under the wrapper's prompt.
  public func labelWordScores(_ texts: [String], progress: (Int) -> Void = { _ in }) throws -> [[Float]] {
    try scorer.scores(prompts(texts), tokenIDs: labelIDs, progress: progress)
  }

  /// Deployed predictions in the original label space.
  public func predict(_ texts: [String], progress: (Int) -> Void = { _ in }) throws -> [Int] {
    if config.unrestricted { return try Unrestricted(self).predict(texts, progress: progress) }
    return try labelWordScores(texts, progress: progress).map(Self.safePrediction(n: config.labels))
  }

  /// The official code's inference through the wrapper: argmax over the whole vocabulary; a
  /// safe or original label word maps to its label, any other token is `invalidPrediction`.
  public struct Unrestricted: Sendable {
    let wrapper: DefendedClassifier
    public init(_ wrapper: DefendedClassifier) { self.wrapper = wrapper }

    public func predict(_ texts: [String], progress: (Int) -> Void = { _ in }) throws -> [Int] {
      let index = Dictionary(wrapper.labelIDs.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
      let n = wrapper.config.labels
      return try wrapper.scorer.argmaxTokens(wrapper.prompts(texts), progress: progress).map { t in
        guard let w = index[t] else { return DefendedClassifier.invalidPrediction }
        return w % n
      }
    }
  }

  /// h⁻¹ of the best safe label word in a row of 2n label-word scores, after adding `bias` (one
  /// offset per safe label, from `SafeSpaceCalibration`) when given.
  public static func safePrediction(n: Int, bias: [Float]? = nil) -> ([Float]) -> Int {
    guard let bias, bias.count == n else { return { row in Vector.argmax(Array(row[n..<(2 * n)])) } }
    return { row in Vector.argmax((0..<n).map { row[n + $0] + bias[$0] }) }
  }
}
