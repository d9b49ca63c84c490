import Inference
import FileIO
import Backdoor
import Defense
import Evaluation
import Experiments
import Foundation
import Llama
import TestSupport
import Training
import Testing

struct ExperimentPlanTests {
  static func write(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UUID().uuidString).yaml").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func aYAMLPlanExpandsIntoTheGrid() throws {
    let path = try Self.write("""
      name: t
      datasets: [sst2]
      train_limit: 100
      attacks:
        - {name: clean, attack: badnets, rate: 0}
        - {attack: addsent, rate: 0.1, target: 1, setting: clean}
      defenses: [none, p2p, "p2p-paper:0.3"]
      seeds: [1, 2]
      p2p: {ratio: 0.2, mode: replace}
      training: {epochs: 2, batch_size: 8, lr: 1.0e-3, lora_targets: "q,k,v"}
      """)
    let plan = try ExperimentPlan.load(path)
    let cells = try plan.cells()
    #expect(cells.count == 2 * 2 * 3)
    // p2p is the data-driven default; the paper's cells keep the key they had before it was named p2p-paper.
    #expect(cells[0].key == "sst2_clean_none_s1" && cells[1].key == "sst2_clean_p2p-auto-0.2_s1" && cells[2].key == "sst2_clean_p2p-0.3_s1")
    #expect(cells[1].defense?.mode == .replace && cells[2].defense?.ratio == 0.3)
    #expect(cells[1].defense?.automatic == true && cells[2].defense?.automatic == nil && cells[2].defense?.screenTriggers == nil)
    #expect(cells[1].defenseLabel == "p2p(rho=0.2, replace)" && cells[2].defenseLabel == "p2p-paper(rho=0.3, replace)")
    // A file without defenses runs none and the default, at rho 1 unless the file sets a ratio;
    // the paper's pipeline keeps the paper's 0.2.
    let bare = try ExperimentPlan.load(try Self.write("attacks:\n  - {attack: badnets}\n")).cells()
    #expect(bare.map(\.key) == ["sst2_badnets_none_s42", "sst2_badnets_p2p-auto-1.0_s42"] && bare[1].defense?.automatic == true)
    let both = try ExperimentPlan.load(try Self.write("attacks:\n  - {attack: badnets}\ndefenses: [p2p, p2p-paper]\n")).cells()
    #expect(both.map { $0.defense?.ratio } == [1.0, 0.2])
    #expect(cells[6].attack.setting == .clean && cells[6].attack.attack == .addsent && cells[6].attack.trainLimit == 100)
    #expect(cells[0].training.epochs == 2 && cells[0].training.batchSize == 8 && cells[0].training.learningRate == 1e-3)
    #expect(cells[0].training.lora.targets.count == 3)
    #expect(cells[3].seed == 2 && cells[3].training.seed == 2 && cells[3].attack.seed == 2)
  }

  @Test func defenseVariantsTakeAnOptionalRatio() throws {
    let path = try Self.write("attacks:\n  - {attack: badnets}\ndefenses: [p2p-agree, \"p2p-agree:0.3\", p2p-oracle, p2p-agree-oracle, p2p-screen, \"p2p-cover:0.3\", p2p-probe]\n")
    let cells = try ExperimentPlan.load(path).cells()
    #expect(cells.map(\.key) == ["sst2_badnets_p2p-agree-0.2_s42", "sst2_badnets_p2p-agree-0.3_s42", "sst2_badnets_p2p-oracle-0.2_s42",
                                  "sst2_badnets_p2p-oracle-agree-0.2_s42", "sst2_badnets_p2p-screen-0.2_s42",
                                  "sst2_badnets_p2p-screen-cover-0.3_s42", "sst2_badnets_p2p-probe-0.2_s42"])
    #expect(cells[0].defense?.selection == .agreement && cells[1].defense?.ratio == 0.3)
    #expect(cells[2].defense?.excludePoisonedFromBenign == true && cells[2].defense?.selectsByAgreement == false)
    #expect(cells[0].defenseLabel.contains("zero-shot agreement"))
    #expect(cells[3].defense?.excludePoisonedFromBenign == true && cells[3].defense?.selectsByAgreement == true)
    #expect(cells[4].defense?.screenTriggers == true && cells[4].defense?.selection == nil && cells[4].defense?.coverTriggers == nil)
    #expect(cells[5].defense?.screenTriggers == true && cells[5].defense?.coverTriggers == true && cells[5].defense?.ratio == 0.3)
    #expect(cells[5].defenseLabel.contains("trigger cover"))
    #expect(cells[6].defense?.probeScreen == true && cells[6].defense?.screenTriggers == nil && cells[6].defenseLabel.contains("probe screen"))
  }

  @Test func badPlansNameTheFileAndProblem() throws {
    let unknown = try Self.write("attacks:\n  - {attack: nosuch}\n")
    #expect(throws: ExperimentError.self) { try ExperimentPlan.load(unknown) }
    let rate = try Self.write("attacks:\n  - {attack: badnets, rate: 2}\n")
    #expect(throws: ExperimentError.self) { try ExperimentPlan.load(rate) }
    let defense = try Self.write("attacks:\n  - {attack: badnets}\ndefenses: [stripe]\n")
    do { _ = try ExperimentPlan.load(defense); Issue.record("expected an error") } catch {
      #expect("\(error)".contains(defense) && "\(error)".contains("none, p2p (the data-driven default), p2p-confirm, p2p-paper, p2p-agree, p2p-screen, p2p-cover, p2p-probe, p2p-spectral, p2p-oracle or p2p-agree-oracle"))
      #expect("\(error)".contains("a baseline defense (onion, strip, quantize, bki, finetune, prune, cube, rap)"), "\(error)")
    }
    let ratio = try Self.write("attacks:\n  - {attack: badnets}\ndefenses: [\"p2p-agree:x\"]\n")
    #expect(throws: ExperimentError.self) { try ExperimentPlan.load(ratio) }
    let dup = try Self.write("attacks:\n  - {attack: badnets}\n  - {attack: badnets, rate: 0.2}\n")
    #expect(throws: ExperimentError.self) { try ExperimentPlan.load(dup) }
  }
}

