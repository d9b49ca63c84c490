import Llama
import TensorCore

/// Activations of one block kept for the backward pass (N packed rows). The normed inputs of
/// q/k/v and gate/up and silu(gate)·up are not kept: the backward computes them again from the
/// block input, the residual and [gate | up] (the same kernels on the same values, so bit for bit),
/// which saves (2C + F) floats a row in every layer.
final class BlockCache {
  /// (N, C) block input, (N) its rstd
  let xIn, rstd1: FloatBuffer
  /// (N, Dq + 2·Dkv) q, k (after RoPE) and v
  let qkv: FloatBuffer
  /// (N, Dq) attention output (input of o)
  let attn: FloatBuffer
  /// (N, C) residual after attention, (N) its rstd
  let xMid, rstd2: FloatBuffer
  /// (N, 2F) [gate | up]
  let gateUp: FloatBuffer
  /// Qwen3's per-head q/k norm: (N, Dq + Dkv) q and k before it and (N, H + Hkv) the rstd of each head.
  var qkPre, qkRstd: FloatBuffer?
  /// Per LoRA target of this block: U = dropout(x)·Aᵀ (N, r) and the dropout scale mask (N, in).
  var u: [LoRATarget: FloatBuffer] = [:]
  var dropMask: [LoRATarget: FloatBuffer] = [:]

  /// All buffers come from `take` and are fully overwritten by the forward pass.
  init(_ c: LlamaConfig, rows n: Int, take: (Int) -> FloatBuffer) {
    xIn = take(n * c.hiddenSize); rstd1 = take(n)
    qkv = take(n * (c.qDim + 2 * c.kvDim)); attn = take(n * c.qDim)
    xMid = take(n * c.hiddenSize); rstd2 = take(n)
    gateUp = take(n * 2 * c.feedForwardSize)
  }
}

/// One forward (+ backward) pass over a packed batch.
final class Pass {
  let model: TrainableModel
  let cfg: LlamaConfig
  let n: Int
  let training: Bool
  let batch: [TrainingSequence]
  /// Row ranges of the sequences in the packed buffers.
  let ranges: [Range<Int>]
  let positions: UnsafeMutablePointer<Int32>
  /// (N, C) residual stream
  let x: FloatBuffer
  /// (N, C) normed input of q/k/v, (N, C) of gate/up, (N, F) silu(gate)·up: one block's at a time,
  /// written by the forward and written again by the backward (`BlockCache`).
  private(set) var xn1, xn2, h: FloatBuffer
  var caches: [BlockCache] = []
  /// Every buffer taken from the model's pool, returned when the pass ends.
  private var taken: [FloatBuffer] = []

  /// A pooled buffer with unspecified contents.
  func take(_ count: Int) -> FloatBuffer {
    let b = model.pool.take(count)
    taken.append(b)
    return b
  }

  /// Returns buffers to the pool before the pass ends (temporaries of the backward).
  func recycle(_ buffers: [FloatBuffer]) {
    let ids = Set(buffers.map(ObjectIdentifier.init))
    taken.removeAll { ids.contains(ObjectIdentifier($0)) }
    model.pool.give(buffers)
  }

  /// A pooled buffer set to zero (for accumulation).
  func takeZeroed(_ count: Int) -> FloatBuffer {
    let b = take(count)
    b.zero()
    return b
  }

