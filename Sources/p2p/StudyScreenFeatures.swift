import Evaluation
import ArgumentParser
import Backdoor
import Defense
import Experiments
import FileIO
import Foundation
import Llama
import Training

/// A research tool, hidden from the help: writes what the probe screen reads for the training rows
/// of a finished `p2p-probe` (or undefended) grid cell, for offline study (scripts/study/README.md):
/// the base model's mean sentence states (`base.f32`), the probe's state (`probe.f32`) and label-word
/// logits (`scores.f32`) at the answer position, row-major float32, and `meta.json`.
struct StudyScreenFeatures: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "study-screen-features", abstract: "Dump the probe screen's inputs of a finished grid cell (research tool).",
    shouldDisplay: false)

  @Argument(help: "A finished p2p-probe or undefended cell folder (runs/NAME/cells/KEY).") var cell: String
  @Argument(help: "Output folder (new or empty, or an earlier dump with --overwrite).") var out: String
  @Flag(help: "Replace an earlier dump in OUT.") var overwrite = false

  struct Meta: Codable {
    var rows: Int
    var widths: [String: Int]
    var labels: [Int]
    var cell: String
  }

  static let outputKind = OutputKind(command: "p2p study-screen-features", entries: ["base.f32", "probe.f32", "scores.f32", "meta.json"]) {
    (try? JSONOutput.read(Meta.self, from: $0 + "/meta.json")) != nil
  }

  func write(_ rows: [[Float]], name: String) throws -> Int {
    var data = Data(capacity: rows.count * (rows.first?.count ?? 0) * 4)
    for r in rows { r.withUnsafeBufferPointer { data.append(Data(buffer: $0)) } }
    try data.write(to: URL(fileURLWithPath: out + "/" + name + ".f32"), options: .atomic)
    return rows.first?.count ?? 0
  }

  func run() throws {
    try OutputFolder.check(out, kind: Self.outputKind, inputs: [cell], replace: overwrite)
    let fm = FileManager.default
    guard let probeDir = [cell + "/model/probe", cell + "/model"].first(where: { fm.fileExists(atPath: $0 + "/" + PEFTAdapter.weightsFile) }) else {
      throw ExperimentError.badFile(path: cell + "/model", reason: "no adapter in model/probe or model (a finished p2p-probe or undefended cell has one)")
    }
    let train = try DatasetReader.read(cell + "/data/train.jsonl")
    // The label words of the cell's labels (0..<n), as the screen reads them.
    let template = P2PConfig(labels: max(2, (train.map(\.label).max() ?? 1) + 1)).originalPrompt
    if probeDir.hasSuffix("/model"), try ClassifierSpec.load(from: probeDir)?.classifiesLike(.plain(template)) != true {
      throw ExperimentError.badFile(path: probeDir, reason: "not an undefended classifier (a defended cell's model is not the screen's probe)")
    }
    try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
    let (base, features, scores) = try ProbeScreening.inputs(train, template: template, modelName: ModelStore.defaultModel,
                                                             bundle: try ModelBundle.load(ModelStore.defaultModel), probeDirectory: probeDir)
    let widths = ["base": try write(base, name: "base"), "probe": try write(features, name: "probe"), "scores": try write(scores, name: "scores")]
    try JSONOutput.write(Meta(rows: train.count, widths: widths, labels: train.map(\.label), cell: cell), to: out + "/meta.json")
    printError("wrote \(train.count) rows to \(out) (base, probe, scores .f32 and meta.json)")
  }
}