struct ReportTests {
  static func result(attack: String, defense: String, ca: Int, asr: Int) -> CellResult {
    let m = PoisonManifest(attack: attack, rate: 0.1, target: 1, setting: .dirty, seed: 42, trainRows: 100, poisonedRows: [1, 2])
    var metrics = ClassificationMetrics(gold: Array(repeating: 1, count: 100), predicted: Array(repeating: 1, count: ca) + Array(repeating: 0, count: 100 - ca),
                                        labels: 2, poisonedPredictions: Array(repeating: 1, count: asr) + Array(repeating: 0, count: 50 - asr), target: 1)
    metrics.confusion = [[0, 0], [100 - ca, ca]]
    let eval = ClassificationResult(classifier: defense == "none" ? .plain : .p2p, poisoning: m, metrics: metrics, p2p: nil, p2pConfig: nil,
                                    seconds: 1, sentencesPerSecond: 100)
    return CellResult(key: "sst2_\(attack)_\(defense)_s42", dataset: "sst2", attack: attack, defense: defense, seed: 42,
                      attackConfig: AttackConfig(attack: .badnets), p2p: defense == "none" ? nil : P2PConfig(),
                      training: .init(), trainRows: 100, trainingSeconds: 10, finalLoss: 0.1, evaluation: eval)
  }