  init(model: TrainableModel, batch: [TrainingSequence], training: Bool) throws(TrainingError) {
    self.model = model
    cfg = model.base.config
    self.training = training
    self.batch = batch
    var r: [Range<Int>] = []
    var n = 0
    for (i, s) in batch.enumerated() {
      guard !s.tokens.isEmpty, s.tokens.count == s.targets.count else {
        throw .invalidValue(key: "batch[\(i)]", value: "\(s.tokens.count) tokens, \(s.targets.count) targets", expected: "a non-empty sequence with one target per token")
      }
      guard s.tokens.count <= cfg.contextLength else {
        throw .invalidValue(key: "batch[\(i)]", value: "\(s.tokens.count) tokens", expected: "at most the context length \(cfg.contextLength)")
      }
      for t in s.tokens where t < 0 || t >= cfg.vocabularySize {
        throw .invalidValue(key: "batch[\(i)]", value: "token \(t)", expected: "ids in 0..<\(cfg.vocabularySize)")
      }
      for t in s.targets where t < -1 || t >= cfg.vocabularySize {
        throw .invalidValue(key: "batch[\(i)]", value: "target \(t)", expected: "-1 (no loss) or ids in 0..<\(cfg.vocabularySize)")
      }
      r.append(n..<(n + s.tokens.count))
      n += s.tokens.count
    }
    guard n > 0 else { throw .invalidValue(key: "batch", value: "empty", expected: "at least one sequence") }
    ranges = r
    self.n = n
    positions = .allocate(capacity: n)
    x = model.pool.take(n * cfg.hiddenSize)
    xn1 = model.pool.take(n * cfg.hiddenSize)
    xn2 = model.pool.take(n * cfg.hiddenSize)
    h = model.pool.take(n * cfg.feedForwardSize)
    taken.append(contentsOf: [x, xn1, xn2, h])
    var row = 0
    let c = cfg.hiddenSize
    for s in batch {
      for (i, t) in s.tokens.enumerated() {
        model.base.weights.embed(t, into: x.pointer + row * c)
        positions[row] = Int32(i)
        row += 1
      }
    }
  }

  deinit {
    positions.deallocate()
    model.pool.give(taken)
  }

  // MARK: Forward

  func forward(dropout rng: inout some RandomNumberGenerator) {
    let c = cfg.hiddenSize, qd = cfg.qDim, qkvW = qd + 2 * cfg.kvDim, f = cfg.feedForwardSize
    let eps = cfg.rmsNormEpsilon
    for l in 0..<cfg.layerCount {
      let w = model.base.weights.blocks[l]
      let bc = BlockCache(cfg, rows: n, take: take)
      bc.xIn.pointer.update(from: x.pointer, count: n * c)
      Profiler.measure("train.norm") {
        Kernels.rmsnorm(x: x.pointer, weight: w.attentionNorm.pointer, out: xn1.pointer, rows: n, cols: c, eps: eps, rstd: bc.rstd1.pointer)
      }
      Profiler.measure("train.gemm") { w.qkv.forward(xn1.pointer, rows: n, into: bc.qkv.pointer) }
      for t in [LoRATarget.q, .k, .v] { loraForward(l, t, input: xn1, output: bc.qkv.pointer, outStride: qkvW, cache: bc, rng: &rng) }
      if let qn = w.qNorm, let kn = w.kNorm {
        // Qwen3: q and k normed per head; their values before the norm are kept for the backward.
        let qk = qd + cfg.kvDim, heads = cfg.headCount + cfg.kvHeadCount
        let pre = take(n * qk), rstd = take(n * heads)
        for r in 0..<n { (pre.pointer + r * qk).update(from: bc.qkv.pointer + r * qkvW, count: qk) }
        Kernels.headNorm(bc.qkv.pointer, rows: n, rowStride: qkvW, heads: cfg.headCount, headDim: cfg.headDim, weight: qn.pointer, eps: eps)
        Kernels.headNorm(bc.qkv.pointer + qd, rows: n, rowStride: qkvW, heads: cfg.kvHeadCount, headDim: cfg.headDim, weight: kn.pointer, eps: eps)
        // The rstd of each head, recomputed from the kept values (the same formula as the kernel).
        for r in 0..<n {
          for h in 0..<heads {
            let v = pre.pointer + r * qk + h * cfg.headDim
            rstd.pointer[r * heads + h] = 1 / (Vector.dot(v, v, cfg.headDim) / Float(cfg.headDim) + eps).squareRoot()
          }
        }
        bc.qkPre = pre; bc.qkRstd = rstd
      }
      Profiler.measure("train.rope") {
        Kernels.rope(bc.qkv.pointer, rows: n, heads: cfg.headCount, rowStride: qkvW, positions: positions, table: model.base.rope)
        Kernels.rope(bc.qkv.pointer + qd, rows: n, heads: cfg.kvHeadCount, rowStride: qkvW, positions: positions, table: model.base.rope)
      }
      let spans = ranges.map { r in
        Kernels.AttentionSpan(queryStart: r.lowerBound, queryCount: r.count, keys: bc.qkv.pointer + r.lowerBound * qkvW + qd,
                              values: bc.qkv.pointer + r.lowerBound * qkvW + qd + cfg.kvDim, keyCount: r.count)
      }
      Profiler.measure("train.attention") {
        Kernels.attention(q: bc.qkv.pointer, qStride: qkvW, kvStride: qkvW, out: bc.attn.pointer, outStride: qd,
                          spans: spans, heads: cfg.headCount, kvHeads: cfg.kvHeadCount, headDim: cfg.headDim)
      }
      Profiler.measure("train.gemm") { w.output.forward(bc.attn.pointer, rows: n, into: x.pointer, accumulate: true) }
      loraForward(l, .o, input: bc.attn, output: x.pointer, outStride: c, cache: bc, rng: &rng)
      bc.xMid.pointer.update(from: x.pointer, count: n * c)
      Profiler.measure("train.norm") {
        Kernels.rmsnorm(x: x.pointer, weight: w.ffnNorm.pointer, out: xn2.pointer, rows: n, cols: c, eps: eps, rstd: bc.rstd2.pointer)
      }
      Profiler.measure("train.gemm") { w.gateUp.forward(xn2.pointer, rows: n, into: bc.gateUp.pointer) }
      for t in [LoRATarget.gate, .up] { loraForward(l, t, input: xn2, output: bc.gateUp.pointer, outStride: 2 * f, cache: bc, rng: &rng) }
      Profiler.measure("train.swiglu") { Kernels.swiglu(gateUp: bc.gateUp.pointer, out: h.pointer, rows: n, hidden: f) }
      Profiler.measure("train.gemm") { w.down.forward(h.pointer, rows: n, into: x.pointer, accumulate: true) }
      loraForward(l, .down, input: h, output: x.pointer, outStride: c, cache: bc, rng: &rng)
      caches.append(bc)
    }
  }

