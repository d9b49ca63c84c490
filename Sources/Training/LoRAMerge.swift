import Llama
import TensorCore

extension LoRAParameters {
  /// Adds scaling · B·A of every adapter into the frozen fp32 weights of `model` (in place), so
  /// inference runs at base speed with the adapter's function. The merged layers stop using
  /// their quantized decode rows. The result puts the base weights back bit for bit (`restore`),
  /// so one loaded model serves a whole grid.
  ///
  /// On a base kept quantized (`BaseWeights.quantized`) merging would turn every adapted layer
  /// back into fp32; there the adapter is attached unmerged instead (`AttachedLoRA`: each forward
  /// adds scaling · (x·Aᵀ)·Bᵀ after the projection) and `restore` detaches it.
  @discardableResult
  public func merge(into model: LlamaModel) -> MergedAdapter {
    if model.weights.base == .quantized {
      precondition(model.adapter == nil, "an adapter is already attached")
      model.adapter = AttachedLoRA(self)
      return MergedAdapter(saved: [], detach: model)
    }
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

/// A merge that can be undone: the base weights of every layer an adapter was merged into, or
/// the model an unmerged adapter was attached to.
public struct MergedAdapter: @unchecked Sendable {
  let saved: [(Linear, Linear.Snapshot)]
  var detach: LlamaModel? = nil

  /// Puts the base weights (and their quantized decode rows) back, bit for bit, or detaches the adapter.
  public func restore() {
    for (layer, snapshot) in saved { layer.restore(snapshot) }
    detach?.adapter = nil
  }
}

/// LoRA applied beside the frozen projections: after projection y = x·Wᵀ of a block, each adapted
/// target adds scaling · (x·Aᵀ)·Bᵀ into its columns of y (the training forward's computation,
/// without dropout).
public final class AttachedLoRA: ProjectionAdapter, @unchecked Sendable {
  let lora: LoRAParameters
  /// The slots of each (layer, projection).
  let slots: [Int: [LoRASlot]]

  public init(_ lora: LoRAParameters) {
    self.lora = lora
    var bySlot: [Int: [LoRASlot]] = [:]
    for s in lora.slots { bySlot[Self.key(s.layer, Self.projection(of: s.target)), default: []].append(s) }
    slots = bySlot
  }

  static func projection(of t: LoRATarget) -> Projection {
    switch t {
    case .q, .k, .v: return .qkv
    case .o: return .output
    case .gate, .up: return .gateUp
    case .down: return .down
    }
  }

  static func key(_ layer: Int, _ p: Projection) -> Int { layer * 4 + p.rawValue }

  public func addDelta(layer: Int, projection: Projection, input: UnsafePointer<Float>, rows n: Int, output: UnsafeMutablePointer<Float>, ldy: Int) {
    guard let list = slots[Self.key(layer, projection)] else { return }
    let r = lora.config.rank, vals = lora.values.pointer
    withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, n * r)) { u in
      for s in list {
        // U (N, r) = x (N, in) · Aᵀ; y (N, out) += scaling · U · Bᵀ
        BLAS.gemm(.noTrans, .trans, m: n, n: r, k: s.inFeatures, a: input, lda: s.inFeatures,
                  b: vals + s.aOffset, ldb: s.inFeatures, c: u.baseAddress!, ldc: r)
        BLAS.gemm(.noTrans, .trans, m: n, n: s.outFeatures, k: r, alpha: lora.config.scaling, a: u.baseAddress!, lda: r,
                  b: vals + s.bOffset, ldb: r, beta: 1, c: output + s.outputColumn, ldc: ldy)
      }
    }
  }
}