  @Test func markdownAndChartCarryEveryCell() {
    var rs = [Self.result(attack: "badnets", defense: "none", ca: 85, asr: 49), Self.result(attack: "badnets", defense: "p2p(rho=0.2)", ca: 84, asr: 2)]
    rs[1].safeSpaceCheck = SafeSpaceCheck(predicted: [1, 1, 1, 1], reference: .uniform(2))
    let md = GridReport.markdown(rs, title: "T")
    #expect(md.contains("safe-space check (no test answer used): answer shares 0.0 / 100.0 % of 4 training inputs "
                        + "(4 answered), reference 50.0 / 50.0 %") && md.contains("**drops label 0**"))
    #expect(!md.contains("points of dev macro-F1 under the plain prompt"))
    var lost = SafeSpaceCheck(predicted: [0, 0, 1, 1], reference: .uniform(2), inputSource: "dev")
    lost.compare(predicted: [0, 0, 1, 1], plain: [0, 1, 1, 1], gold: [0, 1, 1, 0], labels: 2)
    rs[1].safeSpaceCheck = lost
    #expect(GridReport.markdown(rs, title: "T").contains("**the wrapper is more than 5 points of dev macro-F1 under the plain prompt**"))
    #expect(md.contains("| sst2 | badnets | none | 42 | 100 | 85.0 (85/100; ") && md.contains("| 98.0 (49/50; "))
    #expect(md.contains("| 4.0 (2/50; "))
    let svg = GridReport.svg(rs)
    #expect(svg.hasPrefix("<svg") && svg.contains("<circle") && svg.contains("<rect x=") && svg.contains("marker-end"))
    // x = 60 + 98% of 410 plot width.
    #expect(svg.contains("cx=\"461.8\""))
    #expect(GridReport.html(rs, title: "T <x>").contains("T &lt;x&gt;"))
  }

  @Test func aReDrawnTrainingSetGetsMacroF1AtItsLabelShares() {
    // Confusions of 75/25 SynBkd seed-2 cells on the balanced test (defended: two epochs, macro-F1
    // 83.5; undefended: one epoch, 87.0). At 75/25 (weights 1.5, 0.5):
    // defended [[289.5, 10.5], [29, 71]] -> (579 / 618.5 + 142 / 181.5) / 2 = 85.9; undefended
    // [[265.5, 34.5], [14.5, 85.5]] -> (531 / 580 + 171 / 220) / 2 = 84.6.
    var rs = [Self.result(attack: "synbkd", defense: "none", ca: 85, asr: 49), Self.result(attack: "synbkd", defense: "p2p(rho=0.6)", ca: 84, asr: 2)]
    rs[0].evaluation.metrics.confusion = [[177, 23], [29, 171]]
    rs[1].evaluation.metrics.confusion = [[193, 7], [58, 142]]
    #expect(!GridReport.markdown(rs, title: "T").contains("at the training set's label shares"))
    for i in rs.indices { rs[i].attackConfig.labelShares = [0.75, 0.25] }
    let md = GridReport.markdown(rs, title: "T")
    #expect(md.contains("| sst2 | synbkd | p2p-paper(rho=0.2) | 42 | 75.0/25.0% | 83.5 | 87.0 | -3.5 | 85.9 | 84.6 | +1.3 |"), "\(md)")
    #expect(GridReport.html(rs, title: "T").contains("<td>85.9</td><td>84.6</td><td>+1.3</td>"))
  }

  @Test func theRunTimeAddsUpCellsAndNamesPartlyTimedTraining() {
    var a = Self.result(attack: "badnets", defense: "none", ca: 85, asr: 49)
    var b = Self.result(attack: "badnets", defense: "p2p-probe", ca: 84, asr: 2)
    a.trainingTimedFromStep = 0; a.trainingSeconds = 3000; a.evaluation.seconds = 150
    b.trainingTimedFromStep = 0; b.trainingSeconds = 3600; b.evaluation.seconds = 300; b.screeningSeconds = 150
    b.p2p?.probeScreen = true
    // 3000 + 3600 training, 450 evaluation, 150 screening = 7200 s.
    #expect(GridReport.runTime([a, b]) == "Run time of these 2 cells: training 6600 s, evaluation 450 s, probe screens 150 s; 2.00 h in all.\n")
    let md = GridReport.markdown([a, b], title: "T")
    #expect(md.contains("| 3000 | 150 |") && md.contains("| 3600 | 300 |"))
    b.trainingTimedFromStep = 250
    a.trainingTimedFromStep = nil
    b.screeningSeconds = nil
    let partial = GridReport.runTime([a, b])
    #expect(partial.contains("in 2 cell(s) (sst2_badnets_none_s42, sst2_badnets_p2p-probe_s42)") && partial.contains("no recorded time"))
    let md2 = GridReport.markdown([a, b], title: "T")
    #expect(md2.contains("| 3000† | 150 |") && md2.contains("| 3600 (from step 250) | 300 |"))
  }

  @Test func theSettingsLineNamesLeakedAndCoveredBenignRows() {
    var cover = Self.result(attack: "addsent", defense: "p2p-cover", ca: 88, asr: 4)
    cover.p2p = P2PConfig(screenTriggers: true, coverTriggers: true)
    cover.benignPoisonedRows = 0
    cover.coverPhrases = ["I watch this 3D movie"]
    cover.coveredRows = 10
    let md = GridReport.markdown([cover], title: "T")
    #expect(md.contains("0 benign rows carry the attack trigger, 10 benign rows covered with \"I watch this 3D movie\""))
    #expect(md.contains("(recovered trigger phrases inserted into half the benign rows, labels kept)"))
  }

  @Test func theCleanTargetRateCountsNonTargetRowsPredictedAsTheTarget() {
    var r = Self.result(attack: "badnets", defense: "none", ca: 85, asr: 10)
    // 30 negatives (6 called positive), 70 positives; target 1.
    r.evaluation.metrics.confusion = [[24, 6], [5, 65]]
    let p = GridReport.cleanTargetRate(r.evaluation)
    #expect(p?.successes == 6 && p?.total == 30)
    #expect(GridReport.markdown([r], title: "T").contains("| 20.0 (10/50; 11.2–33.0) | 20.0 |"))
    r.evaluation.metrics.confusion = [[0, 0], [15, 85]]
    #expect(GridReport.cleanTargetRate(r.evaluation) == nil)
  }

  @Test func p2pRowsRoundTripAndBadLinesAreNamed() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rows-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let (rows, _) = try P2PReconstruction.apply((0..<10).map { Example(text: "s\($0)", label: $0 % 2, sourceIndex: $0) }, config: P2PConfig())
    try P2PRowsFile.write(rows, to: dir + "/train.jsonl")
    #expect(try P2PRowsFile.read(dir + "/train.jsonl") == rows)
    try "{\"prompt\": \"a\"}\n".write(toFile: dir + "/bad.jsonl", atomically: true, encoding: .utf8)
    do { _ = try P2PRowsFile.read(dir + "/bad.jsonl"); Issue.record("expected an error") } catch {
      #expect("\(error)".contains("bad.jsonl:1"))
    }
    let spec = ClassifierSpec.defended(P2PConfig(ratio: 0.3))
    try spec.save(in: dir)
    #expect(try ClassifierSpec.load(from: dir) == spec)
  }
}