  /// output[:, col ..< col+out] += scaling · dropout(input)·Aᵀ·Bᵀ for the adapter of (layer, target).
  private func loraForward(
    _ l: Int, _ t: LoRATarget, input: FloatBuffer, output: UnsafeMutablePointer<Float>, outStride: Int,
    cache: BlockCache, rng: inout some RandomNumberGenerator
  ) {
    guard let s = model.lora.slot(layer: l, target: t) else { return }
    let r = model.lora.config.rank, p = model.lora.config.dropout
    let vals = model.lora.values.pointer
    var xd = input
    if training && p > 0 {
      // Inverted dropout as torch.nn.Dropout: keep with probability 1-p, scale by 1/(1-p).
      let mask = take(n * s.inFeatures)
      xd = take(n * s.inFeatures)
      let keep = 1 / (1 - p)
      Profiler.measure("train.dropout") {
        let mp = mask.pointer, xp = xd.pointer, ip = input.pointer
        for i in 0..<(n * s.inFeatures) {
          let u = Float(rng.next() >> 40) * (1.0 / 16_777_216.0)
          let m: Float = u < p ? 0 : keep
          mp[i] = m
          xp[i] = ip[i] * m
        }
      }
      cache.dropMask[t] = mask
    }
    let u = take(n * r)
    Profiler.measure("train.lora") {
      // U (N, r) = xd (N, in) · Aᵀ, A (r, in)
      BLAS.gemm(.noTrans, .trans, m: n, n: r, k: s.inFeatures, a: xd.pointer, lda: s.inFeatures,
                b: vals + s.aOffset, ldb: s.inFeatures, c: u.pointer, ldc: r)
      // out (N, out) += scaling · U · Bᵀ, B (out, r)
      BLAS.gemm(.noTrans, .trans, m: n, n: s.outFeatures, k: r, alpha: model.lora.config.scaling, a: u.pointer, lda: r,
                b: vals + s.bOffset, ldb: r, beta: 1, c: output + s.outputColumn, ldc: outStride)
    }
    // The masked input is needed only here (the backward forms it again from the mask): its
    // buffer goes back to the pool at once instead of staying until the pass ends.
    if xd !== input { recycle([xd]) }
    cache.u[t] = u
  }

