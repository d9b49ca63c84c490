import FileIO
import Backdoor
import Defense
import Evaluation
import Experiments
import Foundation
import Testing
import Training

/// The verdict rule and the seed aggregates on hand-made cells.
struct VerdictTests {
  /// A cell on 100 clean rows (50 per label) and 50 triggered label-0 rows; `confusion` is the
  /// clean table, `asr` the triggered rows predicted as the target 1.
  static func cell(defended: Bool, confusion: [[Int]], asr: Int, seed: UInt64 = 42) -> CellResult {
    let m = PoisonManifest(attack: "badnets", rate: 0.1, target: 1, setting: .dirty, seed: seed, trainRows: 100, poisonedRows: [1])
    var gold: [Int] = [], predicted: [Int] = []
    for g in 0..<2 { for p in 0..<2 { for _ in 0..<confusion[g][p] { gold.append(g); predicted.append(p) } } }
    let metrics = ClassificationMetrics(gold: gold, predicted: predicted, labels: 2,
                                        poisonedPredictions: Array(repeating: 1, count: asr) + Array(repeating: 0, count: 50 - asr), target: 1)
    let eval = ClassificationResult(classifier: defended ? .p2p : .plain, poisoning: m, metrics: metrics, p2p: nil, p2pConfig: nil,
                                    seconds: 1, sentencesPerSecond: 1)
    let d = defended ? "p2p" : "none"
    return CellResult(key: "sst2_badnets_\(d)_s\(seed)", dataset: "sst2", attack: "badnets", defense: d, seed: seed,
                      attackConfig: AttackConfig(attack: .badnets, seed: seed), p2p: defended ? P2PConfig(automatic: true) : nil,
                      training: .init(), trainRows: 100, trainingSeconds: 1, finalLoss: 0.1, evaluation: eval)
  }

  @Test func aDefenseThatHoldsIsDefended() {
    let none = Self.cell(defended: false, confusion: [[45, 5], [5, 45]], asr: 48)
    let p2p = Self.cell(defended: true, confusion: [[44, 6], [5, 45]], asr: 3)
    let v = Verdict.judge(p2p, undefended: none)
    // clean -> target = 6/50 = 12%, so the ASR limit is 17%; macro-F1 (F1 = 2TP / (2TP + FP + FN))
    // (88/99 + 90/101) / 2 = 89.0 against 90.0.
    #expect(v.outcome == .defended && v.failing.isEmpty && abs(v.asrLimit - 0.17) < 1e-12)
    let f1: Double = (88.0 / 99 + 90.0 / 101) / 2
    #expect(abs((v.macroF1Change ?? 0) - 100 * (f1 - 0.9)) < 1e-9)
  }

  @Test func eachFailingConditionIsNamed() {
    let none = Self.cell(defended: false, confusion: [[45, 5], [5, 45]], asr: 48)
    // ASR above max(10%, 4% + 5%) = 10%.
    let asr = Verdict.judge(Self.cell(defended: true, confusion: [[48, 2], [5, 45]], asr: 10), undefended: none)
    #expect(asr.outcome == .notDefended && asr.failing == ["ASR 20.0% > 10.0%"])
    // A constant label-0 classifier: "ASR 0%", but degenerate and 56.7 macro-F1 points down.
    let constant = Verdict.judge(Self.cell(defended: true, confusion: [[50, 0], [50, 0]], asr: 0), undefended: none)
    #expect(constant.outcome == .notDefended && constant.failing.count == 2)
    #expect(constant.failing[0].hasPrefix("degenerate: 100% of clean predictions are label 0"))
    #expect(constant.failing[1].hasPrefix("macro-F1 33.3 is 56.7 points below the undefended 90.0"))
    // Not constant (88% of predictions label 0), but label 1 gets 12% of the predictions against
    // 50% of the gold rows, under a quarter of its share: dropped, and named so.
    let dropped = Verdict.judge(Self.cell(defended: true, confusion: [[50, 0], [38, 12]], asr: 0), undefended: none)
    #expect(dropped.outcome == .notDefended && dropped.failing.contains("drops label 1 (12% of clean predictions, 50% of gold rows)"), "\(dropped.failing)")
    #expect(!constant.failing.contains { $0.hasPrefix("drops") })
    // Without an undefended twin the macro-F1 condition cannot be checked.
    let alone = Verdict.judge(Self.cell(defended: true, confusion: [[45, 5], [5, 45]], asr: 2), undefended: nil)
    #expect(alone.outcome == .unverified)
    // Without triggered rows there is no ASR evidence: unverified, not "defended" at "ASR 0%".
    var empty = Self.cell(defended: true, confusion: [[45, 5], [5, 45]], asr: 0)
    empty.evaluation.metrics = ClassificationMetrics(gold: [0, 1], predicted: [0, 1], labels: 2, poisonedPredictions: [], target: 1)
    let noASR = Verdict.judge(empty, undefended: none)
    #expect(noASR.outcome == .unverified && noASR.failing == ["no triggered test rows: the ASR was not measured"])
  }