/// A whole grid on the real model, tiny: 24 training rows, one epoch, 16 test rows; then the
/// same command again resumes by skipping both finished cells.
@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct ExperimentRunnerTests {
  @Test func aTinyGridRunsEndToEndAndResumes() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL.path
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("grid-\(UUID().uuidString)").path
    let yaml = FileManager.default.temporaryDirectory.appendingPathComponent("grid-\(UUID().uuidString).yaml").path
    try """
      name: tiny
      model: \(RealModel.path)
      train_limit: 24
      test_limit: 16
      attacks: [{attack: badnets, rate: 0.25, target: 1}]
      defenses: [none, p2p, p2p-agree, p2p-probe]
      p2p: {ratio: 0.5}
      training: {epochs: 1, batch_size: 8}
      """.write(toFile: yaml, atomically: true, encoding: .utf8)
    let plan = try ExperimentPlan.load(yaml)
    let first = try ExperimentRunner(plan: plan, directory: out, dataRoot: root).run()
    #expect(first.count == 4)
    // rho 0.5: with fewer benign rows a label could go without any, which P2P refuses.
    #expect(first[0].trainRows == 24 && first[1].trainRows == 24 + 12)  // union adds round(0.5 * 24) = 12 rows
    // The default found the trigger word (mn in 6 of 24 rows, all label 1) and ran the word screen and cover.
    #expect(first[1].p2p?.automatic == true && first[1].p2p?.screenTriggers == true && first[1].p2p?.coverTriggers == true)
    #expect(first[1].coverPhrases?.isEmpty == false && first[1].defense == "p2p(rho=0.5, chose the trigger-word screen + cover)")
    // Its insertion test kept mn (inserted: no word released) and left its evidence in the cell.
    #expect(first[1].p2p?.releasedWords == [])
    let evidence = try JSONOutput.read([InsertionTest.Evidence].self, from: out + "/cells/sst2_badnets_p2p-auto-0.5_s42/model/insertion.json")
    #expect(evidence.map(\.phrase) == ["mn"] && evidence[0].inserted && evidence[0].rows >= 5)
    // Agreement selection: round(0.2 * n_label) rows per label, and the resolved zero-shot prompt is recorded.
    #expect(first[2].p2p?.selectionPrompt?.labelWords == ["negative", "positive"])
    #expect(FileManager.default.fileExists(atPath: out + "/cells/sst2_badnets_p2p-agree-0.5_s42/model/agreement.json"))
    #expect(first[0].evaluation.metrics.cleanAccuracy.total == 16)
    // Every P2P cell checked its safe space on the 16 dev rows (the dev split subsampled to the
    // test limit); the undefended one has no check. The default records its rules revision.
    #expect(first[0].safeSpaceCheck == nil && first.dropFirst().allSatisfy { $0.safeSpaceCheck?.rows == 16 && $0.safeSpaceCheck?.inputSource == "dev" })
    #expect(first[1].rulesRevision == ScreenRules.revision && first[0].rulesRevision == nil && first[2].rulesRevision == nil)
    #expect(FileManager.default.fileExists(atPath: out + "/cells/sst2_badnets_p2p-auto-0.5_s42/model/" + SafeSpaceCheck.fileName))
    #expect(first[1].evaluation.p2p?.withoutWrapper.cleanAccuracy.total == 16)
    // Probe screen: the probe trained and judged in the cell's model/probe; flipped rows are
    // added to the 12 benign ones (at most half as many, and at most a tenth of the rows) and counted in the result.
    let probe = try JSONOutput.read(ProbeScreenResult.self, from: out + "/cells/sst2_badnets_p2p-probe-0.5_s42/model/probe/screen.json")
    #expect(probe.splits.map(\.label) == [0, 1] && probe.splits.reduce(0) { $0 + $1.rows.count } == 24)
    #expect(probe.splits.allSatisfy { $0.reclassified != nil })
    // The flip cover takes the first flagged rows, at most min(12 / 2, 24 / 10) = 2 of them.
    #expect(first[3].probeFlaggedRows == probe.flaggedRows.count)
    #expect(first[3].flippedRows == min(probe.flaggedRows.count, 2))
    #expect(first[3].trainRows == 24 + 12 + min(probe.flaggedRows.count, 2))
    // The undefended cell ran first with the same rows and settings: its model is the probe, not trained again.
    let probeDir = out + "/cells/sst2_badnets_p2p-probe-0.5_s42/model/probe/"
    #expect(FileManager.default.contents(atPath: probeDir + PEFTAdapter.weightsFile)
      == FileManager.default.contents(atPath: out + "/cells/sst2_badnets_none_s42/model/" + PEFTAdapter.weightsFile))
    #expect(!FileManager.default.fileExists(atPath: probeDir + "checkpoint") && !FileManager.default.fileExists(atPath: probeDir + "training_log.json"))
    for f in ["results.json", "report.md", "report.html", "chart.svg", "cells/sst2_badnets_none_s42/model/adapter_model.safetensors",
              "cells/sst2_badnets_p2p-auto-0.5_s42/model/classifier.json", "cells/sst2_badnets_p2p-auto-0.5_s42/model/train.jsonl"] {
      #expect(FileManager.default.fileExists(atPath: out + "/" + f), "missing \(f)")
    }
    var skipped = 0
    let second = try ExperimentRunner(plan: plan, directory: out, dataRoot: root).run { if case .cellSkipped = $0 { skipped += 1 } }
    #expect(skipped == 4 && second == first)
  }
}

