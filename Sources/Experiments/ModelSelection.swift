import Inference
import Backdoor
import Evaluation
import FileIO
import Foundation
import Llama
import TensorCore
import Training

/// Which epoch's adapter is the result of a training: the last one, or the one with the best
/// macro-F1 on development rows (the official P2P code keeps the best dev epoch), evaluated at
/// each epoch's end through the deployed path: the P2P wrapper (benign trigger, safe label space)
/// for a defended classifier, the plain prompt otherwise.
public enum ModelSelection: String, Codable, Sendable, CaseIterable {
  case last
  case bestDev = "best-dev"
}

/// The development rows of a selection and where they came from.
public struct DevSplit: Sendable, Equatable {
  /// Rows kept out of training when the dataset has no dev file: this share of the training rows
  /// (at least 1, at most `maxHeldOut`), drawn with the seed.
  public static let heldOutShare = 0.1
  public static let maxHeldOut = 500

  public var train: [Example]
  public var dev: [Example]
  /// "dev file" or "held out from training".
  public var source: String

  public init(train: [Example], dev: [Example], source: String) { self.train = train; self.dev = dev; self.source = source }

  /// `data.dev` when the poisoned dataset carries the clean dev file (no poisoned rows); else a
  /// seeded slice of the training rows, kept out of training (it may hold poisoned rows: the
  /// defender cannot tell).
  public static func of(_ data: PoisonedDataset, seed: UInt64) -> DevSplit {
    if let dev = data.dev, !dev.isEmpty { return DevSplit(train: data.train, dev: dev, source: "dev file") }
    let k = min(maxHeldOut, max(1, Int((heldOutShare * Double(data.train.count)).rounded())))
    var rng = SeededRNG(seed: seed ^ 0xDE7_0417)
    let held = Set(PoisonPlan.sample(Array(data.train.indices), min(k, max(0, data.train.count - 1)), &rng))
    return DevSplit(train: data.train.indices.filter { !held.contains($0) }.map { data.train[$0] },
                    dev: held.sorted().map { data.train[$0] }, source: "held out from training")
  }
}

/// The dev scores of each epoch and the chosen one, stored as `selection.json` beside the adapter.
public struct SelectionRecord: Codable, Sendable, Equatable {
  public struct Epoch: Codable, Sendable, Equatable {
    public var epoch: Int
    public var devAccuracy: Double
    public var devMacroF1: Double

    public init(epoch: Int, devAccuracy: Double, devMacroF1: Double) {
      self.epoch = epoch; self.devAccuracy = devAccuracy; self.devMacroF1 = devMacroF1
    }
  }

  public var selection: ModelSelection
  public var devRows: Int
  public var devSource: String
  public var epochs: [Epoch]
  public var chosenEpoch: Int

  public static let fileName = "selection.json"

  /// The epoch with the best dev macro-F1 (the earlier on a tie).
  public static func best(_ epochs: [Epoch]) -> Int? {
    epochs.reduce(nil as Epoch?) { best, e in
      guard let b = best else { return e }
      return e.devMacroF1 > b.devMacroF1 ? e : b
    }?.epoch
  }
}

extension ClassifierTraining {
  /// The folder of epoch `e`'s adapter snapshot inside a training folder.
  public static func epochFolder(_ directory: String, epoch: Int) -> String { directory + "/epochs/epoch-\(epoch)" }

  /// Scores every epoch snapshot on `dev` through the deployed path (merged into the base model
  /// and taken out again), keeps the best one's adapter as the
  /// folder's adapter and writes `selection.json`.
  static func selectBestDev(bundle: ModelBundle, spec: ClassifierSpec, dev: DevSplit, epochs: Int, directory: String) throws -> SelectionRecord {
    var scores: [SelectionRecord.Epoch] = []
    let gold = dev.dev.map(\.label)
    for e in 1...epochs {
      let folder = epochFolder(directory, epoch: e)
      guard FileManager.default.fileExists(atPath: folder + "/" + PEFTAdapter.weightsFile) else {
        throw ExperimentError.badFile(path: folder, reason: "no adapter snapshot of epoch \(e) (a run killed at that epoch's end); retrain with --overwrite")
      }
      let merged = try PEFTAdapter.load(from: folder, model: bundle.model.config).merge(into: bundle.model)
      defer { merged.restore() }
      let predicted = try ClassificationEvaluation.predictDeployed(scorer: PromptScorer(bundle), spec: spec,
                                                                  texts: dev.dev.map(\.text))
      let m = ClassificationMetrics(gold: gold, predicted: predicted, labels: spec.labels)
      scores.append(.init(epoch: e, devAccuracy: m.cleanAccuracy.value, devMacroF1: m.macroF1))
    }
    guard let chosen = SelectionRecord.best(scores) else { throw ExperimentError.invalid(key: "selection", expected: "at least one epoch") }
    for file in [PEFTAdapter.weightsFile, PEFTAdapter.configFile] {
      let target = directory + "/" + file
      let data = try Data(contentsOf: URL(fileURLWithPath: epochFolder(directory, epoch: chosen) + "/" + file))
      try data.write(to: URL(fileURLWithPath: target), options: .atomic)
    }
    let record = SelectionRecord(selection: .bestDev, devRows: dev.dev.count, devSource: dev.source, epochs: scores, chosenEpoch: chosen)
    try JSONOutput.write(record, to: directory + "/" + SelectionRecord.fileName)
    return record
  }
}
