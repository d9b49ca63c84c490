import Foundation

/// Backward partners of the forward kernels (llm.c style: explicit, no autograd). Gradients of
/// inputs that several kernels feed (dx of RMSNorm) accumulate with `+=`; buffers a kernel owns
/// outright (dGateUp, dqkv, dlogits) are overwritten, as each doc comment says. Row-wise work
/// goes through `WorkerPool.shared` in chunks of whole rows; reductions over rows are split into
/// fixed row blocks summed in block order, so results do not depend on the thread count.
extension Kernels {
  // MARK: RMSNorm

  /// Backward of out = x · rstd · w (rmsnorm). dx (N, C) += ...; dweight (C) += ... when non-nil.
  ///
  /// dout, x, dx (N, C); weight, dweight (C); rstd (N) as saved by the forward. With
  /// g = Σ_i dout_i·w_i·x_i: dx_j = rstd·dout_j·w_j − rstd³/C · g · x_j, dw_j = Σ_rows dout_j·x_j·rstd.
  public static func rmsnormBackward(
    dout: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    rstd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>?, rows n: Int, cols c: Int
  ) {
    if n <= 0 || c <= 0 { return }
    let ds = SendablePointer(UnsafeMutablePointer(mutating: dout)), xs = SendablePointer(UnsafeMutablePointer(mutating: x))
    let ws = SendablePointer(UnsafeMutablePointer(mutating: weight)), rs = SendablePointer(UnsafeMutablePointer(mutating: rstd))
    let dxs = SendablePointer(dx)
    let chunk = 32
    let blocks = (n + chunk - 1) / chunk
    // (blocks, C): one partial dweight per row block, summed in block order afterwards.
    let partial: UnsafeMutablePointer<Float>? = dweight == nil ? nil : .allocate(capacity: blocks * c)
    defer { partial?.deallocate() }
    partial?.initialize(repeating: 0, count: blocks * c)
    let ps = partial.map { SendablePointer($0) }
    WorkerPool.shared.parallelFor(blocks) { block in
      let pw = ps.map { UnsafeMutableRawPointer($0.p + block * c) }
      for r in (block * chunk)..<min(n, block * chunk + chunk) {
        let d = UnsafeRawPointer(ds.p + r * c), xr = UnsafeRawPointer(xs.p + r * c), w = UnsafeRawPointer(ws.p)
        let o = UnsafeMutableRawPointer(dxs.p + r * c)
        let inv = rs[r]
        // g = Σ dout·w·x
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= c {
          a0.addProduct(d.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * w.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                        xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
          a1.addProduct(d.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self) * w.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self),
                        xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
          i += 16
        }
        while i + 8 <= c {
          a0.addProduct(d.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * w.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                        xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
          i += 8
        }
        var g = (a0 + a1).sum()
        while i < c { g += ds.p[r * c + i] * ws.p[i] * xs.p[r * c + i]; i += 1 }
        let k = inv * inv * inv * g / Float(c)
        let vi = SIMD8<Float>(repeating: inv), vk = SIMD8<Float>(repeating: -k)
        i = 0
        while i + 8 <= c {
          let dv = d.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
          let xv = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
          var acc = o.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
          acc.addProduct(vi, dv * w.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
          acc.addProduct(vk, xv)
          o.storeBytes(of: acc, toByteOffset: i * 4, as: SIMD8<Float>.self)
          if let pw {
            var pv = pw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            pv.addProduct(dv * xv, vi)
            pw.storeBytes(of: pv, toByteOffset: i * 4, as: SIMD8<Float>.self)
          }
          i += 8
        }
        while i < c {
          let dv = ds.p[r * c + i], xv = xs.p[r * c + i]
          dxs.p[r * c + i] += inv * dv * ws.p[i] - k * xv
          if let ps { ps.p[block * c + i] += dv * xv * inv }
          i += 1
        }
      }
    }
    if let dweight, let partial {
      for b in 0..<blocks { Vector.add(partial + b * c, into: dweight, c) }
    }
  }

  // MARK: SwiGLU

  /// Backward of out (N, F) = silu(g)·u with gateUp (N, 2F) = [g | u]. Writes (overwrites) dGateUp (N, 2F).
  ///
  /// dout (N, F). With σ = sigmoid(g): dg = dout·u·σ·(1 + g·(1 − σ)), du = dout·g·σ. Written
  /// without comparisons; for |g| ≫ 1 `Vector.exp8` clamps, so σ saturates to 0 or 1 with no inf/NaN.
  public static func swigluBackward(
    dout: UnsafePointer<Float>, gateUp: UnsafePointer<Float>, dGateUp: UnsafeMutablePointer<Float>, rows n: Int, hidden f: Int
  ) {
    if n <= 0 || f <= 0 { return }
    let ds = SendablePointer(UnsafeMutablePointer(mutating: dout)), gs = SendablePointer(UnsafeMutablePointer(mutating: gateUp))
    let os = SendablePointer(dGateUp)
    let chunk = max(1, 16384 / f)
    WorkerPool.shared.parallelFor((n + chunk - 1) / chunk) { block in
      for r in (block * chunk)..<min(n, block * chunk + chunk) {
        let g = UnsafeRawPointer(gs.p + r * 2 * f), u = UnsafeRawPointer(gs.p + r * 2 * f + f)
        let d = UnsafeRawPointer(ds.p + r * f)
        let dg = UnsafeMutableRawPointer(os.p + r * 2 * f), du = UnsafeMutableRawPointer(os.p + r * 2 * f + f)
        var i = 0
        while i + 8 <= f {
          let gv = g.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
          let uv = u.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
          let dv = d.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
          let sig = 1 / (1 + Vector.exp8(-gv))
          let silu = gv * sig
          // σ·(1 + g·(1 − σ)) = σ + silu·(1 − σ)
          let dsilu = sig + silu * (1 - sig)
          dg.storeBytes(of: dv * uv * dsilu, toByteOffset: i * 4, as: SIMD8<Float>.self)
          du.storeBytes(of: dv * silu, toByteOffset: i * 4, as: SIMD8<Float>.self)
          i += 8
        }
        while i < f {
          let gv = gs.p[r * 2 * f + i], uv = gs.p[r * 2 * f + f + i], dv = ds.p[r * f + i]
          let sig = 1 / (1 + Foundation.exp(-gv))  // exp overflow gives σ = 0, still finite below
          let silu = gv * sig
          os.p[r * 2 * f + i] = dv * uv * (sig + silu * (1 - sig))
          os.p[r * 2 * f + f + i] = dv * silu
          i += 1
        }
      }
    }
  }

  // MARK: Cross-entropy

  /// Fused softmax cross-entropy over the vocabulary, forward and backward in one pass.
  /// logits (N, V) are overwritten by dlogits = rowWeight[r] · (softmax(logits[r]) - onehot(target[r])).
  /// Rows with rowWeight 0 get dlogits 0 and contribute no loss (masked tokens). Returns Σ_r rowWeight[r]·loss_r
  /// computed in Double (loss_r = logsumexp(logits[r]) - logits[r][target[r]]). `losses` (N), when non-nil,
  /// receives the unweighted loss_r (0 for masked rows). Targets of masked rows may be anything (even -1) and are not read.
  ///
  /// targets, rowWeight (N). Logits must be finite. Three passes over each row, which stays in
  /// L2: max, exp(x − max) stored with its sum, then the scale by weight/sum.
  public static func crossEntropy(
    logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, rowWeight: UnsafePointer<Float>,
    rows n: Int, vocab v: Int, losses: UnsafeMutablePointer<Float>?
  ) -> Double {
    if n <= 0 { return 0 }
    let ls = SendablePointer(logits), ts = SendablePointer(UnsafeMutablePointer(mutating: targets))
    let wts = SendablePointer(UnsafeMutablePointer(mutating: rowWeight)), outs = losses.map { SendablePointer($0) }
    // (N): per-row weighted losses, summed in row order so the total is deterministic.
    let rowLoss = UnsafeMutablePointer<Double>.allocate(capacity: n)
    defer { rowLoss.deallocate() }
    let rl = SendablePointer(rowLoss)
    let chunk = max(1, 16384 / max(1, v))
    WorkerPool.shared.parallelFor((n + chunk - 1) / chunk) { block in
      for r in (block * chunk)..<min(n, block * chunk + chunk) {
        let row = ls.p + r * v, raw = UnsafeMutableRawPointer(row)
        let w = wts[r]
        if w == 0 {
          row.update(repeating: 0, count: v)
          rl[r] = 0
          outs?[r] = 0
          continue
        }
        let t = Int(ts[r])
        precondition(t >= 0 && t < v, "target \(t) outside the vocabulary 0..<\(v)")
        // Pass 1: max. `replace(with:where:)` on a plain `.>` compiles to vmaxps here (checked
        // with objdump); four accumulators hide its latency.
        var m0 = SIMD8<Float>(repeating: -.greatestFiniteMagnitude), m1 = m0, m2 = m0, m3 = m0
        var i = 0
        while i + 32 <= v {
          let x0 = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
          let x1 = raw.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
          let x2 = raw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self)
          let x3 = raw.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self)
          m0.replace(with: x0, where: x0 .> m0)
          m1.replace(with: x1, where: x1 .> m1)
          m2.replace(with: x2, where: x2 .> m2)
          m3.replace(with: x3, where: x3 .> m3)
          i += 32
        }
        m0.replace(with: m1, where: m1 .> m0)
        m2.replace(with: m3, where: m3 .> m2)
        m0.replace(with: m2, where: m2 .> m0)
        var mx = m0[0]
        for l in 1..<8 where m0[l] > mx { mx = m0[l] }
        while i < v { if row[i] > mx { mx = row[i] }; i += 1 }
        let target = row[t]
        // Pass 2: e = exp(x − max), stored, and Σ e.
        let sum = softmaxInPlace(row, v, max: mx)
        let loss = Foundation.log(Double(sum)) + Double(mx) - Double(target)
        rl[r] = Double(w) * loss
        outs?[r] = Float(loss)
        // Pass 3: dlogits = w·e/Σe − w·onehot.
        let sv = SIMD8<Float>(repeating: w / sum)
        i = 0
        while i + 8 <= v {
          raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * sv, toByteOffset: i * 4, as: SIMD8<Float>.self)
          i += 8
        }
        while i < v { row[i] *= w / sum; i += 1 }
        row[t] -= w
      }
    }
    var total = 0.0
    for r in 0..<n { total += rowLoss[r] }
    return total
  }

  // MARK: Attention

  /// Backward of causal GQA attention on packed sequences, for the fused training layout:
  /// qkv (N, rowStride) holds q at columns [0, H·D), k at [H·D, H·D + Hkv·D), v at [H·D + Hkv·D, H·D + 2·Hkv·D)
  /// (already RoPE-rotated q and k, exactly what the forward consumed); dOut (N, H·D) with row stride dOutStride
  /// is the gradient of the attention output. Writes (overwrites) dqkv (N, rowStride) for the q, k, v columns of every
  /// row covered by `sequences` (each a range of rows: one sequence, causal within it, no attention across sequences).
  /// Recomputes the softmax probabilities (do not require them from the forward). Scale 1/sqrt(D).
  /// Parallelise over (sequence, kvHead) so that the heads of one group that write the same dk/dv rows run in one task.
  ///
  /// With s = scale·q·kᵀ, P = softmax(s) (causal), O = P·V: dP = dO·Vᵀ, dV = Pᵀ·dO,
  /// dS = P ∘ (dP − rowsum(P ∘ dP)), dQ = scale·dS·K, dK = scale·dSᵀ·Q (FlashAttention-2 paper, §2.3.1).
  public static func attentionBackward(
    qkv: UnsafePointer<Float>, dqkv: UnsafeMutablePointer<Float>, rowStride: Int,
    dOut: UnsafePointer<Float>, dOutStride: Int, sequences: [Range<Int>], heads: Int, kvHeads: Int, headDim: Int
  ) {
    precondition(kvHeads > 0 && heads % kvHeads == 0, "heads \(heads) not a multiple of kvHeads \(kvHeads)")
    precondition(rowStride >= (heads + 2 * kvHeads) * headDim, "rowStride \(rowStride) too small")
    // Longest sequences first, so the tasks that start last are the short ones.
    let order = sequences.indices.filter { !sequences[$0].isEmpty }.sorted { sequences[$0].count > sequences[$1].count }
    let qs = SendablePointer(UnsafeMutablePointer(mutating: qkv)), gs = SendablePointer(dqkv)
    let os = SendablePointer(UnsafeMutablePointer(mutating: dOut))
    WorkerPool.shared.parallelFor(order.count * kvHeads) { task in
      attentionBackwardGroup(
        qkv: qs.p, dqkv: gs.p, rowStride: rowStride, dOut: os.p, dOutStride: dOutStride,
        rows: sequences[order[task / kvHeads]], kvHead: task % kvHeads, heads: heads, kvHeads: kvHeads, headDim: headDim)
    }
  }

  /// One task of `attentionBackward`: every query head of KV head `kvHead` over one sequence.
  /// Queries go in blocks of up to 64 rows: phase A walks the block's queries (scores and dP
  /// from Kᵀ/Vᵀ as in the forward, P and dS kept in (block, keys) tiles, dq finished per row);
  /// phase B walks the keys and adds the block's contributions to dk and dv, accumulated in
  /// registers over the queries instead of read-modify-writing a row per (query, key) pair.
  static func attentionBackwardGroup(
    qkv: UnsafeMutablePointer<Float>, dqkv: UnsafeMutablePointer<Float>, rowStride rs: Int,
    dOut: UnsafeMutablePointer<Float>, dOutStride os: Int, rows: Range<Int>, kvHead kvh: Int,
    heads: Int, kvHeads: Int, headDim d: Int
  ) {
    let len = rows.count, r0 = rows.lowerBound, group = heads / kvHeads
    let scale = 1 / Float(d).squareRoot()
    let kOff = heads * d + kvh * d, vOff = heads * d + kvHeads * d + kvh * d
    let lp = (len + 7) & ~7  // keys padded to whole SIMD8 blocks
    let qb = min(len, 64)  // queries per block
    // Heap, not the stack: pool helpers have 1 MB stacks. kt, vt (D, lp); pm, sm (qb, lp).
    let buf = UnsafeMutablePointer<Float>.allocate(capacity: 2 * d * lp + 2 * qb * lp)
    defer { buf.deallocate() }
    let kt = buf, vt = buf + d * lp, pm = vt + d * lp, sm = pm + qb * lp
    for j in 0..<len {
      let kr = qkv + (r0 + j) * rs + kOff, vr = qkv + (r0 + j) * rs + vOff
      for c in 0..<d { kt[c * lp + j] = kr[c]; vt[c * lp + j] = vr[c] }
      (dqkv + (r0 + j) * rs + kOff).update(repeating: 0, count: d)  // dk, dv sum over the group: zero first
      (dqkv + (r0 + j) * rs + vOff).update(repeating: 0, count: d)
    }
    for c in 0..<d {
      for j in len..<lp { kt[c * lp + j] = 0; vt[c * lp + j] = 0 }
    }
    let keys = qkv + r0 * rs + kOff
    for h in (kvh * group)..<(kvh * group + group) {
      var i0 = 0
      while i0 < len {
        let i1 = min(len, i0 + qb)
        // Phase A: P, dS (qb, lp) rows of this block, and dq.
        for i in i0..<i1 {
          let visible = i + 1
          let q = qkv + (r0 + i) * rs + h * d, dO = dOut + (r0 + i) * os + h * d
          let p = pm + (i - i0) * lp, ds = sm + (i - i0) * lp
          transposedDots(q, kt, lp: lp, d: d, count: visible, scale: scale, into: p)
          var mx = p[0]
          for j in 1..<visible where p[j] > mx { mx = p[j] }
          let inv = 1 / softmaxInPlace(p, visible, max: mx)
          for j in 0..<visible { p[j] *= inv }
          transposedDots(dO, vt, lp: lp, d: d, count: visible, scale: 1, into: ds)  // dP
          let delta = Vector.dot(p, ds, visible)
          for j in 0..<visible { ds[j] = scale * p[j] * (ds[j] - delta) }  // scale folded into dS
          weightedRowSum(ds, weightStride: 1, rows: keys, rowStride: rs, count: visible, d: d,
                         into: dqkv + (r0 + i) * rs + h * d, accumulate: false)
        }
        // Phase B: keys j < i1 receive from this block's queries i >= j.
        for j in 0..<i1 {
          let lo = max(j, i0)
          weightedRowSum(pm + (lo - i0) * lp + j, weightStride: lp, rows: dOut + (r0 + lo) * os + h * d, rowStride: os,
                         count: i1 - lo, d: d, into: dqkv + (r0 + j) * rs + vOff, accumulate: true)
          weightedRowSum(sm + (lo - i0) * lp + j, weightStride: lp, rows: qkv + (r0 + lo) * rs + h * d, rowStride: rs,
                         count: i1 - lo, d: d, into: dqkv + (r0 + j) * rs + kOff, accumulate: true)
        }
        i0 = i1
      }
    }
  }

  /// out[j] = scale · Σ_c a[c]·t[c·lp + j] for j in 0..<count rounded up to 8 (t is (D, lp),
  /// zero-padded): 8 keys per SIMD register, the D terms split over 4 independent chains.
  @inline(__always)
  static func transposedDots(
    _ a: UnsafePointer<Float>, _ t: UnsafePointer<Float>, lp: Int, d: Int, count: Int, scale: Float,
    into out: UnsafeMutablePointer<Float>
  ) {
    let tr = UnsafeRawPointer(t), orow = UnsafeMutableRawPointer(out)
    var j = 0
    while j < count {
      var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
      var c = 0
      while c + 4 <= d {
        s0.addProduct(SIMD8(repeating: a[c]), tr.loadUnaligned(fromByteOffset: (c * lp + j) * 4, as: SIMD8<Float>.self))
        s1.addProduct(SIMD8(repeating: a[c + 1]), tr.loadUnaligned(fromByteOffset: ((c + 1) * lp + j) * 4, as: SIMD8<Float>.self))
        s2.addProduct(SIMD8(repeating: a[c + 2]), tr.loadUnaligned(fromByteOffset: ((c + 2) * lp + j) * 4, as: SIMD8<Float>.self))
        s3.addProduct(SIMD8(repeating: a[c + 3]), tr.loadUnaligned(fromByteOffset: ((c + 3) * lp + j) * 4, as: SIMD8<Float>.self))
        c += 4
      }
      while c < d {
        s0.addProduct(SIMD8(repeating: a[c]), tr.loadUnaligned(fromByteOffset: (c * lp + j) * 4, as: SIMD8<Float>.self))
        c += 1
      }
      orow.storeBytes(of: ((s0 + s1) + (s2 + s3)) * scale, toByteOffset: j * 4, as: SIMD8<Float>.self)
      j += 8
    }
  }

  /// out (D) (+)= Σ_t w[t·weightStride] · rows[t·rowStride ..< +D]. For D = 64 the sum stays in
  /// 8 SIMD registers and touches `out` once; other head dims go row by row through `axpy`.
  @inline(__always)
  static func weightedRowSum(
    _ w: UnsafePointer<Float>, weightStride: Int, rows: UnsafePointer<Float>, rowStride: Int, count: Int, d: Int,
    into out: UnsafeMutablePointer<Float>, accumulate: Bool
  ) {
    guard d == 64 else {
      if !accumulate { out.update(repeating: 0, count: d) }
      for t in 0..<count { Vector.axpy(w[t * weightStride], rows + t * rowStride, out, d) }
      return
    }
    var o0 = SIMD8<Float>(), o1 = SIMD8<Float>(), o2 = SIMD8<Float>(), o3 = SIMD8<Float>()
    var o4 = SIMD8<Float>(), o5 = SIMD8<Float>(), o6 = SIMD8<Float>(), o7 = SIMD8<Float>()
    for t in 0..<count {
      let p = SIMD8<Float>(repeating: w[t * weightStride])
      let v = UnsafeRawPointer(rows + t * rowStride)
      o0.addProduct(p, v.loadUnaligned(fromByteOffset: 0, as: SIMD8<Float>.self))
      o1.addProduct(p, v.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
      o2.addProduct(p, v.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
      o3.addProduct(p, v.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
      o4.addProduct(p, v.loadUnaligned(fromByteOffset: 128, as: SIMD8<Float>.self))
      o5.addProduct(p, v.loadUnaligned(fromByteOffset: 160, as: SIMD8<Float>.self))
      o6.addProduct(p, v.loadUnaligned(fromByteOffset: 192, as: SIMD8<Float>.self))
      o7.addProduct(p, v.loadUnaligned(fromByteOffset: 224, as: SIMD8<Float>.self))
    }
    let o = UnsafeMutableRawPointer(out)
    if accumulate {
      o0 += o.loadUnaligned(fromByteOffset: 0, as: SIMD8<Float>.self)
      o1 += o.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
      o2 += o.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
      o3 += o.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
      o4 += o.loadUnaligned(fromByteOffset: 128, as: SIMD8<Float>.self)
      o5 += o.loadUnaligned(fromByteOffset: 160, as: SIMD8<Float>.self)
      o6 += o.loadUnaligned(fromByteOffset: 192, as: SIMD8<Float>.self)
      o7 += o.loadUnaligned(fromByteOffset: 224, as: SIMD8<Float>.self)
    }
    o.storeBytes(of: o0, toByteOffset: 0, as: SIMD8<Float>.self)
    o.storeBytes(of: o1, toByteOffset: 32, as: SIMD8<Float>.self)
    o.storeBytes(of: o2, toByteOffset: 64, as: SIMD8<Float>.self)
    o.storeBytes(of: o3, toByteOffset: 96, as: SIMD8<Float>.self)
    o.storeBytes(of: o4, toByteOffset: 128, as: SIMD8<Float>.self)
    o.storeBytes(of: o5, toByteOffset: 160, as: SIMD8<Float>.self)
    o.storeBytes(of: o6, toByteOffset: 192, as: SIMD8<Float>.self)
    o.storeBytes(of: o7, toByteOffset: 224, as: SIMD8<Float>.self)
  }
}