  // MARK: Loss and backward

  /// Rows (packed indices) that carry a target, and the targets.
  private func lossRows() -> (rows: [Int], targets: [Int32]) {
    var rows: [Int] = [], targets: [Int32] = []
    for (s, r) in zip(batch, ranges) {
      for (i, t) in s.targets.enumerated() where t >= 0 { rows.append(r.lowerBound + i); targets.append(Int32(t)) }
    }
    return (rows, targets)
  }

  /// Final norm of the selected rows: (M, C) normed, (M) rstd.
  private func finalNorm(_ rows: [Int]) -> (FloatBuffer, FloatBuffer, FloatBuffer) {
    let c = cfg.hiddenSize
    let xs = take(rows.count * c), hn = take(rows.count * c), rstd = take(rows.count)
    for (i, r) in rows.enumerated() { (xs.pointer + i * c).update(from: x.pointer + r * c, count: c) }
    Kernels.rmsnorm(x: xs.pointer, weight: model.base.weights.outputNorm.pointer, out: hn.pointer, rows: rows.count, cols: c,
                    eps: cfg.rmsNormEpsilon, rstd: rstd.pointer)
    return (xs, hn, rstd)
  }

  /// logits (M, V) = hn (M, C) · Eᵀ
  private func logits(_ hn: FloatBuffer, rows m: Int) -> FloatBuffer {
    let v = cfg.vocabularySize
    let out = take(m * v)
    model.base.weights.lmHead.forward(hn.pointer, rows: m, into: out.pointer)
    return out
  }

  func lossOnly() -> (Double, Int) {
    let (rows, targets) = lossRows()
    guard !rows.isEmpty else { return (0, 0) }
    let (_, hn, _) = finalNorm(rows)
    let lg = logits(hn, rows: rows.count)
    let weight = [Float](repeating: 1 / Float(rows.count), count: rows.count)
    let loss = Kernels.crossEntropy(logits: lg.pointer, targets: targets, rowWeight: weight, rows: rows.count,
                                    vocab: cfg.vocabularySize, losses: nil)
    return (loss, rows.count)
  }

  func lastLogits(_ ids: [Int]?) -> [[Float]] {
    let rows = ranges.map { $0.upperBound - 1 }
    let (_, hn, _) = finalNorm(rows)
    let v = cfg.vocabularySize
    if let ids {
      let lg = logits(hn, rows: rows.count)
      return (0..<rows.count).map { r in ids.map { lg[r * v + $0] } }
    }
    let lg = logits(hn, rows: rows.count)
    return (0..<rows.count).map { r in Array(UnsafeBufferPointer(start: lg.pointer + r * v, count: v)) }
  }

  func lossAndBackward(gradientScale: Float) -> (Double, Int) {
    let c = cfg.hiddenSize, v = cfg.vocabularySize
    let (rows, targets) = lossRows()
    let dx = takeZeroed(n * c)  // gradient of the residual stream, (N, C)
    var loss = 0.0
    if !rows.isEmpty {
      let m = rows.count
      let (xs, hn, rstd) = finalNorm(rows)
      let lg = logits(hn, rows: m)
      let weight = [Float](repeating: gradientScale / Float(m), count: m)
      loss = Kernels.crossEntropy(logits: lg.pointer, targets: targets, rowWeight: weight, rows: m, vocab: v, losses: nil)
        / Double(gradientScale)
      // dhn (M, C) = dlogits (M, V) · E, E stored (V, C) = (out, in)
      let dhn = take(m * c)
      model.base.weights.lmHead.backwardInput(lg.pointer, rows: m, into: dhn.pointer)
      finalNormBackward(dhn, xs: xs, rstd: rstd, rows: rows, into: dx)
    }
    blocksBackward(dx)
    return (loss, rows.count)
  }