@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct AgreementScoringTests {
  @Test func theZeroShotPromptUsesTheChatTemplateAndFirstTokens() throws {
    let bundle = try ModelBundle.load(RealModel.path)
    let p = try AgreementScoring.defaultPrompt(labelNames: ["negative", "positive"], tokenizer: bundle.tokenizer, chatTemplate: bundle.chatTemplate)
    #expect(p.labelWords == ["negative", "positive"])
    #expect(p.template.contains("<|im_start|>user\nWhich label fits this text: negative or positive?"))
    #expect(p.template.hasSuffix("<|im_start|>assistant\n"))
    let ag = try AgreementScoring.defaultPrompt(labelNames: ["world", "sports", "business", "sci/tech"], tokenizer: bundle.tokenizer,
                                                chatTemplate: bundle.chatTemplate)
    #expect(ag.labelWords.count == 4 && ag.labelWords[3] != "sci/tech" && Set(ag.labelWords).count == 4)
    #expect(throws: ExperimentError.self) {
      try AgreementScoring.defaultPrompt(labelNames: ["good movie", "good film"], tokenizer: bundle.tokenizer, chatTemplate: nil)
    }
  }

  @Test func marginsAreAntisymmetricForTwoLabelsAndCached() throws {
    let bundle = try ModelBundle.load(RealModel.path)
    let config = try AgreementScoring.resolve(P2PConfig(selection: .agreement), labelNames: ["negative", "positive"], bundle: bundle)
    let texts = ["a wonderful , moving and funny film", "a dull , lifeless and painfully bad movie"]
    let rows = texts.map { Example(text: $0, label: 1) } + texts.map { Example(text: $0, label: 0) }
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("agree-\(UUID().uuidString).json").path
    let m = try AgreementScoring.margins(rows, config: config, bundle: bundle, cachePath: cache)
    // Same prompt, packed at other positions of the pass: equal up to float32 rounding.
    #expect(abs(m[0] + m[2]) < 1e-4 && abs(m[1] + m[3]) < 1e-4, "\(m)")
    // The base model reads the obvious cases right: the positive text agrees more with "positive".
    #expect(m[0] > m[1])
    var calls = 0
    let again = try AgreementScoring.margins(rows, config: config, bundle: bundle, cachePath: cache) { _ in calls += 1 }
    #expect(again == m && calls == 0)
    #expect(throws: ExperimentError.self) { try AgreementScoring.resolve(P2PConfig(selection: .agreement), labelNames: nil, bundle: bundle) }
  }
}

@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct ProbeScreeningTests {
  /// The probe's answer-position label scores are the classifier's scores (same prompt, packed
  /// differently), and the mean sentence state is the average of the per-position states.
  @Test func answerStatesAgreeWithTheClassifierAndMeansWithTheirPositions() throws {
    let bundle = try ModelBundle.load(RealModel.path)
    let template = P2PConfig().originalPrompt
    let texts = ["a wonderful , moving and funny film", "dull", "a dull , lifeless and painfully bad movie"]
    let ids = try template.labelTokenIDs { bundle.tokenizer.encode($0) }
    let (features, scores) = try ProbeScreening.answerStates(texts.map { template.prompt(for: $0) }, bundle: bundle, labelIDs: ids) { _ in }
    let reference = try VerbalizerClassifier(scorer: PromptScorer(bundle), template: template).scores(texts)
    #expect(features.count == 3 && features.allSatisfy { $0.count == bundle.model.config.hiddenSize })
    for (a, b) in zip(scores, reference) { #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-3 }, "\(a) vs \(b)") }
    let means = try ProbeScreening.meanStates(texts, bundle: bundle) { _ in }
    let seq = bundle.tokenizer.encode(texts[0], parseSpecial: false)
    let h = try bundle.model.hiddenStates([seq], lastOnly: false)
    let c = bundle.model.config.hiddenSize
    for j in [0, 7, c - 1] {
      let expected = (0..<seq.count).reduce(Float(0)) { $0 + h.states.pointer[$1 * c + j] } / Float(seq.count)
      #expect(abs(means[0][j] - expected) < 1e-3)
    }
  }
}

struct ProbeDataStampTests {
  /// A probe folder is stamped with its training data; the same data passes, a changed label or
  /// text (same row count) is refused with the stamp's path, and the stamp is left as it was.
  @Test func aProbeFolderRefusesOtherTrainingData() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString)").path
    let train = [Example(text: "a fine film", label: 1), Example(text: "dull", label: 0)]
    try ProbeScreening.checkDataStamp(train, directory: dir)
    let stamp = dir + "/" + ProbeScreening.dataStampFile
    let written = try JSONOutput.read(ProbeScreening.DataStamp.self, from: stamp)
    #expect(written.rows == 2 && written == ProbeScreening.DataStamp(train))
    try ProbeScreening.checkDataStamp(train, directory: dir)
    for other in [[train[0], Example(text: "dull", label: 1)], [train[0], Example(text: "dull.", label: 0)]] {
      #expect(ProbeScreening.DataStamp(other) != written)
      do {
        try ProbeScreening.checkDataStamp(other, directory: dir)
        Issue.record("a stale probe folder was accepted")
      } catch let e as ExperimentError {
        #expect("\(e)".contains(stamp) && "\(e)".contains("other training data"))
      }
    }
    #expect(try JSONOutput.read(ProbeScreening.DataStamp.self, from: stamp) == written)
  }

  /// A finished undefended model is taken as the probe only when it was trained on the same rows
  /// under the probe's template, and never over a probe folder's own training.
  @Test func aProbeAdoptsOnlyTheMatchingFinishedUndefendedModel() throws {
    let fm = FileManager.default
    let tmp = fm.temporaryDirectory.appendingPathComponent("adopt-\(UUID().uuidString)").path
    let train = [Example(text: "a fine film", label: 1), Example(text: "dull", label: 0)]
    let config = P2PConfig()
    func trained(_ name: String, template: PromptTemplate) throws -> String {
      let dir = tmp + "/" + name
      try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
      for file in [PEFTAdapter.configFile, PEFTAdapter.weightsFile, "training_summary.json"] {
        try Data((name + file).utf8).write(to: URL(fileURLWithPath: dir + "/" + file))
      }
      try ClassifierSpec.plain(template).save(in: dir)
      return dir
    }
    let model = try trained("none", template: config.originalPrompt)
    // Other rows, another template: refused, nothing copied.
    #expect(try !ProbeScreening.adoptProbe(train, config: config, trainedModel: model, trainedOn: { [train[0]] }, directory: tmp + "/p1"))
    var other = config.originalPrompt
    other.template += " "
    let otherModel = try trained("other", template: other)
    #expect(try !ProbeScreening.adoptProbe(train, config: config, trainedModel: otherModel, trainedOn: { train }, directory: tmp + "/p1"))
    #expect(!fm.fileExists(atPath: tmp + "/p1/" + PEFTAdapter.weightsFile))
    // A model without its training summary is not finished.
    let unfinished = try trained("unfinished", template: config.originalPrompt)
    try fm.removeItem(atPath: unfinished + "/training_summary.json")
    #expect(try !ProbeScreening.adoptProbe(train, config: config, trainedModel: unfinished, trainedOn: { train }, directory: tmp + "/p1"))
    // The match: every file the screen reads, byte for byte.
    #expect(try ProbeScreening.adoptProbe(train, config: config, trainedModel: model, trainedOn: { train }, directory: tmp + "/p1"))
    for file in [PEFTAdapter.configFile, PEFTAdapter.weightsFile, "training_summary.json", ClassifierSpec.fileName] {
      #expect(fm.contents(atPath: tmp + "/p1/" + file) == fm.contents(atPath: model + "/" + file), "\(file)")
    }
    // A folder with a probe of its own (finished or interrupted) keeps it.
    #expect(try !ProbeScreening.adoptProbe(train, config: config, trainedModel: model, trainedOn: { train }, directory: tmp + "/p1"))
    for (folder, entry) in [("p2", "checkpoint"), ("p3", "checkpoint.old-x1"), ("p4", ProbeScreening.resultFile)] {
      try fm.createDirectory(atPath: tmp + "/" + folder + "/" + entry, withIntermediateDirectories: true)
      #expect(try !ProbeScreening.adoptProbe(train, config: config, trainedModel: model, trainedOn: {
        Issue.record("the rows were read for a folder that keeps its probe"); return train }, directory: tmp + "/" + folder))
      #expect(!fm.fileExists(atPath: tmp + "/" + folder + "/" + PEFTAdapter.weightsFile))
    }
  }
}

