import Evaluation
import Backdoor
import Experiments
import Foundation
import TestSupport
import Testing
import Training

struct DevSplitTests {
  static func data(rows: Int, dev: [Example]?) -> PoisonedDataset {
    let train = (0..<rows).map { Example(text: "row \($0)", label: $0 % 2, sourceIndex: $0) }
    let m = PoisonManifest(attack: "badnets", rate: 0, target: 1, setting: .dirty, seed: 1, trainRows: rows, poisonedRows: [])
    return PoisonedDataset(train: train, testClean: [], testPoison: [], manifest: m, dev: dev)
  }

  @Test func theDevFileIsUsedAsIsAndTrainingKeepsEveryRow() {
    let dev = [Example(text: "d", label: 0)]
    let s = DevSplit.of(Self.data(rows: 50, dev: dev), seed: 3)
    #expect(s.dev == dev && s.train.count == 50 && s.source == "dev file")
  }

  @Test func withoutADevFileTenPercentIsHeldOutOfTraining() {
    let s = DevSplit.of(Self.data(rows: 50, dev: nil), seed: 3)
    #expect(s.dev.count == 5 && s.train.count == 45 && s.source == "held out from training")
    #expect(Set(s.dev.map(\.text)).isDisjoint(with: s.train.map(\.text)))
    #expect(DevSplit.of(Self.data(rows: 50, dev: nil), seed: 3) == s)  // seeded
    #expect(DevSplit.of(Self.data(rows: 20_000, dev: nil), seed: 3).dev.count == DevSplit.maxHeldOut)
  }

  @Test func theBestEpochIsTheHighestDevMacroF1AndTheEarlierOnATie() {
    let e = [SelectionRecord.Epoch(epoch: 1, devAccuracy: 0.8, devMacroF1: 0.7), .init(epoch: 2, devAccuracy: 0.7, devMacroF1: 0.75),
             .init(epoch: 3, devAccuracy: 0.9, devMacroF1: 0.75)]
    #expect(SelectionRecord.best(e) == 2)
    #expect(SelectionRecord.best([]) == nil)
  }
}

/// best-dev on the real model: every epoch's adapter is scored on the dev rows through the wrapper
/// and the chosen one is the cell's adapter.
@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct BestDevSelectionTests {
  @Test func aP2PCellKeepsItsBestDevEpoch() throws {
    let fm = FileManager.default
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL.path
    let out = fm.temporaryDirectory.appendingPathComponent("bestdev-\(UUID().uuidString)").path
    let yaml = fm.temporaryDirectory.appendingPathComponent("bestdev-\(UUID().uuidString).yaml").path
    try """
      model: \(RealModel.path)
      train_limit: 16
      test_limit: 8
      selection: best-dev
      attacks: [{attack: badnets, rate: 0.25, target: 1}]
      defenses: [p2p-paper]
      p2p: {ratio: 0.5}
      training: {epochs: 2, batch_size: 8, lr: 1.0e-3}
      """.write(toFile: yaml, atomically: true, encoding: .utf8)
    let results = try ExperimentRunner(plan: ExperimentPlan.load(yaml), directory: out, dataRoot: root).run()
    let sel = try #require(results[0].selection)
    #expect(sel.selection == .bestDev && sel.devRows == 8 && sel.devSource == "dev file" && sel.epochs.map(\.epoch) == [1, 2])
    #expect(sel.chosenEpoch == SelectionRecord.best(sel.epochs))
    let model = out + "/cells/\(results[0].key)/model"
    #expect(fm.contents(atPath: model + "/" + PEFTAdapter.weightsFile)
      == fm.contents(atPath: ClassifierTraining.epochFolder(model, epoch: sel.chosenEpoch) + "/" + PEFTAdapter.weightsFile))
    // The spec belongs to the chosen adapter (it loads), and the cell trained on all 16 rows plus the benign ones.
    #expect(try ClassifierSpec.load(from: model)?.kind == .p2p)
    #expect(results[0].trainRows == 16 + 8)
  }
}
