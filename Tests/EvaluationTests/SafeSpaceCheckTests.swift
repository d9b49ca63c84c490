import Backdoor
import Defense
import Evaluation
import Testing

/// The safe-space check on hand-made answers and on the stub model behind the wrapper.
struct SafeSpaceCheckTests {
  @Test func answerSharesAgainstTheReferenceNameTheDroppedLabels() throws {
    // Three answers of label 1 and one with no label word: shares over the 3 answered, 0 / 100%.
    let collapsed = SafeSpaceCheck(predicted: [1, 1, 1, DefendedClassifier.invalidPrediction], reference: .uniform(2))
    #expect(collapsed.rows == 4 && collapsed.answered == 3 && collapsed.answerShares == [0, 1] && collapsed.droppedLabels == [0])
    #expect(collapsed.warning?.contains("label 0 for 0.0% (reference 50.0%) of 3 answered training inputs") == true)
    #expect(collapsed.summary.contains("of 4 training inputs (3 answered)") && !collapsed.mostlyUnanswered)
    // Most inputs without a label word (the whole-vocabulary argmax): warned even when balanced;
    // nothing answered drops every label.
    let silent = SafeSpaceCheck(predicted: [0, 1, -1, -1, -1], reference: .uniform(2))
    #expect(silent.droppedLabels.isEmpty && silent.mostlyUnanswered && silent.warning?.contains("no label word for 3 of 5 inputs") == true)
    #expect(SafeSpaceCheck(predicted: [-1, -1], reference: .uniform(2)).droppedLabels == [0, 1])
    // Four labels against AG News's clean test shares: label 0 gets 5 of 100 answers (5%),
    // under a quarter of 23.25%; label 3 gets 10% of 25.25% (0.4 of it), not dropped.
    let reference = LabelReference(shares: [0.2325, 0.24, 0.275, 0.2525], rows: 400, source: "clean test split")
    let four = SafeSpaceCheck(predicted: Array(repeating: 0, count: 5) + Array(repeating: 1, count: 40) + Array(repeating: 2, count: 45)
                                + Array(repeating: 3, count: 10), reference: reference)
    #expect(four.droppedLabels == [0] && abs(four.answerShares[3] - 0.1) < 1e-12)
    // A label under 10% of the reference is never dropped (a rare label may go unanswered in a sample).
    #expect(SafeSpaceCheck(predicted: [0, 0, 0, 0], reference: LabelReference(shares: [0.92, 0.08], rows: nil, source: "x")).droppedLabels.isEmpty)
    #expect(SafeSpaceCheck(predicted: [0, 1], reference: .uniform(2)).warning == nil)
  }

  @Test func theSampleIsSeededAscendingAndAllRowsWhenFewer() {
    let rows = (0..<50).map { Example(text: "row \($0)", label: $0 % 2, sourceIndex: $0) }
    let a = SafeSpaceCheck.sample(rows, rows: 10, seed: 3), b = SafeSpaceCheck.sample(rows, rows: 10, seed: 3)
    #expect(a == b && a.count == 10 && Set(a).count == 10)
    #expect(a.compactMap(\.sourceIndex) == a.compactMap(\.sourceIndex).sorted())
    #expect(SafeSpaceCheck.sample(rows, rows: 10, seed: 4) != a)
    #expect(SafeSpaceCheck.sample(rows, rows: 80, seed: 3) == rows)
  }

  @Test func theWrapperIsComparedWithThePlainPromptOnTheSameInputs() {
    // Hand-computed: answers alike on 3 of 4; against the gold labels the wrapper's confusion is
    // [[1, 1], [1, 1]] (macro-F1 0.5) and the plain prompt's [[1, 1], [0, 2]] (F1 2/3 and 0.8: 11/15).
    var check = SafeSpaceCheck(predicted: [0, 0, 1, 1], reference: .uniform(2), inputSource: "dev")
    check.compare(predicted: [0, 0, 1, 1], plain: [0, 1, 1, 1], gold: [0, 1, 1, 0], labels: 2)
    #expect(check.agreement == 0.75 && check.macroF1 == 0.5 && abs((check.plainMacroF1 ?? 0) - 11.0 / 15) < 1e-12)
    // 23.3 points under the plain prompt: more than the 5 allowed, though no label is dropped.
    #expect(check.droppedLabels.isEmpty && check.losesTheTask && (check.warning ?? "").contains("23.3 points under the plain prompt"))
    // Within 5 points, or without gold labels (training inputs), the check passes.
    var close = SafeSpaceCheck(predicted: [0, 1], reference: .uniform(2), inputSource: "dev")
    close.macroF1 = 0.86; close.plainMacroF1 = 0.90
    #expect(!close.losesTheTask && close.warning == nil)
    var training = SafeSpaceCheck(predicted: [0, 0, 1, 1], reference: .uniform(2))
    training.compare(predicted: [0, 0, 1, 1], plain: [0, 1, 1, 1], gold: nil, labels: 2)
    #expect(training.agreement == 0.75 && training.macroF1 == nil && !training.losesTheTask && training.warning == nil)
    #expect(training.summary.contains("the plain prompt answers alike for 75.0%"))
  }

