import GGUF
import TensorCore

/// Which logits a forward pass returns.
public struct LogitsRequest: Sendable, Equatable {
  public enum Positions: Sendable, Equatable { case all, last, none }
  public var positions: Positions
  /// Restrict the vocabulary to these ids (in this order), e.g. a verbalizer's label words;
  /// nil means the full vocabulary.
  public var tokens: [Int]?

  public init(positions: Positions, tokens: [Int]? = nil) { self.positions = positions; self.tokens = tokens }
  public static let all = LogitsRequest(positions: .all)
  public static let last = LogitsRequest(positions: .last)
}

/// Logits of a forward pass: `rows` × `width`, row-major. With `.all`, sequence s owns rows
/// `rowStart[s] ..< rowStart[s] + length(s)`; with `.last`, row s belongs to sequence s.
public struct Logits: Sendable {
  public let values: [Float]
  public let width: Int
  public let rowStart: [Int]
  public var rows: Int { width == 0 ? 0 : values.count / width }

  public func row(_ r: Int) -> ArraySlice<Float> { values[(r * width)..<((r + 1) * width)] }
}

/// The fused projections of a block, as an adapter attached to the forward sees them.
public enum Projection: Int, Sendable { case qkv, output, gateUp, down }

/// A low-rank adapter applied beside the frozen projections instead of merged into them (for a
/// base kept quantized, whose layers merging would turn back into fp32): after each projection
/// y = x·Wᵀ of block `layer`, `addDelta` adds the adapter's part to y (row stride `ldy`).
public protocol ProjectionAdapter: AnyObject, Sendable {
  func addDelta(layer: Int, projection: Projection, input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>, ldy: Int)
}

/// A Llama-family decoder in fp32: RMSNorm, RoPE, grouped-query attention, SwiGLU, (tied) LM
/// head. Batches are packed without padding: every sequence is a contiguous run of rows and
/// attention never crosses sequences, so padding costs nothing.
public final class LlamaModel: @unchecked Sendable {
  public let config: LlamaConfig
  public let weights: LlamaWeights
  public let rope: Kernels.RopeTable
  /// Reads each block's MLP activations h = silu(gate)·up (rows × F) as the forward computes them:
  /// (layer, h, rows). nil in normal use; set only while measuring (`MLPActivity`), one forward at a time.
  public var mlpObserver: ((Int, UnsafePointer<Float>, Int) -> Void)?
  /// An adapter applied unmerged in every forward (`LoRAParameters.merge` attaches one to a base
  /// kept quantized); nil in plain use.
  public var adapter: ProjectionAdapter?

  public init(weights: LlamaWeights) {
    config = weights.config
    self.weights = weights
    rope = Kernels.RopeTable(headDim: config.headDim, base: config.ropeBase, maxPositions: config.contextLength,
                             factors: weights.ropeFactors)
  }

  public convenience init(gguf file: GGUFFile, base: BaseWeights = .fp32) throws(ModelError) {
    let config = try LlamaConfig(gguf: file)
    self.init(weights: try LlamaWeights(gguf: file, config: config, base: base))
  }

  // MARK: Forward

  /// Runs `sequences` (token ids, each non-empty) and returns the requested logits. With
  /// `caches` (one per sequence), the tokens continue each cached sequence: positions start at
  /// the cache length and the new keys/values are appended.
  public func forward(_ sequences: [[Int]], logits request: LogitsRequest, caches: [KVCache]? = nil) throws(ModelError) -> Logits {
    let hidden = try hiddenStates(sequences, caches: caches, lastOnly: request.positions == .last)
    return projectLogits(hidden.states, rows: hidden.rows, rowStart: hidden.rowStart, request: request)
  }