  /// The final norm's backward for the selected rows: dhn (M, C) -> their gradient, added to dx (N, C).
  private func finalNormBackward(_ dhn: FloatBuffer, xs: FloatBuffer, rstd: FloatBuffer, rows: [Int], into dx: FloatBuffer) {
    let c = cfg.hiddenSize, m = rows.count
    let dxs = takeZeroed(m * c)
    Kernels.rmsnormBackward(dout: dhn.pointer, x: xs.pointer, weight: model.base.weights.outputNorm.pointer, rstd: rstd.pointer,
                            dx: dxs.pointer, dweight: nil, rows: m, cols: c)
    for (i, r) in rows.enumerated() { Vector.add(dxs.pointer + i * c, into: dx.pointer + r * c, c) }
  }

  /// Backward through every block, top to bottom: dx (N, C) goes from dL/d(last block output) to
  /// dL/d(input embeddings); the adapters' gradients accumulate on the way.
  private func blocksBackward(_ dx: FloatBuffer) {
    let c = cfg.hiddenSize, f = cfg.feedForwardSize, qkvW = cfg.qDim + 2 * cfg.kvDim
    let scratch = Scratch(dh: take(n * f), dGU: take(n * 2 * f), dxn: take(n * c), dattn: take(n * cfg.qDim), dqkv: take(n * qkvW))
    for l in stride(from: cfg.layerCount - 1, through: 0, by: -1) { backward(l, dx: dx, scratch) }
  }

  /// Backward from a gradient of the last position's logits of the token ids `ids`: dlogits (B, |ids|)
  /// per sequence. Returns dL/d(input embeddings) (N, C), the residual stream's gradient below
  /// block 0 (LoRA gradients accumulate on the way, as in training).
  func backwardFromLastLogits(ids: [Int], dlogits: [[Float]]) -> [Float] {
    let c = cfg.hiddenSize
    let rows = ranges.map { $0.upperBound - 1 }, m = rows.count
    precondition(dlogits.count == m && dlogits.allSatisfy { $0.count == ids.count }, "one gradient per sequence and id")
    let dx = takeZeroed(n * c)
    let (xs, _, rstd) = finalNorm(rows)
    // dhn (M, C) = Σ_j dlogits[i][j] · E[ids[j]], E the LM head's (V, C) rows.
    let dhn = takeZeroed(m * c)
    let head = model.base.weights.lmHead
    var e = [Float](repeating: 0, count: c)
    for (j, id) in ids.enumerated() {
      head.copyRow(id, into: &e)
      for i in 0..<m where dlogits[i][j] != 0 {
        let g = dlogits[i][j], out = dhn.pointer + i * c
        for k in 0..<c { out[k] += g * e[k] }
      }
    }
    finalNormBackward(dhn, xs: xs, rstd: rstd, rows: rows, into: dx)
    blocksBackward(dx)
    return Array(UnsafeBufferPointer(start: dx.pointer, count: n * c))
  }

  /// Gradient buffers of one block, reused by every block: (N, F), (N, 2F), (N, C), (N, Dq), (N, Dq + 2·Dkv).
  struct Scratch { let dh, dGU, dxn, dattn, dqkv: FloatBuffer }

