import Backdoor
import Evaluation
import Foundation
import Defense
import Inference
import Llama
import TensorCore
import TestSupport
import Testing

struct MetricsTests {
  @Test func wilsonIntervalMatchesHandComputedValues() {
    // k = 8, n = 10: centre (0.8 + 1.9208/10)/(1 + 0.38415) = 0.71672; half-width 0.22946.
    let p = Proportion(successes: 8, total: 10)
    #expect(abs(p.lower95 - 0.49016) < 1e-4)
    #expect(abs(p.upper95 - 0.94332) < 1e-4)
    let zero = Proportion(successes: 0, total: 50)
    #expect(zero.lower95 == 0)
    #expect(abs(zero.upper95 - 0.07135) < 1e-4)
  }

  @Test func caAsrAndConfusion() {
    let m = ClassificationMetrics(gold: [0, 0, 1, 1, 1], predicted: [0, 1, 1, 1, 0], labels: 2,
                                  poisonedPredictions: [1, 1, 0, 1], target: 1)
    #expect(m.cleanAccuracy.successes == 3 && m.cleanAccuracy.total == 5)
    #expect(m.confusion == [[1, 1], [1, 2]])
    #expect(m.attackSuccessRate?.successes == 3 && m.attackSuccessRate?.total == 4)
  }

  @Test func templateValidation() throws {
    #expect(throws: PromptError.self) { try PromptTemplate(template: "no placeholder").validate() }
    #expect(throws: PromptError.self) { try PromptTemplate(labelWords: ["0", "0"]).validate() }
    let t = PromptTemplate()
    #expect(t.prompt(for: "a fine film") == "a fine film\nOutput: ")
    #expect(try t.trainingPair(Example(text: "x", label: 1)).completion == "1")
  }
}

@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct VerbalizerClassifierTests {
  @Test func restrictedScoresEqualTheFullLogitsAtTheLabelWords() throws {
    let bundle = try ModelBundle.load(RealModel.path)
    let clf = try VerbalizerClassifier(scorer: PromptScorer(bundle), template: PromptTemplate())
    #expect(clf.labelIDs == [32, 33])  // "0", "1" as in the training fixture
    let texts = ["a gorgeous , witty , seductive movie .", "the plot is nothing but boilerplate clichés from start to finish ,"]
    let scores = try clf.scores(texts)
    for (i, t) in texts.enumerated() {
      let full = try bundle.model.forward([bundle.tokenizer.encode(clf.template.prompt(for: t))], logits: .last)
      #expect(Closeness.maxAbsDiff(scores[i], clf.labelIDs.map { full.row(0)[$0] }) <= 1e-4)
    }
    #expect(try clf.predict(texts) == scores.map { $0[1] > $0[0] ? 1 : 0 })
  }
}

@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct DefendedClassifierTests {
  @Test func theWrapperScoresTheBenignPromptAndMapsBack() throws {
    let bundle = try ModelBundle.load(RealModel.path)
    let config = P2PConfig()
    let wrapper = try DefendedClassifier(scorer: PromptScorer(bundle), config: config)
    #expect(wrapper.labelIDs == [32, 33, 34, 35])
    let texts = ["a gorgeous , witty , seductive movie .", "the plot is nothing but boilerplate clichés ."]
    let scores = try wrapper.labelWordScores(texts)
    let predicted = try wrapper.predict(texts)
    for (i, t) in texts.enumerated() {
      let prompt = "The query currently entered is: \(t)\nAnswer: "
      let full = try bundle.model.forward([bundle.tokenizer.encode(prompt)], logits: .last).row(0)
      #expect(Closeness.maxAbsDiff(scores[i], wrapper.labelIDs.map { full[$0] }) <= 1e-4)
      #expect(predicted[i] == (full[35] > full[34] ? 1 : 0))
    }
    var official = config
    official.unrestricted = true
    let u = try DefendedClassifier(scorer: PromptScorer(bundle), config: official).predict(texts)
    for (i, t) in texts.enumerated() {
      let full = Array(try bundle.model.forward([bundle.tokenizer.encode("The query currently entered is: \(t)\nAnswer: ")], logits: .last).row(0))
      let best = Vector.argmax(full)
      let expected = [32: 0, 33: 1, 34: 0, 35: 1][best] ?? DefendedClassifier.invalidPrediction
      #expect(u[i] == expected)
    }
  }
}
