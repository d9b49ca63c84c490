// p2p-screen-features CELL OUT: writes what the probe screen reads for the training rows of a
// finished `p2p-probe` grid cell, for offline study (scripts/study/README.md): the base model's
// mean sentence states (base.f32), the probe's state (probe.f32) and label-word logits
// (scores.f32) at the answer position, row-major float32, and meta.json (rows, widths, labels).
// The probe is the cell's `model/probe` adapter, or for an undefended cell its `model` (the probe
// the screen would train on those rows); the rows are the cell's `data/train.jsonl`.
import Backdoor
import Defense
import Experiments
import Foundation
import Llama
import Training

struct Meta: Codable {
  var rows: Int
  var widths: [String: Int]
  var labels: [Int]
  var cell: String
}

func write(_ rows: [[Float]], name: String, to out: String) throws -> Int {
  var data = Data(capacity: rows.count * (rows.first?.count ?? 0) * 4)
  for r in rows { r.withUnsafeBufferPointer { data.append(Data(buffer: $0)) } }
  try data.write(to: URL(fileURLWithPath: out + "/" + name + ".f32"), options: .atomic)
  return rows.first?.count ?? 0
}

func main() throws {
  let args = Array(CommandLine.arguments.dropFirst())
  guard args.count == 2 else {
    throw ExperimentError.invalid(key: "arguments", expected: "CELL OUT: a finished p2p-probe or undefended cell folder (runs/NAME/cells/KEY) and an output folder")
  }
  let (cell, out) = (args[0], args[1])
  let fm = FileManager.default
  guard let probeDir = [cell + "/model/probe", cell + "/model"].first(where: { fm.fileExists(atPath: $0 + "/" + PEFTAdapter.weightsFile) }) else {
    throw ExperimentError.badFile(path: cell + "/model", reason: "no adapter in model/probe or model (a finished p2p-probe or undefended cell has one)")
  }
  let template = P2PConfig().originalPrompt
  if probeDir.hasSuffix("/model"), try ClassifierSpec.load(from: probeDir)?.classifiesLike(.plain(template)) != true {
    throw ExperimentError.badFile(path: probeDir, reason: "not an undefended classifier (a defended cell's model is not the screen's probe)")
  }
  let train = try DatasetReader.read(cell + "/data/train.jsonl")
  try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
  let (base, features, scores) = try ProbeScreening.inputs(train, template: template, modelName: ModelStore.defaultModel,
                                                           bundle: try ModelBundle.load(ModelStore.defaultModel), probeDirectory: probeDir)
  let widths = ["base": try write(base, name: "base", to: out), "probe": try write(features, name: "probe", to: out),
                "scores": try write(scores, name: "scores", to: out)]
  try JSONOutput.write(Meta(rows: train.count, widths: widths, labels: train.map(\.label), cell: cell), to: out + "/meta.json")
}

do {
  try main()
} catch {
  FileHandle.standardError.write("p2p-screen-features: \(error)\n".data(using: .utf8)!)
  exit(1)
}