  /// Final-norm hidden states (rows, C): all positions, or the last of each sequence.
  public func hiddenStates(_ sequences: [[Int]], caches: [KVCache]? = nil, lastOnly: Bool) throws(ModelError)
    -> (states: FloatBuffer, rows: Int, rowStart: [Int])
  {
    let c = config.hiddenSize
    guard !sequences.isEmpty else { throw .emptyInput("no sequences") }
    if let caches, caches.count != sequences.count {
      throw .emptyInput("\(caches.count) caches for \(sequences.count) sequences")
    }
    var starts: [Int] = []
    var n = 0
    for (s, seq) in sequences.enumerated() {
      guard !seq.isEmpty else { throw .emptyInput("sequence \(s) has no tokens") }
      let past = caches?[s].length ?? 0
      let limit = min(config.contextLength, caches?[s].capacity ?? config.contextLength)
      guard past + seq.count <= limit else { throw .sequenceTooLong(length: past + seq.count, limit: limit) }
      for t in seq where t < 0 || t >= config.vocabularySize {
        throw .tokenOutOfRange(id: t, vocabularySize: config.vocabularySize)
      }
      starts.append(n)
      n += seq.count
    }
    let ws = Profiler.measure("workspace") { Workspace(config: config, rows: n) }
    // Embedding lookup and positions.
    var row = 0
    for (s, seq) in sequences.enumerated() {
      let past = caches?[s].length ?? 0
      for (i, t) in seq.enumerated() {
        weights.embed(t, into: ws.x.pointer + row * c)
        ws.positions[row] = Int32(past + i)
        row += 1
      }
    }
    for l in 0..<config.layerCount {
      block(l, ws: ws, sequences: sequences, starts: starts, caches: caches)
    }
    caches?.enumerated().forEach { $0.element.advance(by: sequences[$0.offset].count) }

    // Final norm only on the rows whose logits are wanted.
    if lastOnly {
      let out = FloatBuffer(count: sequences.count * c)
      for (s, seq) in sequences.enumerated() {
        let r = starts[s] + seq.count - 1
        Kernels.rmsnorm(x: ws.x.pointer + r * c, weight: weights.outputNorm.pointer, out: out.pointer + s * c,
                        rows: 1, cols: c, eps: config.rmsNormEpsilon)
      }
      return (out, sequences.count, Array(0..<sequences.count))
    }
    Kernels.rmsnorm(x: ws.x.pointer, weight: weights.outputNorm.pointer, out: ws.x.pointer, rows: n, cols: c,
                    eps: config.rmsNormEpsilon)
    return (ws.x, n, starts)
  }

  /// One transformer block in place on ws.x (N, C).
  private func block(_ l: Int, ws: Workspace, sequences: [[Int]], starts: [Int], caches: [KVCache]?) {
    let cfg = config, w = weights.blocks[l]
    let n = ws.rows, c = cfg.hiddenSize, qd = cfg.qDim, kvd = cfg.kvDim, qkvW = qd + 2 * kvd
    // Attention: xn = norm(x); qkv = xn·Wqkvᵀ (+b) (N, Dq+2Dkv); [Qwen3: per-head norm of q, k]; rope(q, k); a = attn(q, k, v); x += a·Woᵀ.
    Profiler.measure("norm") {
      Kernels.rmsnorm(x: ws.x.pointer, weight: w.attentionNorm.pointer, out: ws.xn.pointer, rows: n, cols: c, eps: cfg.rmsNormEpsilon)
    }
    Profiler.measure("linear.qkv") { w.qkv.forward(ws.xn.pointer, rows: n, into: ws.qkv.pointer) }
    adapter?.addDelta(layer: l, projection: .qkv, input: ws.xn.pointer, rows: n, output: ws.qkv.pointer, ldy: qkvW)
    if let qn = w.qNorm, let kn = w.kNorm {
      Kernels.headNorm(ws.qkv.pointer, rows: n, rowStride: qkvW, heads: cfg.headCount, headDim: cfg.headDim, weight: qn.pointer, eps: cfg.rmsNormEpsilon)
      Kernels.headNorm(ws.qkv.pointer + qd, rows: n, rowStride: qkvW, heads: cfg.kvHeadCount, headDim: cfg.headDim, weight: kn.pointer,
                       eps: cfg.rmsNormEpsilon)
    }
    Profiler.measure("rope") {
      Kernels.rope(ws.qkv.pointer, rows: n, heads: cfg.headCount, rowStride: qkvW, positions: ws.positions, table: rope)
      Kernels.rope(ws.qkv.pointer + qd, rows: n, heads: cfg.kvHeadCount, rowStride: qkvW, positions: ws.positions, table: rope)
    }
    var spans: [Kernels.AttentionSpan] = []
    spans.reserveCapacity(sequences.count)
    for (s, seq) in sequences.enumerated() {
      let q0 = starts[s]
      if let cache = caches?[s] {
        let kc = cache.keys[l].pointer, vc = cache.values[l].pointer, past = cache.length
        for i in 0..<seq.count {
          (kc + (past + i) * kvd).update(from: ws.qkv.pointer + (q0 + i) * qkvW + qd, count: kvd)
          (vc + (past + i) * kvd).update(from: ws.qkv.pointer + (q0 + i) * qkvW + qd + kvd, count: kvd)
        }
        spans.append(.init(queryStart: q0, queryCount: seq.count, keys: kc, values: vc, keyCount: past + seq.count))
      } else {
        let base = ws.qkv.pointer + q0 * qkvW
        spans.append(.init(queryStart: q0, queryCount: seq.count, keys: base + qd, values: base + qd + kvd, keyCount: seq.count))
      }
    }
    Profiler.measure("attention") {
      Kernels.attention(q: ws.qkv.pointer, qStride: qkvW, kvStride: caches == nil ? qkvW : kvd,
                        out: ws.attn.pointer, outStride: qd, spans: spans,
                        heads: cfg.headCount, kvHeads: cfg.kvHeadCount, headDim: cfg.headDim)
    }
    Profiler.measure("linear.o") { w.output.forward(ws.attn.pointer, rows: n, into: ws.x.pointer, accumulate: true) }
    adapter?.addDelta(layer: l, projection: .output, input: ws.attn.pointer, rows: n, output: ws.x.pointer, ldy: c)
    // MLP: xn = norm(x); gu = xn·[Wg;Wu]ᵀ (N, 2F); h = silu(g)·u; x += h·Wdᵀ.
    Profiler.measure("norm") {
      Kernels.rmsnorm(x: ws.x.pointer, weight: w.ffnNorm.pointer, out: ws.xn.pointer, rows: n, cols: c, eps: cfg.rmsNormEpsilon)
    }
    Profiler.measure("linear.gateUp") { w.gateUp.forward(ws.xn.pointer, rows: n, into: ws.gateUp.pointer) }
    adapter?.addDelta(layer: l, projection: .gateUp, input: ws.xn.pointer, rows: n, output: ws.gateUp.pointer, ldy: 2 * cfg.feedForwardSize)
    Profiler.measure("swiglu") { Kernels.swiglu(gateUp: ws.gateUp.pointer, out: ws.h.pointer, rows: n, hidden: cfg.feedForwardSize) }
    if let observe = mlpObserver { observe(l, ws.h.pointer, n) }
    Profiler.measure("linear.down") { w.down.forward(ws.h.pointer, rows: n, into: ws.x.pointer, accumulate: true) }
    adapter?.addDelta(layer: l, projection: .down, input: ws.h.pointer, rows: n, output: ws.x.pointer, ldy: c)
  }