  /// The verdict line printed after a grid carries the safe-space check's warning whatever failed
  /// it: a dropped label, or (with dev rows) a wrapper that learned the task worse than the plain
  /// prompt, which an earlier version left out of the line.
  @Test func theVerdictLineCarriesEveryFailedCheck() {
    let none = Self.cell(defended: false, confusion: [[45, 5], [5, 45]], asr: 48)
    var p2p = Self.cell(defended: true, confusion: [[44, 6], [5, 45]], asr: 3)
    p2p.verdict = Verdict.judge(p2p, undefended: none)
    // Dev rows 0, 0, 1, 1: the wrapper answers 0, 0, 0, 1 (macro-F1 (4/5 + 2/3) / 2 = 73.3), the
    // plain prompt every row right (100): 26.7 points under it, no label dropped.
    var weak = SafeSpaceCheck(predicted: [0, 0, 0, 1], reference: .uniform(2), inputSource: "dev")
    weak.compare(predicted: [0, 0, 0, 1], plain: [0, 0, 1, 1], gold: [0, 0, 1, 1], labels: 2)
    #expect(weak.droppedLabels.isEmpty && weak.losesTheTask)
    p2p.safeSpaceCheck = weak
    let line = GridReport.verdictLines(GridResults([none, p2p])).first { $0.hasPrefix("verdict ") } ?? ""
    #expect(line.contains("safe-space check: on 4 dev inputs the wrapper's macro-F1 is 73.3, 26.7 points under the plain prompt's 100.0"), "\(line)")
    #expect(line.hasSuffix("Do not deploy this adapter."))
    // A check that passes adds nothing.
    var fine = SafeSpaceCheck(predicted: [0, 0, 1, 1], reference: .uniform(2), inputSource: "dev")
    fine.compare(predicted: [0, 0, 1, 1], plain: [0, 0, 1, 1], gold: [0, 0, 1, 1], labels: 2)
    p2p.safeSpaceCheck = fine
    #expect(!(GridReport.verdictLines(GridResults([none, p2p])).first { $0.hasPrefix("verdict ") } ?? "").contains("safe-space check"))
  }

