import Foundation

/// Backward partners of the forward kernels (llm.c style: explicit, no autograd). Gradients of
/// inputs that several kernels feed (dx of RMSNorm) accumulate with `+=`; buffers a kernel owns
/// outright (dGateUp, dqkv, dlogits) are overwritten, as each doc comment says. Row-wise work
/// goes through `WorkerPool.shared` in chunks of whole rows; reductions over rows are split into
/// fixed row blocks summed in block order, so results do not depend on the thread count.
extension Kernels {
  // MARK: RMSNorm

  /// Backward of `headNorm`, in place: dy (N rows of stride `rowStride`, `heads` heads of `headDim`)
  /// becomes dx. x (rows of stride `xStride`) are the values before the norm, rstd (rows of stride
  /// `rstdStride`, one per head) as the forward computed it. Per head, with g = Σ_i dy_i·w_i·x_i:
  /// dx_j = rstd·dy_j·w_j − rstd³/d · g · x_j (no weight gradient: the norm weight is frozen).
  public static func headNormBackward(
    _ dy: UnsafeMutablePointer<Float>, rows n: Int, rowStride: Int, x: UnsafePointer<Float>, xStride: Int,
    rstd: UnsafePointer<Float>, rstdStride: Int, heads: Int, headDim d: Int, weight: UnsafePointer<Float>
  ) {
    let ds = SendablePointer(dy), xs = SendablePointer(UnsafeMutablePointer(mutating: x))
    let rs = SendablePointer(UnsafeMutablePointer(mutating: rstd)), ws = SendablePointer(UnsafeMutablePointer(mutating: weight))
    let chunk = 32
    WorkerPool.shared.parallelFor((n + chunk - 1) / chunk) { block in
      for r in (block * chunk)..<min(n, block * chunk + chunk) {
        for h in 0..<heads {
          let g = ds.p + r * rowStride + h * d, xv = xs.p + r * xStride + h * d
          let inv = rs[r * rstdStride + h]
          var dot: Float = 0
          for i in 0..<d { dot += g[i] * ws.p[i] * xv[i] }
          let k = inv * inv * inv / Float(d) * dot
          for i in 0..<d { g[i] = inv * g[i] * ws.p[i] - k * xv[i] }
        }
      }
    }
  }

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
        let vm = SIMD8<Float>(repeating: mx)
        var e0 = SIMD8<Float>(), e1 = SIMD8<Float>()
        i = 0
        while i + 16 <= v {
          let a = expNonPositive8(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - vm)
          let b = expNonPositive8(raw.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self) - vm)
          raw.storeBytes(of: a, toByteOffset: i * 4, as: SIMD8<Float>.self)
          raw.storeBytes(of: b, toByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
          e0 += a
          e1 += b
          i += 16
        }
        var sum = (e0 + e1).sum()
        while i < v { let e = Foundation.exp(row[i] - mx); row[i] = e; sum += e; i += 1 }
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

