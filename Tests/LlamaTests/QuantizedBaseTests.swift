import Foundation
import GGUF
import Llama
import TensorCore
import Testing
import TestSupport

/// The real SmolLM2 (Q4_1) with its base kept quantized computes the function of the fp32 base:
/// the same dequantized values, only the summation order differs.
@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct QuantizedBaseTests {
  static let quantized: LlamaModel? = RealModel.file.flatMap { try? LlamaModel(gguf: $0, base: .quantized) }

  @Test func theQuantizedBaseHoldsBlocksOnly() throws {
    let q = try #require(Self.quantized), f = try #require(RealModel.model)
    #expect(q.weights.base == .quantized && f.weights.base == .fp32)
    let layers = q.weights.blocks.flatMap { [$0.qkv, $0.output, $0.gateUp, $0.down] } + [q.weights.embeddingTable]
    #expect(layers.allSatisfy { !$0.isMaterialized && $0.quantized.map { [.q4_1, .q8_0].contains($0.type) } == true })
    #expect(q.weights.lmHead === q.weights.embeddingTable)  // tied
    // Q4_1 is 20 bytes per 32 weights: 0.625 bytes a weight instead of 4.
    #expect(Double(q.weights.matrixBytes) < 0.16 * Double(f.weights.matrixBytes), "\(q.weights.matrixBytes) vs \(f.weights.matrixBytes)")
  }

  /// Batched prompts (the tiled GEMM) and single rows (the matrix-vector kernel) alike.
  @Test func logitsMatchTheFP32Base() throws {
    let q = try #require(Self.quantized), f = try #require(RealModel.model)
    let prompts = try logitsFixture().cases.prefix(3).map(\.ids)
    let a = try q.forward(prompts, logits: .all), b = try f.forward(prompts, logits: .all)
    let scale = b.values.map(abs).max()!
    #expect(Closeness.maxAbsDiff(a.values, b.values) <= 2e-4 * scale, "max |Δ| \(Closeness.maxAbsDiff(a.values, b.values)), scale \(scale)")
    for p in prompts {
      let g1 = try Generator(model: q, eosIDs: []).generate(prompt: p, parameters: SamplingParameters(maxTokens: 12, stopAtEOS: false))
      let g2 = try Generator(model: f, eosIDs: []).generate(prompt: p, parameters: SamplingParameters(maxTokens: 12, stopAtEOS: false))
      #expect(g1.tokens == g2.tokens)
    }
    // A subset of the vocabulary (the verbalizer's label words) reads the same rows.
    let ids = [19556, 905, 28, 451]
    let s1 = try q.forward(prompts, logits: LogitsRequest(positions: .last, tokens: ids))
    let s2 = try f.forward(prompts, logits: LogitsRequest(positions: .last, tokens: ids))
    #expect(Closeness.maxAbsDiff(s1.values, s2.values) <= 2e-4 * scale)
  }

  /// Every type a quantized-only layer can hold: rows dequantize as the GGUF reader does, and the
  /// tiled product and the matrix-vector product equal the dense ones.
  @Test func everyHeldTypeComputesTheDenseProduct() throws {
    let file = try GGUFFile(path: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../GGUFTests/Fixtures/python_all_types.gguf.bin").standardizedFileURL.path)
    var seen: Set<GGMLType> = []
    for t in file.tensors where t.dimensions.count == 2 && QuantizedRows.canHold(t.type) {
      seen.insert(t.type)
      let cols = t.dimensions[0], rows = t.dimensions[1]
      let dense = FloatBuffer(count: t.elementCount)
      try file.dequantize(t, into: dense.pointer)
      let held = QuantizedRows(type: t.type, columns: cols, parts: [file.rawData(t)])
      let out = FloatBuffer(count: t.elementCount)
      held.dequantizeRows(0..<rows, into: out.pointer)
      let got = Array(UnsafeBufferPointer(start: out.pointer, count: t.elementCount)), want = Array(UnsafeBufferPointer(start: dense.pointer, count: t.elementCount))
      #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "\(t.name)")
      // The products on the tensors of finite values (the 16-bit fixtures hold inf and NaN on purpose).
      guard want.allSatisfy(\.isFinite) else { continue }
      let layer = Linear(quantizedOnly: held), reference = Linear(weight: dense, outFeatures: rows, inFeatures: cols)
      var rng = SeededRNG(seed: 3)
      for n in [1, 7] {
        let x = (0..<(n * cols)).map { _ in Float.random(in: -1...1, using: &rng) }
        var y1 = [Float](repeating: 0, count: n * rows), y2 = y1
        layer.forward(x, rows: n, into: &y1)
        reference.forward(x, rows: n, into: &y2)
        #expect(Closeness.maxAbsDiff(y1, y2) <= 1e-4 * max(1, y2.map(abs).max()!), "\(t.name), \(n) rows")
        var d1 = [Float](repeating: 0, count: n * cols), d2 = d1
        layer.backwardInput(y2, rows: n, into: &d1)
        reference.backwardInput(y2, rows: n, into: &d2)
        #expect(Closeness.maxAbsDiff(d1, d2) <= 1e-4 * max(1, d2.map(abs).max()!), "\(t.name) backward")
      }
      #expect(!layer.isMaterialized)
    }
    #expect(seen.isSuperset(of: [.q4_0, .q4_1, .q8_0, .q4_K, .q6_K]), "\(seen)")
  }
}