  @Test func twoSeedsAggregateWithPooledCounts() throws {
    let cells = [Self.cell(defended: false, confusion: [[45, 5], [5, 45]], asr: 48, seed: 1),
                 Self.cell(defended: true, confusion: [[44, 6], [5, 45]], asr: 3, seed: 1),
                 Self.cell(defended: false, confusion: [[40, 10], [10, 40]], asr: 40, seed: 2),
                 Self.cell(defended: true, confusion: [[40, 10], [5, 45]], asr: 9, seed: 2)]
    let g = GridResults(cells)
    #expect(g.aggregates.count == 2)
    // Reports name the pipeline by its configuration (the stored "p2p" becomes "p2p(rho=0.2)").
    let p = try #require(g.aggregates.first { $0.defense == "p2p(rho=0.2)" })
    #expect(p.seeds == [1, 2])
    #expect(abs(p.cleanAccuracy.mean - 0.87) < 1e-12 && p.cleanAccuracy.min == 0.85 && p.cleanAccuracy.max == 0.89)
    #expect(abs((p.attackSuccessRate?.mean ?? 0) - 0.12) < 1e-12)
    #expect(p.pooledAttackSuccessRate == Proportion(successes: 12, total: 100))
    // Seed 2: clean -> target 10/50 -> limit 25%, ASR 18%; macro-F1 84.9 vs 80.0: defended.
    #expect(p.verdicts == ["defended": 2])
    let md = GridReport.markdown(g, title: "T")
    #expect(md.contains("| sst2 | badnets | p2p(rho=0.2) | 1, 2 | 87.0 (85.0–89.0) |"))
    let data = try JSONEncoder().encode(g)
    let text = String(decoding: data, as: UTF8.self)
    #expect(text.contains("\"aggregates\"") && text.contains("\"verdict\""))
    #expect(GridReport.svg(g).contains("stroke-width=\"2\"/>"))
    // The default pipeline counts as one defense over seeds whatever path each seed chose.
    var other = cells
    var chosen = P2PConfig(ratio: 0.2, automatic: true, spectralScreen: true)
    chosen.releasedWords = ["when"]
    other[3].p2p = chosen
    let mixed = GridResults(other)
    #expect(mixed.cells[1].defense != mixed.cells[3].defense && mixed.aggregates.count == 2)
    #expect(mixed.aggregates.first { $0.defense == "p2p(rho=0.2)" }?.seeds == [1, 2])
    // A spectral-screen cell names the label shares it was judged on and their reference.
    var spectral = Self.cell(defended: true, confusion: [[44, 6], [5, 45]], asr: 3, seed: 3)
    spectral.p2p = P2PConfig(automatic: true, spectralScreen: true)
    spectral.labelShares = [0.354, 0.646]
    spectral.referenceShares = [0.478, 0.522]
    spectral.referenceSource = "dev split (400 rows)"
    #expect(GridReport.markdown(GridResults([spectral]), title: "T")
      .contains("label shares 35.4/64.6% against 47.8/52.2% (reference: dev split (400 rows))"))
  }

  /// A grid of defended cells only is judged against another grid's undefended cells, and only
  /// where that grid poisoned the same rows; the choice is kept in results.json.
  @Test func twinsFromAnotherGridCountOnlyOnTheSameData() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twins-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var none = Self.cell(defended: false, confusion: [[45, 5], [5, 45]], asr: 48)
    var p2p = Self.cell(defended: true, confusion: [[44, 6], [5, 45]], asr: 3)
    // The same shipped pairs file under two clones' absolute paths.
    none.evaluation.poisoning.trigger = "/clone-a/Data/sst2-synbkd"
    p2p.evaluation.poisoning.trigger = "/clone-b/Data/sst2-synbkd"
    let alone = GridResults([p2p])
    #expect(alone.cells[0].verdict?.outcome == .unverified && alone.references == nil)
    let other = dir + "/other.json"
    try JSONOutput.write(GridResults([none]), to: other)
    let judged = try alone.addingReferences(from: other, source: "results/other")
    let v = try #require(judged.cells[0].verdict)
    #expect(v.outcome == .defended && v.undefendedKey == none.key && v.undefendedSource == "results/other")
    #expect(v.summary == "defended (undefended twin: sst2_badnets_none_s42 in results/other)")
    #expect(judged.references?.map(\.cell.key) == [none.key])
    // Kept through results.json; adding the same source again replaces, not duplicates.
    let path = dir + "/results.json"
    try JSONOutput.write(judged, to: path)
    #expect(try GridResults.read(path) == judged)
    #expect(try GridResults.storedReferences(at: path).count == 1)
    #expect(try judged.addingReferences(from: other, source: "results/other").references?.count == 1)
    #expect(try GridResults.storedReferences(at: dir + "/absent.json").isEmpty)
    // Other poisoned rows, another test set size or another seed: not a twin, and asking for it fails.
    var rows = none
    rows.evaluation.poisoning.poisonedRows = [2]
    var tests = none
    tests.evaluation.poisoning.testCleanRows = 1821
    for wrong in [rows, tests, Self.cell(defended: false, confusion: [[45, 5], [5, 45]], asr: 48, seed: 1)] {
      try JSONOutput.write(GridResults([wrong]), to: other)
      #expect(throws: ExperimentError.self) { try alone.addingReferences(from: other, source: "results/other") }
    }
    // Another model, or best-dev selection on one side only: not a twin either.
    var model = none
    model.model = "qwen3-0.6b"
    var selected = none
    selected.selection = try JSONDecoder().decode(SelectionRecord.self, from: Data(
      #"{"selection": "best-dev", "devRows": 10, "devSource": "dev split", "epochs": [], "chosenEpoch": 1}"#.utf8))
    for wrong in [model, selected] {
      #expect(Verdict.referenceTwin(of: p2p, in: [ReferenceCell(source: "x", cell: wrong)]) == nil)
    }
    // A twin inside the grid wins over a reference.
    var worse = none
    worse.key = "elsewhere"
    let inGrid = GridResults([none, p2p], references: [ReferenceCell(source: "results/other", cell: worse)])
    #expect(inGrid.cells[1].verdict?.undefendedKey == none.key && inGrid.cells[1].verdict?.undefendedSource == nil)
  }

  @Test func resultFilesAreReadBack() throws {
    let cells = [Self.cell(defended: false, confusion: [[45, 5], [5, 45]], asr: 48)]
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("results-\(UUID().uuidString).json").path
    try JSONOutput.write(GridResults(cells), to: path)
    #expect(try GridResults.read(path) == GridResults(cells))
    try JSONOutput.write(cells, to: path)  // a bare list of cells is not a results.json
    #expect(throws: ExperimentError.self) { try GridResults.read(path) }
  }
}
