import Backdoor
import Defense
import Evaluation
import Testing

/// The safe-space calibration: offsets that undo a safe space favouring one label.
struct CalibrationTests {
  @Test func anOffsetUndoesASafeSpaceThatFavoursOneLabel() throws {
    // Label 1's word scores 2 below label 0's on every row, yet ranks the rows perfectly:
    // uncalibrated everything is label 0 (macro-F1 1/3); an offset in (2 - 0.5, 2 + 0.5) separates them.
    let gold = [0, 0, 0, 1, 1, 1]
    let scores: [[Float]] = [[0, -3], [0, -2.8], [0, -2.6], [0, -1.4], [0, -1.2], [0, -1]]
    let b = try SafeSpaceCalibration.fit(safeScores: scores, gold: gold, labels: 2)
    #expect(b[0] == 0 && b[1] > 1.4 && b[1] < 2.6, "\(b)")
    // safePrediction reads the safe half of a row of 2n scores: the original half is padding here.
    #expect(scores.map { DefendedClassifier.safePrediction(n: 2, bias: b)([9, 9] + $0) } == gold)
    // A space that needs no offset keeps 0; four labels move only where macro-F1 rises.
    #expect(try SafeSpaceCalibration.fit(safeScores: [[1, 0], [0, 1]], gold: [0, 1], labels: 2) == [0, 0])
    let four: [[Float]] = [[5, 0, 0, 0], [0, 5, 0, 0], [0, 0, 5, 0], [4, 0, 0, 3]]
    let b4 = try SafeSpaceCalibration.fit(safeScores: four, gold: [0, 1, 2, 3], labels: 4)
    #expect(four.map { DefendedClassifier.safePrediction(n: 4, bias: b4)([0, 0, 0, 0] + $0) } == [0, 1, 2, 3], "\(b4)")
    #expect(throws: EvaluationError.self) { _ = try SafeSpaceCalibration.fit(safeScores: [[0, 1]], gold: [2], labels: 2) }
  }

  @Test func theShiftCountsPredictionsAndCautionsTowardsAJudgedLabel() {
    // Rows of 2n scores (original half padding): the safe halves answer 0, 0, 1 without offsets;
    // +1.5 on label 1 turns the second row ([0, -1]) into label 1 as well: label 1 gains one row.
    let scores: [[Float]] = [[9, 9, 0, -3], [9, 9, 0, -1], [9, 9, 0, 1]]
    let shift = CalibrationShift(predictedBefore: scores.map(DefendedClassifier.safePrediction(n: 2)),
                                 after: scores.map(DefendedClassifier.safePrediction(n: 2, bias: [0, 1.5])), labels: 2)
    #expect(shift == CalibrationShift(before: [2, 1], after: [1, 2]))
    #expect(shift.favoured == [1])
    let plain = shift.caution()
    #expect(plain?.contains("towards label 1 (1 -> 2 of 3 dev rows)") == true)
    #expect(plain?.contains("judged poisoned") == false)
    #expect(shift.caution(suspected: [1])?.contains("label(s) [1] were judged poisoned") == true)
    #expect(shift.caution(suspected: [0])?.contains("judged poisoned") == false)
    // Offsets that move nothing give no caution.
    #expect(CalibrationShift(before: [2, 1], after: [2, 1]).caution(suspected: [1]) == nil)
  }

  @Test func theDeployedPathAppliesTheSpecsOffsetsAndBadOffsetsAreRefused() throws {
    // The stub's safe words follow the text ("good" 3, "bad" 2, by 5); an offset of -6 on label 1
    // turns every prediction into 0, an offset of +6 into 1.
    let texts = ["good a", "bad b", "good c", "bad d"]
    var spec = ClassifierSpec.defended(P2PConfig())
    #expect(try ClassificationEvaluation.predictDeployed(scorer: StubScorer(), spec: spec, texts: texts) == [1, 0, 1, 0])
    spec.safeBias = [0, -6]
    #expect(try ClassificationEvaluation.predictDeployed(scorer: StubScorer(), spec: spec, texts: texts) == [0, 0, 0, 0])
    spec.safeBias = [0, 6]
    #expect(try ClassificationEvaluation.predictDeployed(scorer: StubScorer(), spec: spec, texts: texts) == [1, 1, 1, 1])
    // Calibrating on labelled rows finds offsets that give them back.
    let rows = zip(texts, [1, 0, 1, 0]).map { Example(text: $0, label: $1) }
    let calibrated = try ClassificationEvaluation.calibrated(spec, scorer: StubScorer(), rows: rows)
    #expect(try ClassificationEvaluation.predictDeployed(scorer: StubScorer(), spec: calibrated.spec, texts: texts) == [1, 0, 1, 0])
    // The spec's +6 offset answered 1 for all four rows; the refit answers two of each, so label 0 gains.
    #expect(calibrated.shift == CalibrationShift(before: [0, 4], after: [2, 2]))
    #expect(calibrated.shift.favoured == [0])
    spec.safeBias = [0]
    #expect(throws: (any Error).self) { try spec.validate() }
    spec.safeBias = [0, .nan]
    #expect(throws: (any Error).self) { try spec.validate() }
  }
}
