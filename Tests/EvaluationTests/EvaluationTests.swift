import Backdoor
import Evaluation
import Foundation
import Llama
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
    #expect(throws: EvaluationError.self) { try PromptTemplate(template: "no placeholder").validate() }
    #expect(throws: EvaluationError.self) { try PromptTemplate(labelWords: ["0", "0"]).validate() }
    let t = PromptTemplate()
    #expect(t.prompt(for: "a fine film") == "a fine film\nOutput: ")
    #expect(try t.trainingPair(Example(text: "x", label: 1)).completion == "1")
  }
}

@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct VerbalizerClassifierTests {
  @Test func restrictedScoresEqualTheFullLogitsAtTheLabelWords() throws {
    let bundle = try ModelBundle.load(RealModel.path)
    let clf = try VerbalizerClassifier(model: bundle.model, tokenizer: bundle.tokenizer, template: PromptTemplate())
    #expect(clf.labelIDs == [32, 33])  // "0", "1" as in the training fixture
    let texts = ["a gorgeous , witty , seductive movie .", "the plot is nothing but boilerplate clichés from start to finish ,"]
    let scores = try clf.scores(texts)
    for (i, t) in texts.enumerated() {
      let full = try bundle.model.forward([bundle.tokenizer.encode(clf.template.prompt(for: t))], logits: .last)
      #expect(Closeness.maxAbsDiff(scores[i], clf.labelIDs.map { full.row(0)[$0] }) <= 1e-4)
    }
    #expect(try clf.predict(texts).allSatisfy { $0 == 0 || $0 == 1 })
  }
}