  /// logits (rows, V or |tokens|) = h (rows, C) · Eᵀ, over the full vocabulary or a subset.
  public func projectLogits(_ h: FloatBuffer, rows: Int, rowStart: [Int], request: LogitsRequest) -> Logits {
    if request.positions == .none { return Logits(values: [], width: 0, rowStart: rowStart) }
    let c = config.hiddenSize
    if let ids = request.tokens {
      // Gather the needed rows of the head: a (rows, C)·(C, k) product instead of (C, V).
      let sub = FloatBuffer(count: ids.count * c)
      let head = weights.lmHead
      for (i, t) in ids.enumerated() { head.copyRow(t, into: sub.pointer + i * c) }
      var out = [Float](repeating: 0, count: rows * ids.count)
      out.withUnsafeMutableBufferPointer { o in
        BLAS.gemm(.noTrans, .trans, m: rows, n: ids.count, k: c, a: h.pointer, lda: c, b: sub.pointer, ldb: c, c: o.baseAddress!, ldc: ids.count)
      }
      return Logits(values: out, width: ids.count, rowStart: rowStart)
    }
    let v = config.vocabularySize
    // Every element is written by the GEMM: skip zero-filling up to 200 MB of logits.
    let out = Profiler.measure("lmHead") {
      [Float](unsafeUninitializedCapacity: rows * v) { buffer, initialized in
        weights.lmHead.forward(h.pointer, rows: rows, into: buffer.baseAddress!)
        initialized = rows * v
      }
    }
    return Logits(values: out, width: v, rowStart: rowStart)
  }
}

/// Activations of one inference forward pass (N packed rows).
final class Workspace {
  let rows: Int
  /// (N, C) residual stream
  let x: FloatBuffer
  /// (N, C) normed input of a sub-layer
  let xn: FloatBuffer
  /// (N, Dq + 2·Dkv)
  let qkv: FloatBuffer
  /// (N, Dq)
  let attn: FloatBuffer
  /// (N, 2F)
  let gateUp: FloatBuffer
  /// (N, F)
  let h: FloatBuffer
  /// (N)
  let positions: UnsafeMutablePointer<Int32>

  init(config: LlamaConfig, rows n: Int) {
    rows = n
    x = FloatBuffer(count: n * config.hiddenSize)
    xn = FloatBuffer(count: n * config.hiddenSize)
    qkv = FloatBuffer(count: n * (config.qDim + 2 * config.kvDim))
    attn = FloatBuffer(count: n * config.qDim)
    gateUp = FloatBuffer(count: n * 2 * config.feedForwardSize)
    h = FloatBuffer(count: n * config.feedForwardSize)
    positions = .allocate(capacity: max(1, n))
  }

  deinit { positions.deallocate() }
}