/// The baseline grid's undefended and P2P cells are those of the grids they reuse.
struct BaselinePlanTests {
  @Test func theBaselineGridSharesItsNoneAndP2PCellsWithTheSubsetGrids() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../experiments").standardizedFileURL.path
    let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL.path
    let cells = try ExperimentPlan.load(root + "/sst2-baselines.yaml").cells(dataRoot: data)
    #expect(cells.count == 4 * 3 * 10)
    #expect(cells.filter { $0.baseline != nil }.map(\.defenseLabel).prefix(4) == ["onion", "strip", "quantize", "bki"])
    for file in ["demo", "sst2-demo-seeds", "sst2-paraphrase", "sst2-paraphrase-seeds"] {
      for cell in try ExperimentPlan.load(root + "/\(file).yaml").cells(dataRoot: data) {
        #expect(cells.contains(cell), "\(file): \(cell.key)")
      }
    }
  }
}

/// Every experiment file the project ships loads, and its grid builds against the shipped data. A
/// file on an outside set the repository does not ship (a folder under `runs/`, like HSOL) must
/// say in its header how to build that folder with a checked-in script; its grid is then built
/// against a two-label stand-in folder, so a fresh clone checks it without the outside data.
struct ShippedExperimentFilesTests {
  static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL.path

  /// The outside folders a plan names that a fresh clone does not have: not built-in, under `runs/`.
  static func outsideFolders(_ plan: ExperimentPlan) -> [String] {
    (plan.datasets ?? []).filter { DatasetCatalog.named($0) == nil && $0.hasPrefix("runs/") }
  }

  @Test func everyShippedExperimentFileBuildsItsGrid() throws {
    let root = Self.repo + "/experiments", data = Self.repo + "/Data"
    let files = try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasSuffix(".yaml") }.sorted()
    #expect(files.count >= 30)
    let standIn = ScratchDirectory()
    _ = try standIn.write("train.tsv", "sentence\tlabel\n" + (0..<8).map { "row \($0)\t\($0 % 2)\n" }.joined())
    _ = try standIn.write("test.tsv", "sentence\tlabel\nrow a\t0\nrow b\t1\n")
    var outside = 0
    for file in files {
      var plan = try ExperimentPlan.decode(root + "/" + file)
      let folders = Self.outsideFolders(plan)
      if !folders.isEmpty {
        outside += 1
        let text = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
        for folder in folders {
          // The header names a checked-in script and the folder it writes.
          let recipe = text.split(separator: "\n").first { $0.hasPrefix("#") && $0.contains("scripts/") && $0.hasSuffix(" " + folder) }
          let script = recipe.flatMap { $0.split(separator: " ").first { $0.hasPrefix("scripts/") } }.map(String.init)
          #expect(script.map { FileManager.default.fileExists(atPath: Self.repo + "/" + $0) } == true,
                  "\(file): no header line runs a checked-in script that builds \(folder)")
        }
        plan.datasets = plan.datasets?.map { folders.contains($0) ? standIn.path : $0 }
      }
      let count = plan.generationTask != nil ? try plan.generationCells().count : try plan.cells(dataRoot: data).count
      #expect(count > 0, "\(file)")
    }
    #expect(outside >= 3)
  }
}

