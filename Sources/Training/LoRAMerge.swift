import Llama
import TensorCore

extension LoRAParameters {
  /// Adds scaling · B·A of every adapter into the frozen fp32 weights of `model` (in place), so
  /// inference runs at base speed with the adapter's function. The merged layers stop using
  /// their quantized decode rows. The result puts the base weights back bit for bit (`restore`),
  /// so one loaded model serves a whole grid.
  @discardableResult
  public func merge(into model: LlamaModel) -> MergedAdapter {
    let r = config.rank, s = config.scaling
    var saved: [ObjectIdentifier: (Linear, Linear.Snapshot)] = [:]
    for slot in slots {
      let w = model.weights.blocks[slot.layer]
      let lin: Linear
      switch slot.target {
      case .q, .k, .v: lin = w.qkv
      case .o: lin = w.output
      case .gate, .up: lin = w.gateUp
      case .down: lin = w.down
      }
      if saved[ObjectIdentifier(lin)] == nil { saved[ObjectIdentifier(lin)] = (lin, lin.snapshot()) }
      let a = values.pointer + slot.aOffset, b = values.pointer + slot.bOffset
      switch lin.layout {
      case .inOut:  // Wᵀ (in, out_total): columns [col, col+out) += s · Aᵀ (in, r) · Bᵀ (r, out)
        BLAS.gemm(.trans, .trans, m: slot.inFeatures, n: slot.outFeatures, k: r, alpha: s, a: a, lda: slot.inFeatures,
                  b: b, ldb: r, beta: 1, c: lin.weight.pointer + slot.outputColumn, ldc: lin.outFeatures)
      case .outIn:  // W (out_total, in): rows [col, col+out) += s · B (out, r) · A (r, in)
        BLAS.gemm(.noTrans, .noTrans, m: slot.outFeatures, n: slot.inFeatures, k: r, alpha: s, a: b, lda: r,
                  b: a, ldb: slot.inFeatures, beta: 1, c: lin.weight.pointer + slot.outputColumn * slot.inFeatures,
                  ldc: slot.inFeatures)
      }
      lin.weightsDidChange()
    }
    return MergedAdapter(saved: Array(saved.values))
  }
}

/// A merge that can be undone: the base weights of every layer an adapter was merged into.
public struct MergedAdapter: @unchecked Sendable {
  let saved: [(Linear, Linear.Snapshot)]

  /// Puts the base weights (and their quantized decode rows) back, bit for bit.
  public func restore() {
    for (layer, snapshot) in saved { layer.restore(snapshot) }
  }
}
