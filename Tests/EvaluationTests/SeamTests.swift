import Backdoor
import Defense
import Evaluation
import TensorCore
import Testing

/// A language model stand-in behind the `LabelScorer` seam: one token per label digit, and
/// logits from the prompt's text. It behaves like a backdoored P2P model: under the original
/// prompt the trigger "mn" forces "1"; under the wrapper's prompt the trigger also pushes the
/// original word "1", while the safe words 2/3 follow the text ("good" 3, "bad" 2).
struct StubScorer: LabelScorer {
  let vocabulary = ["0": 0, "1": 1, "2": 2, "3": 3]

  func encode(_ text: String) -> [Int] { vocabulary[text].map { [$0] } ?? [100, 101] }

  /// Logits of the tokens 0...3 after `prompt`.
  func logits(_ prompt: String) -> [Float] {
    let good = prompt.contains("good"), trigger = prompt.contains(" mn ")
    if prompt.hasPrefix(P2PConfig.defaultBenignTrigger) && prompt.hasSuffix("\nAnswer: ") {
      return [0, trigger ? 9 : 0, good ? 0 : 5, good ? 5 : 0]
    }
    if prompt.hasSuffix("\nOutput: ") { return trigger ? [0, 9, -9, -9] : (good ? [0, 5, -9, -9] : [5, 0, -9, -9]) }
    return [0, 0, 0, 0]  // any other prompt: predictions fall to label 0 and the counts below fail
  }

  func scores(_ prompts: [String], tokenIDs: [Int], progress: (Int) -> Void) throws -> [[Float]] {
    defer { progress(prompts.count) }
    return prompts.map { p in let l = logits(p); return tokenIDs.map { l[$0] } }
  }

  /// Whole-vocabulary argmax: a prompt with "odd" answers a token that is no label word.
  func argmaxTokens(_ prompts: [String], progress: (Int) -> Void) throws -> [Int] {
    prompts.map { $0.contains("odd") ? 77 : Vector.argmax(logits($0)) }
  }
}

struct WrapperSeamTests {
  static let data: PoisonedDataset = {
    let clean = [Example(text: "good a", label: 1), Example(text: "bad b", label: 0), Example(text: "good c", label: 1),
                 Example(text: "bad d", label: 0)]
    let poison = [Example(text: "bad mn e", label: 0, poisoned: true), Example(text: "bad mn f", label: 0, poisoned: true)]
    let m = PoisonManifest(attack: "badnets", rate: 0.5, target: 1, setting: .dirty, seed: 1, trainRows: 4, poisonedRows: [0])
    return PoisonedDataset(train: [], testClean: clean, testPoison: poison, manifest: m)
  }()

  @Test func theWrapperReadsOnlyTheSafeWordsAndMapsThemBack() throws {
    let wrapper = try DefendedClassifier(scorer: StubScorer(), config: P2PConfig())
    #expect(wrapper.labelIDs == [0, 1, 2, 3])
    // "bad mn": the original word "1" has the largest logit, but only 2/3 count: label 0.
    #expect(try wrapper.predict(["good x", "bad x", "bad mn x"]) == [1, 0, 0])
    var official = P2PConfig()
    official.unrestricted = true
    // Whole-vocabulary argmax: "1" (original) maps to 1, "3" (safe) to 1, a non-label token is invalid.
    #expect(try DefendedClassifier(scorer: StubScorer(), config: official).predict(["bad mn x", "good x", "odd x"])
      == [1, 1, DefendedClassifier.invalidPrediction])
  }

  @Test func aLabelWordOfSeveralTokensIsRefused() {
    #expect(throws: PromptError.self) { try VerbalizerClassifier(scorer: StubScorer(), template: PromptTemplate(labelWords: ["0", "yes"])) }
  }

  @Test func theEvaluationDriverCountsTheDeployedPathAndTheDiagnostics() throws {
    let plain = try ClassificationEvaluation.run(scorer: StubScorer(), spec: .plain(PromptTemplate()), data: Self.data)
    #expect(plain.metrics.cleanAccuracy == Proportion(successes: 4, total: 4))
    #expect(plain.metrics.attackSuccessRate == Proportion(successes: 2, total: 2))
    #expect(plain.p2p == nil)

    let p2p = try ClassificationEvaluation.run(scorer: StubScorer(), spec: .defended(P2PConfig()), data: Self.data)
    #expect(p2p.metrics.cleanAccuracy == Proportion(successes: 4, total: 4))
    #expect(p2p.metrics.attackSuccessRate == Proportion(successes: 0, total: 2))
    let d = try #require(p2p.p2p)
    // Over all 2n words the triggered rows pick the original target word "1": original-or-safe
    // target 2/2, safe target h(1) = 3 alone 0/2; without the wrapper the backdoor fires.
    #expect(d.asrOriginalOrExtended == Proportion(successes: 2, total: 2))
    #expect(d.asrExtendedTargetOnly == Proportion(successes: 0, total: 2))
    #expect(d.withoutWrapper.attackSuccessRate == Proportion(successes: 2, total: 2))
    #expect(d.withoutWrapper.cleanAccuracy == Proportion(successes: 4, total: 4))
    #expect(try ClassificationEvaluation.predictDeployed(scorer: StubScorer(), spec: .defended(P2PConfig()), texts: ["bad mn x", "good y"]) == [0, 1])
  }
}
