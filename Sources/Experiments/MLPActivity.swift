import Backdoor
import Defense
import Evaluation
import Inference
import Llama

/// The mean activation magnitude |silu(gate)·up| of every MLP neuron of every layer over all
/// positions of `prompts`, with the model as it is (the adapter merged), read through
/// `LlamaModel.mlpObserver` during ordinary forward passes.
public enum MLPActivity {
  public static func measure(_ prompts: [String], bundle: ModelBundle, progress: (Int) -> Void = { _ in }) throws -> [[Double]] {
    let model = bundle.model, f = model.config.feedForwardSize
    var sums = [[Double]](repeating: [Double](repeating: 0, count: f), count: model.config.layerCount)
    var positions = 0
    model.mlpObserver = { layer, h, rows in
      for r in 0..<rows {
        let p = h + r * f
        for j in 0..<f { sums[layer][j] += Double(abs(p[j])) }
      }
    }
    defer { model.mlpObserver = nil }
    var done = 0
    try ProbeScreening.packedPasses(prompts.map { bundle.tokenizer.encodeInput($0) }, what: "pruning prompt") { group in
      _ = try model.hiddenStates(group, lastOnly: true)
      positions += group.reduce(0) { $0 + $1.count }
      done += group.count
      progress(done)
    }
    return sums.map { $0.map { $0 / Double(max(positions, 1)) } }
  }
}