  /// Backward through block l; dx (N, C) holds dL/d(block output) and becomes dL/d(block input).
  private func backward(_ l: Int, dx: FloatBuffer, _ scratch: Scratch) {
    let c = cfg.hiddenSize, qd = cfg.qDim, qkvW = qd + 2 * cfg.kvDim, f = cfg.feedForwardSize
    let w = model.base.weights.blocks[l], bc = caches[l]
    // MLP: x_out = x_mid + down(swiglu(gateUp(norm(x_mid)))).
    let dh = scratch.dh
    frozenBackward(w.down, dY: dx.pointer, dInput: dh.pointer)
    let eps = cfg.rmsNormEpsilon, lora = model.lora
    if lora.slot(layer: l, target: .down) != nil {
      Kernels.swiglu(gateUp: bc.gateUp.pointer, out: h.pointer, rows: n, hidden: f)  // the down adapter's input again
    }
    loraBackward(l, .down, input: h, dY: dx.pointer, dYStride: c, dInput: dh.pointer, cache: bc)
    let dGU = scratch.dGU
    Profiler.measure("train.bwd.swiglu") { Kernels.swigluBackward(dout: dh.pointer, gateUp: bc.gateUp.pointer, dGateUp: dGU.pointer, rows: n, hidden: f) }
    let dxn = scratch.dxn
    frozenBackward(w.gateUp, dY: dGU.pointer, dInput: dxn.pointer)
    if lora.slot(layer: l, target: .gate) != nil || lora.slot(layer: l, target: .up) != nil {
      Kernels.rmsnorm(x: bc.xMid.pointer, weight: w.ffnNorm.pointer, out: xn2.pointer, rows: n, cols: c, eps: eps)
    }
    for t in [LoRATarget.gate, .up] { loraBackward(l, t, input: xn2, dY: dGU.pointer, dYStride: 2 * f, dInput: dxn.pointer, cache: bc) }
    Profiler.measure("train.bwd.norm") {
      Kernels.rmsnormBackward(dout: dxn.pointer, x: bc.xMid.pointer, weight: w.ffnNorm.pointer, rstd: bc.rstd2.pointer,
                              dx: dx.pointer, dweight: nil, rows: n, cols: c)
    }
    // Attention: x_mid = x_in + o(attn(rope(qkv(norm(x_in))))).
    let dattn = scratch.dattn
    frozenBackward(w.output, dY: dx.pointer, dInput: dattn.pointer)
    loraBackward(l, .o, input: bc.attn, dY: dx.pointer, dYStride: c, dInput: dattn.pointer, cache: bc)
    let dqkv = scratch.dqkv
    Profiler.measure("train.bwd.attention") {
      Kernels.attentionBackward(qkv: bc.qkv.pointer, dqkv: dqkv.pointer, rowStride: qkvW, dOut: dattn.pointer, dOutStride: qd,
                                sequences: ranges, heads: cfg.headCount, kvHeads: cfg.kvHeadCount, headDim: cfg.headDim)
    }
    // RoPE is a rotation: its backward is the inverse rotation.
    Profiler.measure("train.bwd.rope") {
      Kernels.rope(dqkv.pointer, rows: n, heads: cfg.headCount, rowStride: qkvW, positions: positions, table: model.base.rope, inverse: true)
      Kernels.rope(dqkv.pointer + qd, rows: n, heads: cfg.kvHeadCount, rowStride: qkvW, positions: positions, table: model.base.rope, inverse: true)
    }
    if let qn = w.qNorm, let kn = w.kNorm, let pre = bc.qkPre, let rstd = bc.qkRstd {
      let qk = qd + cfg.kvDim, heads = cfg.headCount + cfg.kvHeadCount
      Kernels.headNormBackward(dqkv.pointer, rows: n, rowStride: qkvW, x: pre.pointer, xStride: qk, rstd: rstd.pointer, rstdStride: heads,
                               heads: cfg.headCount, headDim: cfg.headDim, weight: qn.pointer)
      Kernels.headNormBackward(dqkv.pointer + qd, rows: n, rowStride: qkvW, x: pre.pointer + qd, xStride: qk, rstd: rstd.pointer + cfg.headCount,
                               rstdStride: heads, heads: cfg.kvHeadCount, headDim: cfg.headDim, weight: kn.pointer)
    }
    frozenBackward(w.qkv, dY: dqkv.pointer, dInput: dxn.pointer)
    if [LoRATarget.q, .k, .v].contains(where: { lora.slot(layer: l, target: $0) != nil }) {
      Kernels.rmsnorm(x: bc.xIn.pointer, weight: w.attentionNorm.pointer, out: xn1.pointer, rows: n, cols: c, eps: eps)
    }
    for t in [LoRATarget.q, .k, .v] { loraBackward(l, t, input: xn1, dY: dqkv.pointer, dYStride: qkvW, dInput: dxn.pointer, cache: bc) }
    Profiler.measure("train.bwd.norm") {
      Kernels.rmsnormBackward(dout: dxn.pointer, x: bc.xIn.pointer, weight: w.attentionNorm.pointer, rstd: bc.rstd1.pointer,
                              dx: dx.pointer, dweight: nil, rows: n, cols: c)
    }
  }