  /// exp(x) for x ≤ 0 (softmax after subtracting the max): `Vector.exp8`'s Cody-Waite reduction
  /// and degree-6 polynomial with fused multiply-adds (`addingProduct`; Swift never fuses `a*b+c`
  /// itself) and only the lower clamp, x ≥ −87, done as x + relu(−87 − x) without comparisons.
  /// About 40% fewer instructions per vector; it dominates the cross-entropy over 49,152 logits.
  @inline(__always)
  static func expNonPositive8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let a = SIMD8<Float>(repeating: -87) - x
    let v = x + (a + Vector.abs8(a)) * 0.5
    let magic = SIMD8<Float>(repeating: 12_582_912.0)  // 1.5·2^23: t - magic = round(v·log2e)
    let t = magic.addingProduct(v, SIMD8(repeating: 1.442_695_04))
    let n = t - magic
    let r = v.addingProduct(n, SIMD8(repeating: -0.693_145_75)).addingProduct(n, SIMD8(repeating: -1.428_606_8e-6))
    var p = SIMD8<Float>(repeating: 1.0 / 120.0).addingProduct(SIMD8(repeating: 1.0 / 720.0), r)
    p = SIMD8<Float>(repeating: 1.0 / 24.0).addingProduct(p, r)
    p = SIMD8<Float>(repeating: 1.0 / 6.0).addingProduct(p, r)
    p = SIMD8<Float>(repeating: 0.5).addingProduct(p, r)
    p = SIMD8<Float>(repeating: 1).addingProduct(p, r)
    p = SIMD8<Float>(repeating: 1).addingProduct(p, r)
    let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: SIMD8<Float>.self)
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
  /// Queries go in blocks of up to 64 rows. Phase A walks the block's queries: scores and dP
  /// from Kᵀ/Vᵀ as in the forward, P and dS kept in (block, keys) tiles. Then dQ = dS·K for the
  /// block, and dK += dSᵀ·Q, dV += Pᵀ·dO for the keys it sees, all as 8-row register tiles
  /// (`tileProduct`): each row chunk loaded from L2 serves 8 outputs (a loop over single keys
  /// re-read every q/dO row once per key; it was L2-bound and made the whole pass 30% slower).
  static func attentionBackwardGroup(
    qkv: UnsafeMutablePointer<Float>, dqkv: UnsafeMutablePointer<Float>, rowStride rs: Int,
    dOut: UnsafeMutablePointer<Float>, dOutStride os: Int, rows: Range<Int>, kvHead kvh: Int,
    heads: Int, kvHeads: Int, headDim d: Int
  ) {
    let len = rows.count, r0 = rows.lowerBound, group = heads / kvHeads
    let scale = 1 / Float(d).squareRoot()
    let kOff = heads * d + kvh * d, vOff = heads * d + kvHeads * d + kvh * d
    // Row stride of the key-indexed tiles: whole SIMD8 blocks, and an odd number of them, so
    // walking a column (stride lp·4 bytes) does not keep hitting the same few L1 sets as a
    // power-of-two stride would.
    let lp = ((len + 7) / 8 | 1) * 8
    let qb = min(len, 64), qbPad = (qb + 7) & ~7  // queries per block; tile rows
    // Heap, not the stack: pool helpers have 1 MB stacks. kt, vt (D, lp); pm, sm (qbPad, lp).
    // Zeroed once: tile entries that are read but never used must at least be finite numbers.
    let size = 2 * d * lp + 2 * qbPad * lp
    let buf = UnsafeMutablePointer<Float>.allocate(capacity: size)
    buf.initialize(repeating: 0, count: size)
    defer { buf.deallocate() }
    let kt = buf, vt = buf + d * lp, pm = vt + d * lp, sm = pm + qbPad * lp
    for j in 0..<len {
      let kr = qkv + (r0 + j) * rs + kOff, vr = qkv + (r0 + j) * rs + vOff
      for c in 0..<d { kt[c * lp + j] = kr[c]; vt[c * lp + j] = vr[c] }
      (dqkv + (r0 + j) * rs + kOff).update(repeating: 0, count: d)  // dk, dv sum over the group: zero first
      (dqkv + (r0 + j) * rs + vOff).update(repeating: 0, count: d)
    }
    let keys = qkv + r0 * rs + kOff
    for h in (kvh * group)..<(kvh * group + group) {
      var i0 = 0
      while i0 < len {
        let i1 = min(len, i0 + qb)
        // Phase A: rows of P and dS (qbPad, lp). Entries past the diagonal, up to the next
        // multiple of 8, are set to 0: the tiles below read whole 8-column groups.
        for i in i0..<i1 {
          let visible = i + 1, padded = (visible + 7) & ~7
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
          for j in visible..<padded { p[j] = 0; ds[j] = 0 }
        }
        // dq_i = Σ_j dS[i][j]·k_j (overwrites), 8 queries at a time over keys 0..<ib+8.
        var ib = i0
        while ib < i1 {
          tileProduct(sm + (ib - i0) * lp, outputStride: lp, termStride: 1, terms: min(ib + 8, len),
                      rows: keys, rowStride: rs, d: d, into: dqkv + (r0 + ib) * rs + h * d, outStride: rs,
                      outputs: min(8, i1 - ib), accumulate: false)
          ib += 8
        }
        // dv_j += Σ_i P[i][j]·dO_i, dk_j += Σ_i dS[i][j]·q_i over this block's queries i >= j0.
        var j0 = 0
        while j0 < i1 {
          let lo = max(j0, i0), outputs = min(8, len - j0)
          tileProduct(pm + (lo - i0) * lp + j0, outputStride: 1, termStride: lp, terms: i1 - lo,
                      rows: dOut + (r0 + lo) * os + h * d, rowStride: os, d: d, into: dqkv + (r0 + j0) * rs + vOff,
                      outStride: rs, outputs: outputs, accumulate: true)
          tileProduct(sm + (lo - i0) * lp + j0, outputStride: 1, termStride: lp, terms: i1 - lo,
                      rows: qkv + (r0 + lo) * rs + h * d, rowStride: rs, d: d, into: dqkv + (r0 + j0) * rs + kOff,
                      outStride: rs, outputs: outputs, accumulate: true)
          j0 += 8
        }
        i0 = i1
      }
    }
  }

  /// out[j] = scale · Σ_c a[c]·t[c·lp + j] for j in 0..<count rounded up to 8 (t is (D, lp),
  /// zero-padded). Keys go 32 at a time while at least 25 remain: one broadcast of a[c] feeds 4
  /// FMAs (loads, not FMAs, are the limit here), and even/odd c make 8 independent chains;
  /// then 16 and 8 at a time, so a query computes at most 7 scores it does not need.
  @inline(__always)
  static func transposedDots(
    _ a: UnsafePointer<Float>, _ t: UnsafePointer<Float>, lp: Int, d: Int, count: Int, scale: Float,
    into out: UnsafeMutablePointer<Float>
  ) {
    let orow = UnsafeMutableRawPointer(out)
    @inline(__always) func load(_ c: Int, _ j: Int) -> SIMD8<Float> {
      UnsafeRawPointer(t + c * lp + j).loadUnaligned(as: SIMD8<Float>.self)
    }
    let vs = SIMD8<Float>(repeating: scale)
    var j = 0
    while j + 24 < count {
      var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
      var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()
      var c = 0
      while c + 2 <= d {
        let x = SIMD8<Float>(repeating: a[c]), y = SIMD8<Float>(repeating: a[c + 1])
        a0.addProduct(x, load(c, j)); a1.addProduct(x, load(c, j + 8))
        a2.addProduct(x, load(c, j + 16)); a3.addProduct(x, load(c, j + 24))
        b0.addProduct(y, load(c + 1, j)); b1.addProduct(y, load(c + 1, j + 8))
        b2.addProduct(y, load(c + 1, j + 16)); b3.addProduct(y, load(c + 1, j + 24))
        c += 2
      }
      if c < d {
        let x = SIMD8<Float>(repeating: a[c])
        a0.addProduct(x, load(c, j)); a1.addProduct(x, load(c, j + 8))
        a2.addProduct(x, load(c, j + 16)); a3.addProduct(x, load(c, j + 24))
      }
      orow.storeBytes(of: (a0 + b0) * vs, toByteOffset: j * 4, as: SIMD8<Float>.self)
      orow.storeBytes(of: (a1 + b1) * vs, toByteOffset: j * 4 + 32, as: SIMD8<Float>.self)
      orow.storeBytes(of: (a2 + b2) * vs, toByteOffset: j * 4 + 64, as: SIMD8<Float>.self)
      orow.storeBytes(of: (a3 + b3) * vs, toByteOffset: j * 4 + 96, as: SIMD8<Float>.self)
      j += 32
    }
    while j + 8 < count {
      var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), b0 = SIMD8<Float>(), b1 = SIMD8<Float>()
      var c = 0
      while c + 2 <= d {
        let x = SIMD8<Float>(repeating: a[c]), y = SIMD8<Float>(repeating: a[c + 1])
        a0.addProduct(x, load(c, j)); a1.addProduct(x, load(c, j + 8))
        b0.addProduct(y, load(c + 1, j)); b1.addProduct(y, load(c + 1, j + 8))
        c += 2
      }
      if c < d {
        let x = SIMD8<Float>(repeating: a[c])
        a0.addProduct(x, load(c, j)); a1.addProduct(x, load(c, j + 8))
      }
      orow.storeBytes(of: (a0 + b0) * vs, toByteOffset: j * 4, as: SIMD8<Float>.self)
      orow.storeBytes(of: (a1 + b1) * vs, toByteOffset: j * 4 + 32, as: SIMD8<Float>.self)
      j += 16
    }
    if j < count {
      var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
      var c = 0
      while c + 4 <= d {
        s0.addProduct(SIMD8(repeating: a[c]), load(c, j))
        s1.addProduct(SIMD8(repeating: a[c + 1]), load(c + 1, j))
        s2.addProduct(SIMD8(repeating: a[c + 2]), load(c + 2, j))
        s3.addProduct(SIMD8(repeating: a[c + 3]), load(c + 3, j))
        c += 4
      }
      while c < d { s0.addProduct(SIMD8(repeating: a[c]), load(c, j)); c += 1 }
      orow.storeBytes(of: ((s0 + s1) + (s2 + s3)) * vs, toByteOffset: j * 4, as: SIMD8<Float>.self)
    }
  }

  /// out[k] (+)= Σ_t w[k·outputStride + t·termStride] · rows[t·rowStride ..< +D] for the first
  /// `outputs` (≤ 8) of 8 output rows (out row k at out + k·outStride). Per 8-column chunk the 8
  /// outputs sit in 8 registers; each row chunk is loaded once and meets 8 broadcast weights.
  /// All 8 weight rows are read (they must be finite); only `outputs` rows are written.
  @inline(__always)
  static func tileProduct(
    _ w: UnsafePointer<Float>, outputStride ws: Int, termStride ts: Int, terms: Int,
    rows: UnsafePointer<Float>, rowStride: Int, d: Int, into out: UnsafeMutablePointer<Float>, outStride: Int,
    outputs: Int, accumulate: Bool
  ) {
    var cc = 0
    while cc + 8 <= d {
      var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
      var a4 = SIMD8<Float>(), a5 = SIMD8<Float>(), a6 = SIMD8<Float>(), a7 = SIMD8<Float>()
      for t in 0..<terms {
        let r = UnsafeRawPointer(rows + t * rowStride + cc).loadUnaligned(as: SIMD8<Float>.self)
        let wt = w + t * ts
        a0.addProduct(SIMD8(repeating: wt[0]), r)
        a1.addProduct(SIMD8(repeating: wt[ws]), r)
        a2.addProduct(SIMD8(repeating: wt[2 * ws]), r)
        a3.addProduct(SIMD8(repeating: wt[3 * ws]), r)
        a4.addProduct(SIMD8(repeating: wt[4 * ws]), r)
        a5.addProduct(SIMD8(repeating: wt[5 * ws]), r)
        a6.addProduct(SIMD8(repeating: wt[6 * ws]), r)
        a7.addProduct(SIMD8(repeating: wt[7 * ws]), r)
      }
      @inline(__always) func put(_ k: Int, _ v: SIMD8<Float>) {
        if k >= outputs { return }
        let o = UnsafeMutableRawPointer(out + k * outStride + cc)
        o.storeBytes(of: accumulate ? v + o.loadUnaligned(as: SIMD8<Float>.self) : v, as: SIMD8<Float>.self)
      }
      put(0, a0); put(1, a1); put(2, a2); put(3, a3); put(4, a4); put(5, a5); put(6, a6); put(7, a7)
      cc += 8
    }
    while cc < d {  // head dims that are not a multiple of 8
      for k in 0..<outputs {
        var s: Float = 0
        for t in 0..<terms { s += w[k * ws + t * ts] * rows[t * rowStride + cc] }
        out[k * outStride + cc] = accumulate ? out[k * outStride + cc] + s : s
      }
      cc += 1
    }
  }
}