/// The spectral screen's reference label shares: the dev split, else the clean test split, else none.
struct ReferenceSharesTests {
  static func rows(_ labels: [Int]) -> [Example] { labels.enumerated().map { Example(text: "row \($0.offset)", label: $0.element) } }

  @Test func theDevSplitComesFirstThenTheCleanTestSplit() throws {
    let dev = Self.rows([0, 0, 0, 1]), test = Self.rows([0, 1, 1, 1, 1])
    let fromDev = try #require(try Defender.reference(dev: dev, test: test, labels: 2))
    #expect(fromDev.shares == [0.75, 0.25] && fromDev.rows == 4 && fromDev.source.hasPrefix("dev split"))
    let fromTest = try #require(try Defender.reference(dev: [], test: test, labels: 2))
    #expect(fromTest.shares == [0.2, 0.8] && fromTest.rows == 5 && fromTest.source.hasPrefix("clean test split"))
    #expect(try Defender.reference(dev: nil, test: nil, labels: 2) == nil)
    #expect(throws: DefenseError.self) { try Defender.reference(dev: Self.rows([0, 2]), labels: 2) }
  }
}

/// The baseline defenses with the real model: ONION's scores single out an inserted word, and a
/// tiny grid runs them beside the undefended cell, on its model.
@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct BaselineGridTests {
  @Test func onionScoresTheInsertedWordHighest() throws {
    let bundle = try ModelBundle.load(RealModel.path)
    let text = "a gripping and beautifully acted film about mn love and loss"
    let scores = try #require(try OnionScoring.scores([text, "alone"], bundle: bundle).scores[text])
    #expect(scores.count == Onion.words(text).count)
    // The score of "mn" (index 7) is the largest: leaving it out lowers the perplexity most.
    #expect(scores.indices.max { scores[$0] < scores[$1] } == 7)
    // A one-word input has no scores (ONION keeps it as it is).
    #expect(try OnionScoring.scores(["alone"], bundle: bundle).scores.isEmpty)
  }

  @Test func theQ4_0RoundTripChangesTheModelAndIsUndoneBitForBit() throws {
    let bundle = try ModelBundle.load(RealModel.path)
    let tokens = bundle.tokenizer.encode("a gripping film")
    let before = try bundle.model.forward([tokens], logits: .last).values
    let snapshot = try bundle.model.roundTripProjectionsQ4_0()
    let quantized = try bundle.model.forward([tokens], logits: .last).values
    snapshot.restore()
    let after = try bundle.model.forward([tokens], logits: .last).values
    #expect(after == before)
    // 4-bit weights move the logits, but not far (the model still reads the same text).
    let diff = zip(before, quantized).map { abs($0 - $1) }.max() ?? 0
    #expect(diff > 1e-3 && diff < 10)
    func argmax(_ v: [Float]) -> Int? { v.indices.max { v[$0] < v[$1] } }
    #expect(argmax(quantized) == argmax(before))
  }

  @Test func prunedNeuronsAreSwitchedOffAndBackOnBitForBit() throws {
    let bundle = try ModelBundle.load(RealModel.path)
    let tokens = bundle.tokenizer.encode("a gripping film")
    let before = try bundle.model.forward([tokens], logits: .last).values
    let activity = try MLPActivity.measure(["a gripping film", "a dull one"], bundle: bundle)
    #expect(activity.count == bundle.model.config.layerCount && activity.allSatisfy { $0.count == bundle.model.config.feedForwardSize })
    #expect(activity.allSatisfy { $0.allSatisfy { $0 >= 0 } } && bundle.model.mlpObserver == nil)
    // Switching off the most active neurons moves the logits far more than switching off the quietest.
    let quiet = NeuronPruning.quietest(activity, share: 0.1)
    let loud = activity.map { layer in layer.indices.sorted { layer[$0] > layer[$1] }.prefix(quiet[0].count).sorted() }
    func change(_ neurons: [[Int]]) throws -> Float {
      let s = bundle.model.pruneMLPNeurons(neurons)
      defer { s.restore() }
      let l = try bundle.model.forward([tokens], logits: .last).values
      return zip(before, l).map { abs($0 - $1) }.max() ?? 0
    }
    let quietChange = try change(quiet), loudChange = try change(loud)
    #expect(quietChange > 0 && loudChange > quietChange)
    #expect(try bundle.model.forward([tokens], logits: .last).values == before)
  }

  @Test func aTinyGridRunsTheBaselinesOnTheUndefendedModel() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL.path
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("grid-\(UUID().uuidString)").path
    let yaml = FileManager.default.temporaryDirectory.appendingPathComponent("grid-\(UUID().uuidString).yaml").path
    try """
      name: tiny-baselines
      model: \(RealModel.path)
      train_limit: 24
      test_limit: 12
      attacks: [{attack: badnets, rate: 0.25, target: 1}]
      defenses: [none, onion, strip, quantize, bki, finetune, prune, cube, rap]
      baselines: {onion: {dev_rows: 8}, strip: {repeats: 2, dev_rows: 8}, finetune: {rows_per_label: 3, epochs: 1}, prune: {dev_rows: 8},
                  cube: {components: 4, min_samples: 4, min_cluster_size: 3}, rap: {epochs: 1, dev_rows: 8}}
      training: {epochs: 1, batch_size: 8}
      """.write(toFile: yaml, atomically: true, encoding: .utf8)
    let plan = try ExperimentPlan.load(yaml)
    let results = try ExperimentRunner(plan: plan, directory: out, dataRoot: root).run()
    #expect(results.map(\.defense) == ["none", "onion", "strip", "quantize", "bki", "finetune", "prune", "cube", "rap"])
    #expect(results.map(\.key) == ["sst2_badnets_none_s42", "sst2_badnets_onion_s42", "sst2_badnets_strip_s42", "sst2_badnets_quantize_s42",
                                    "sst2_badnets_bki_s42", "sst2_badnets_finetune_s42", "sst2_badnets_prune_s42", "sst2_badnets_cube_s42",
                                    "sst2_badnets_rap_s42"])
    // The inference-time and post-training baselines adopted the undefended model (the same adapter bytes) instead of training.
    for r in results[1...3] + [results[6], results[8]] {
      #expect(r.modelOf == "sst2_badnets_none_s42")
      #expect(FileManager.default.contents(atPath: out + "/cells/\(r.key)/model/" + PEFTAdapter.weightsFile)
        == FileManager.default.contents(atPath: out + "/cells/sst2_badnets_none_s42/model/" + PEFTAdapter.weightsFile))
      #expect(r.evaluation.metrics.cleanAccuracy.total == 12 && r.evaluation.metrics.attackSuccessRate != nil)
    }
    let onion = try #require(results[1].evaluation.baseline), strip = try #require(results[2].evaluation.baseline)
    #expect(onion.devRows == 8 && onion.removedWordsClean != nil && onion.falseRejection == nil)
    #expect(strip.falseRejection?.total == 12 && strip.falseAcceptance?.total == results[2].evaluation.metrics.attackSuccessRate?.total)
    #expect(FileManager.default.fileExists(atPath: out + "/cells/sst2_badnets_onion_s42/" + OnionScores.fileName))
    #expect(results[3].evaluation.baseline?.threshold == nil && results[3].evaluation.baseline?.thresholdSource.contains("Q4_0") == true)
    // BKI read the rows with the undefended model, removed those holding its keyword and trained again on the rest.
    let bki = try #require(results[4].evaluation.baseline?.filter)
    let stored = try JSONOutput.read(BKIScoring.Result.self, from: out + "/cells/sst2_badnets_bki_s42/" + BKIScoring.resultFile)
    #expect(bki.found == [stored.keyword!] && bki.trainRows == 24 && bki.poisonedRows == 6 && bki.removedRows == stored.removed.filter { $0 }.count)
    #expect(results[4].modelOf == nil && results[4].trainRows == 24 - bki.removedRows)
    #expect(stored.topWords.count == 24 && stored.topWords.allSatisfy { $0.count <= 5 })
    // Clean fine-tuning went on from the undefended adapter on 3 + 3 clean dev rows: a new adapter.
    #expect(results[5].trainRows == 6 && results[5].modelOf == nil && results[5].evaluation.baseline?.devRows == 6)
    #expect(FileManager.default.contents(atPath: out + "/cells/sst2_badnets_finetune_s42/model/" + PEFTAdapter.weightsFile)
      != FileManager.default.contents(atPath: out + "/cells/sst2_badnets_none_s42/model/" + PEFTAdapter.weightsFile))
    // CUBE clustered the 24 rows' states and trained again on the rows it kept.
    let cube = try #require(results[7].evaluation.baseline?.filter)
    let clusters = try JSONOutput.read([Int].self, from: out + "/cells/sst2_badnets_cube_s42/cube.json")
    #expect(clusters.count == 24 && cube.trainRows == 24 && results[7].trainRows == 24 - cube.removedRows && results[7].modelOf == nil)
    // RAP: a detector with FRR and FAR; the model's embeddings are put back (the next evaluation sees the base model).
    let rap = try #require(results[8].evaluation.baseline)
    #expect(rap.falseRejection?.total == 12 && rap.falseAcceptance != nil && rap.thresholdSource.contains("\"cf\" trained 1 steps"))
    // Pruning switched off 20% of each layer's 1536 MLP neurons (307) on 8 dev rows.
    #expect(results[6].evaluation.baseline?.threshold == nil && results[6].evaluation.baseline?.thresholdSource.hasPrefix("307 of 1536") == true)
    // Verdicts against the undefended cell, and the reports carry the detectors' numbers.
    let grid = try GridResults.read(out + "/results.json")
    #expect(grid.cells[1].verdict?.undefendedKey == "sst2_badnets_none_s42" && grid.cells[2].verdict != nil && grid.cells[0].verdict == nil)
    let report = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
    #expect(report.contains("FRR % (clean test rejected)") && report.contains("model of sst2_badnets_none_s42"))
    let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
    #expect(html.contains("<h2>Baseline defenses</h2>") && html.contains("<td>strip</td>"))
    // A misspelt baseline key is an error naming it.
    let bad = yaml + ".bad.yaml"
    try (try String(contentsOfFile: yaml, encoding: .utf8)).replacingOccurrences(of: "repeats", with: "repeat").write(toFile: bad, atomically: true, encoding: .utf8)
    #expect(throws: ExperimentError.self) { try ExperimentPlan.load(bad) }
  }
}
