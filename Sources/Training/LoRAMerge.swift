import Llama
import TensorCore

extension LoRAParameters {
  /// Adds scaling · B·A of every adapter into the frozen fp32 weights of `model` (in place), so
  /// inference runs at base speed with the adapter's function. The merged layers stop using
  /// their quantized decode rows. Irreversible for this model instance: load a fresh one to
  /// get the base model back.
  public func merge(into model: LlamaModel) {
    let r = config.rank, s = config.scaling
    for slot in slots {
      let w = model.weights.blocks[slot.layer]
      let lin: Linear
      switch slot.target {
      case .q, .k, .v: lin = w.qkv
      case .o: lin = w.output
      case .gate, .up: lin = w.gateUp
      case .down: lin = w.down
      }
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
  }
}