  /// dInput (N, in) = dY (N, out) · W for a frozen linear layer (no weight gradient).
  private func frozenBackward(_ lin: Linear, dY: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>) {
    Profiler.measure("train.bwd.gemm") { lin.backwardInput(dY, rows: n, into: dInput) }
  }

  /// LoRA backward of (layer, target): dB += s·dYᵀ·U, dU = s·dY·B, dA += dUᵀ·xd, dInput += (dU·A) ⊙ mask.
  private func loraBackward(
    _ l: Int, _ t: LoRATarget, input: FloatBuffer, dY: UnsafePointer<Float>, dYStride: Int,
    dInput: UnsafeMutablePointer<Float>, cache: BlockCache
  ) {
    Profiler.measure("train.bwd.lora") { loraBackwardBody(l, t, input: input, dY: dY, dYStride: dYStride, dInput: dInput, cache: cache) }
  }

  private func loraBackwardBody(
    _ l: Int, _ t: LoRATarget, input: FloatBuffer, dY: UnsafePointer<Float>, dYStride: Int,
    dInput: UnsafeMutablePointer<Float>, cache: BlockCache
  ) {
    guard let s = model.lora.slot(layer: l, target: t), let u = cache.u[t] else { return }
    let r = model.lora.config.rank, scale = model.lora.config.scaling
    let vals = model.lora.values.pointer, grads = model.lora.gradients.pointer
    let dy = dY + s.outputColumn
    let inF = s.inFeatures
    // dB (out, r) += scale · dYᵀ (out, N) · U (N, r)
    BLAS.gemm(.trans, .noTrans, m: s.outFeatures, n: r, k: n, alpha: scale, a: dy, lda: dYStride, b: u.pointer, ldb: r,
              beta: 1, c: grads + s.bOffset, ldc: r)
    // dU (N, r) = scale · dY (N, out) · B (out, r)
    let du = take(n * r)
    BLAS.gemm(.noTrans, .noTrans, m: n, n: r, k: s.outFeatures, alpha: scale, a: dy, lda: dYStride, b: vals + s.bOffset, ldb: r,
              c: du.pointer, ldc: r)
    let mask = cache.dropMask[t]
    var xd = input
    if let mask {
      xd = take(n * inF)
      Vector.multiply(input.pointer, mask.pointer, into: xd.pointer, n * inF)
    }
    // dA (r, in) += dUᵀ (r, N) · xd (N, in)
    BLAS.gemm(.trans, .noTrans, m: r, n: inF, k: n, a: du.pointer, lda: r, b: xd.pointer, ldb: inF, beta: 1,
              c: grads + s.aOffset, ldc: inF)
    // dInput (N, in) += (dU (N, r) · A (r, in)) ⊙ mask
    if let mask {
      let tmp = take(n * inF)
      BLAS.gemm(.noTrans, .noTrans, m: n, n: inF, k: r, a: du.pointer, lda: r, b: vals + s.aOffset, ldb: inF, c: tmp.pointer, ldc: inF)
      Vector.addProduct(tmp.pointer, mask.pointer, into: dInput, n * inF)
      recycle([tmp, xd])
    } else {
      BLAS.gemm(.noTrans, .noTrans, m: n, n: inF, k: r, a: du.pointer, lda: r, b: vals + s.aOffset, ldb: inF, beta: 1,
                c: dInput, ldc: inF)
    }
    recycle([du])
  }
}
