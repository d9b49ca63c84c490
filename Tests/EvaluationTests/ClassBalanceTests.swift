import Evaluation
import Foundation
import Testing

/// Per-class metrics on hand-computed confusion tables (scikit-learn's definitions).
struct ClassBalanceTests {
  static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-12 }

  @Test func aFourClassTable() throws {
    // gold \ predicted; label 3 is never predicted.
    let b = ClassBalance(confusion: [[5, 1, 0, 0], [2, 3, 1, 0], [0, 0, 4, 0], [1, 0, 0, 0]])
    let recall: [Double?] = [5.0 / 6, 0.5, 1, 0]
    let precision: [Double?] = [5.0 / 8, 0.75, 0.8, nil]
    #expect(b.perClassRecall == recall)
    #expect(b.perClassPrecision == precision)
    // F1: 5/7, 0.6, 8/9 and 0 for the never-predicted label.
    let f1s: [Double] = [5.0 / 7, 0.6, 8.0 / 9, 0]
    let recalls: [Double] = [5.0 / 6, 0.5, 1, 0]
    #expect(Self.close(b.macroF1, f1s.reduce(0, +) / 4))
    #expect(Self.close(b.balancedAccuracy, recalls.reduce(0, +) / 4))
    #expect(Self.close(b.majorityRate, 6.0 / 17))
    let shares: [Double] = [8.0 / 17, 4.0 / 17, 5.0 / 17, 0]
    #expect(b.predictedShares == shares)
    #expect(!b.degenerate && b.dominantLabel == nil)
    // Label 3 is never predicted but holds 1 of 17 gold rows, under the dropped-label guard's 10%.
    #expect(b.droppedLabels.isEmpty && Self.close(b.goldShares[3], 1.0 / 17))
  }

  @Test func aLabelThatIsNeverAnsweredIsDropped() {
    // The AG News StyleBkd seed 2 `p2p` cell's clean confusion: World (93 of 400 gold rows) is
    // never predicted; no label takes 90% of the predictions, so the classifier is not constant.
    let ag = ClassBalance(confusion: [[0, 3, 13, 77], [0, 59, 12, 25], [0, 2, 38, 70], [0, 0, 10, 91]])
    #expect(!ag.degenerate && ag.droppedLabels == [0] && Self.close(ag.goldShares[0], 93.0 / 400))
    // The threshold: a quarter of the gold share. Label 1 holds 20% of the gold rows; 4 of 100
    // predictions (a fifth of its share) drop it, 6 (0.3 of it) do not.
    #expect(ClassBalance(confusion: [[80, 0], [16, 4]]).droppedLabels == [1])
    #expect(ClassBalance(confusion: [[80, 0], [14, 6]]).droppedLabels.isEmpty)
    // A constant binary classifier drops the other label too.
    #expect(ClassBalance(confusion: [[70, 0], [30, 0]]).droppedLabels == [1])
    #expect(ClassBalance.droppedGoldShare == 0.1 && ClassBalance.droppedRatio == 0.25)
  }

  @Test func aConstantClassifierIsDegenerate() {
    // 70% of the gold rows are label 0 and every prediction is 0: CA 70% = the majority rate.
    let b = ClassBalance(confusion: [[70, 0], [30, 0]])
    let constantRecall: [Double?] = [1, 0]
    #expect(b.perClassRecall == constantRecall)
    let f1Zero: Double = 2 * 0.7 / 1.7
    #expect(Self.close(b.macroF1, f1Zero / 2))
    #expect(b.balancedAccuracy == 0.5 && b.majorityRate == 0.7)
    #expect(b.degenerate && b.dominantLabel == 0)
    // Answering the minority label for everything: CA 30%, ASR 100% by construction.
    let minority = ClassBalance(confusion: [[0, 70], [0, 30]])
    #expect(minority.degenerate && minority.dominantLabel == 1)
    let m = ClassificationMetrics(gold: Array(repeating: 0, count: 70) + Array(repeating: 1, count: 30), predicted: Array(repeating: 1, count: 100),
                                  labels: 2, poisonedPredictions: Array(repeating: 1, count: 70), target: 1)
    #expect(m.degenerate && m.cleanAccuracy.value == 0.3 && m.attackSuccessRate?.value == 1)
  }

  @Test func theThresholdsAreTheDocumentedOnes() {
    // 90% of predictions in one label is degenerate; 89% is not.
    #expect(ClassBalance(confusion: [[50, 0], [40, 10]]).degenerate)
    #expect(!ClassBalance(confusion: [[50, 0], [39, 11]]).degenerate)
    // A label holding 75% of the gold rows may take every prediction (a genuinely skewed set).
    #expect(!ClassBalance(confusion: [[75, 0], [25, 0]]).degenerate)
    #expect(ClassBalance(confusion: [[74, 0], [26, 0]]).degenerate)
    #expect(ClassBalance.degenerateShare == 0.9 && ClassBalance.degenerateGoldShare == 0.75)
  }

  @Test func storedResultsGainTheMetricsWhenRead() throws {
    // A result written before these fields existed: recomputed from its confusion table.
    let json = #"{"cleanAccuracy": {"successes": 70, "total": 100, "lower95": 0.6, "upper95": 0.78}, "confusion": [[70, 0], [30, 0]]}"#
    let m = try JSONDecoder().decode(ClassificationMetrics.self, from: Data(json.utf8))
    #expect(m.degenerate && m.balance.majorityRate == 0.7)
    let again = try JSONDecoder().decode(ClassificationMetrics.self, from: JSONEncoder().encode(m))
    #expect(again == m)
    let text = String(decoding: try JSONEncoder().encode(m), as: UTF8.self)
    for key in ["perClassRecall", "macroF1", "balancedAccuracy", "majorityRate", "degenerate"] { #expect(text.contains("\"\(key)\"")) }
  }

  /// Predictions that are no label (the whole-vocabulary argmax): scikit-learn on gold [0,0,1,1],
  /// predicted [0,-1,-1,1] gives macro-F1 4/9 (labels -1, 0, 1: F1 0, 2/3, 2/3) and balanced
  /// accuracy 0.5.
  @Test func invalidPredictionsCountAgainstTheirGoldLabel() {
    let m = ClassificationMetrics(gold: [0, 0, 1, 1], predicted: [0, -1, -1, 1], labels: 2)
    #expect(m.invalidPredictions == [1, 1])
    #expect(Self.close(m.macroF1, 4.0 / 9) && m.balance.balancedAccuracy == 0.5)
    // A ragged hand-edited table is read as zeros, not a crash.
    #expect(ClassBalance(confusion: [[0, 1], [1]]).perClassRecall == [0, 0])
  }

  @Test func macroF1ReweightedToOtherLabelShares() throws {
    // A balanced test (200 / 200) read at 75/25 shares: weights 1.5 and 0.5 give
    // [[289.5, 10.5], [29, 71]]; F1 of label 0 = 2 * 289.5 / (318.5 + 300) = 579 / 618.5, of label
    // 1 = 2 * 71 / (81.5 + 100) = 142 / 181.5.
    let table = [[193, 7], [58, 142]]
    let at7525 = try #require(ClassBalance.macroF1(confusion: table, reweightedTo: [0.75, 0.25]))
    #expect(Self.close(at7525, (579 / 618.5 + 142 / 181.5) / 2), "\(at7525)")
    // Shares need not sum to 1; the table's own shares give the ordinary macro-F1.
    #expect(Self.close(try #require(ClassBalance.macroF1(confusion: table, reweightedTo: [3, 1])), at7525))
    #expect(Self.close(try #require(ClassBalance.macroF1(confusion: table, reweightedTo: [0.5, 0.5])), ClassBalance(confusion: table).macroF1))
    let four = [[5, 1, 0, 0], [2, 3, 1, 0], [0, 0, 4, 0], [1, 0, 0, 0]]
    #expect(Self.close(try #require(ClassBalance.macroF1(confusion: four, reweightedTo: [6, 6, 4, 1])), ClassBalance(confusion: four).macroF1))
    // Rejected rows count in their gold label's weight (2 of label 1's 10 rows here), as in the init.
    let rejected = try #require(ClassBalance.macroF1(confusion: [[10, 0], [0, 8]], rejected: [0, 2], reweightedTo: [0.5, 0.5]))
    #expect(Self.close(rejected, ClassBalance(confusion: [[10, 0], [0, 8]], rejected: [0, 2]).macroF1))
    // No gold rows for a label with a share, or a share per label missing: no figure.
    #expect(ClassBalance.macroF1(confusion: [[5, 0], [0, 0]], reweightedTo: [0.5, 0.5]) == nil)
    #expect(ClassBalance.macroF1(confusion: table, reweightedTo: [1]) == nil)
  }
}