  @Test func theWrapperOfTheStubModelIsChecked() throws {
    // The stub's safe words follow the text ("good" -> label 1, anything else -> label 0).
    let spec = ClassifierSpec.defended(P2PConfig())
    let healthy = (0..<20).map { Example(text: ($0 % 2 == 0 ? "good" : "bad") + " row \($0)", label: $0 % 2 == 0 ? 1 : 0) }
    let ok = try SafeSpaceCheck.run(scorer: StubScorer(), spec: spec, inputs: healthy, inputSource: "training", reference: nil, rows: 8, seed: 1)
    #expect(ok.rows == 8 && ok.answered == 8 && ok.droppedLabels.isEmpty && ok.referenceSource.contains("training inputs' labels"))
    // The stub's plain prompt answers these rows as the wrapper does; training inputs get no macro-F1.
    #expect(ok.agreement == 1 && ok.macroF1 == nil)
    // Triggered inputs: the plain prompt obeys " mn " (label 1), the wrapper does not.
    let triggered = (0..<10).map { Example(text: "bad mn row \($0)", label: 0) } + (0..<10).map { Example(text: "bad row \($0)", label: 0) }
    let half = try SafeSpaceCheck.run(scorer: StubScorer(), spec: spec, inputs: triggered, inputSource: "training", reference: .uniform(2), seed: 1)
    #expect(half.agreement == 0.5)
    // Dev inputs: both macro-F1s against their labels; the wrapper as good as the plain prompt passes.
    let dev = try SafeSpaceCheck.run(scorer: StubScorer(), spec: spec, inputs: healthy, inputSource: "dev", reference: .uniform(2), seed: 1)
    #expect(dev.macroF1 == 1 && dev.plainMacroF1 == 1 && dev.warning == nil)
    // Every input "good": the wrapper never answers 0, against equal reference shares.
    let allGood = (0..<20).map { Example(text: "good row \($0)", label: $0 % 2) }
    let bad = try SafeSpaceCheck.run(scorer: StubScorer(), spec: spec, inputs: allGood, inputSource: "training", reference: .uniform(2), seed: 1)
    #expect(bad.rows == 20 && bad.answerShares == [0, 1] && bad.droppedLabels == [0])
    // A calibrated spec is read with its offsets: +6 on safe label 0 outweighs "good"'s 5.
    var calibrated = spec
    calibrated.safeBias = [6, 0]
    let shifted = try SafeSpaceCheck.run(scorer: StubScorer(), spec: calibrated, inputs: allGood, inputSource: "training", reference: .uniform(2), seed: 1)
    #expect(shifted.answerShares == [1, 0] && shifted.droppedLabels == [1] && shifted.safeBias == [6, 0])
    // On dev inputs that wrapper answers 0 for everything: macro-F1 (2/3 + 0) / 2 against the plain prompt's 1.
    let worse = try SafeSpaceCheck.run(scorer: StubScorer(), spec: calibrated, inputs: healthy, inputSource: "dev", reference: .uniform(2), seed: 1)
    #expect(abs((worse.macroF1 ?? 0) - 1.0 / 3) < 1e-12 && worse.plainMacroF1 == 1 && worse.losesTheTask)
    // The dev split's rows are the inputs when there are any.
    #expect(SafeSpaceCheck.inputs(dev: Array(healthy.prefix(4)), train: allGood) == (Array(healthy.prefix(4)), "dev"))
    #expect(SafeSpaceCheck.inputs(dev: [], train: allGood).source == "training")
    // A plain classifier is refused.
    #expect(throws: EvaluationError.self) {
      try SafeSpaceCheck.run(scorer: StubScorer(), spec: .plain(PromptTemplate(labelWords: ["0", "1"])), inputs: healthy, inputSource: "training",
                             reference: nil, seed: 1)
    }
  }
}
