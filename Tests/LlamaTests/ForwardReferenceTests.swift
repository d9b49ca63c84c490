import Foundation
import Llama
import TensorCore
import TestSupport
import Testing

/// Forward pass against transformers (fp32, same GGUF): `scripts/fixtures/llama_fixtures.py`.
struct LogitsFixture: Decodable {
  struct Position: Decodable {
    let argmax: Int
    let scale: Float
    let top_ids: [Int]
    let top_logits: [Float]
    let sample_logits: [Float]
  }
  struct Case: Decodable { let prompt: String; let ids: [Int]; let positions: [Position] }
  struct Padded: Decodable {
    let input_ids: [[Int]]
    let attention_mask: [[Int]]
    let last_real_argmax: [Int]
    let last_real_sample_logits: [[Float]]
  }
  let sample_stride: Int
  let cases: [Case]
  let padded_batch: Padded
}

/// Tolerance from the issue: max-abs-diff <= 1e-3 of the logits' scale (max |logit|).
let logitTolerance: Float = 1e-3

func logitsFixture() throws -> LogitsFixture {
  try loadFixture(LogitsFixture.self, from: Bundle.module.url(forResource: "logits", withExtension: "json", subdirectory: "Fixtures"))
}

@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct ForwardReferenceTests {
  @Test func fixtureHasEnoughPrompts() throws {
    #expect(try logitsFixture().cases.count >= 5)
  }

  @Test("logits at every position match transformers", arguments: 0..<6)
  func logitsMatch(caseIndex: Int) throws {
    let fx = try logitsFixture()
    let model = try #require(RealModel.model)
    let c = fx.cases[caseIndex]
    let logits = try model.forward([c.ids], logits: .all)
    #expect(logits.rows == c.ids.count)
    for (t, ref) in c.positions.enumerated() {
      let row = Array(logits.row(t))
      #expect(Sampler.argmax(row) == ref.argmax, "argmax at position \(t) of '\(c.prompt)'")
      let sampled = stride(from: 0, to: row.count, by: fx.sample_stride).map { row[$0] }
      let top = ref.top_ids.map { row[$0] }
      let err = max(Closeness.maxAbsDiff(sampled, ref.sample_logits), Closeness.maxAbsDiff(top, ref.top_logits))
      #expect(err <= logitTolerance * ref.scale, "position \(t): max-abs-diff \(err), scale \(ref.scale)")
    }
  }

  @Test func lastPositionAndTokenSubsetAgreeWithFullLogits() throws {
    let fx = try logitsFixture()
    let model = try #require(RealModel.model)
    let seqs = fx.cases.prefix(4).map(\.ids)
    let full = try model.forward(seqs, logits: .all)
    let last = try model.forward(seqs, logits: .last)
    let ids = [15, 16, 17, 18, 33, 49151]
    let subset = try model.forward(seqs, logits: LogitsRequest(positions: .last, tokens: ids))
    for (s, seq) in seqs.enumerated() {
      let fullRow = Array(full.row(full.rowStart[s] + seq.count - 1))
      #expect(Closeness.maxAbsDiff(Array(last.row(s)), fullRow) <= 1e-4)
      #expect(Closeness.maxAbsDiff(Array(subset.row(s)), ids.map { fullRow[$0] }) <= 1e-4)
    }
  }

  @Test func packedBatchEqualsSeparateRuns() throws {
    let fx = try logitsFixture()
    let model = try #require(RealModel.model)
    let seqs = fx.cases.map(\.ids)
    let batch = try model.forward(seqs, logits: .all)
    for (s, seq) in seqs.enumerated() {
      let alone = try model.forward([seq], logits: .all)
      let a = Array(batch.values[(batch.rowStart[s] * batch.width)..<((batch.rowStart[s] + seq.count) * batch.width)])
      #expect(Closeness.maxAbsDiff(a, alone.values) <= 1e-4)
    }
  }

  @Test func paddedBatchWithMaskMatchesTransformers() throws {
    let fx = try logitsFixture()
    let model = try #require(RealModel.model)
    let p = fx.padded_batch
    let out = try model.forward(padded: p.input_ids, mask: p.attention_mask, logits: .all)
    #expect(out.count == p.input_ids.count)
    for b in 0..<p.input_ids.count {
      let real = p.attention_mask[b].reduce(0, +)
      let row = Array(out[b][real - 1])
      #expect(Sampler.argmax(row) == p.last_real_argmax[b])
      let sampled = stride(from: 0, to: row.count, by: fx.sample_stride).map { row[$0] }
      let scale = p.last_real_sample_logits[b].map(abs).max() ?? 1
      #expect(Closeness.maxAbsDiff(sampled, p.last_real_sample_logits[b]) <= logitTolerance * scale)
    }
    // Left padding gives the same logits at the real positions.
    let left = p.input_ids.indices.map { b -> [Int] in
      let real = Array(p.input_ids[b].prefix(p.attention_mask[b].reduce(0, +)))
      return Array(repeating: 2, count: p.input_ids[b].count - real.count) + real
    }
    let leftMask = left.indices.map { b -> [Int] in
      let real = p.attention_mask[b].reduce(0, +)
      return Array(repeating: 0, count: left[b].count - real) + Array(repeating: 1, count: real)
    }
    let outLeft = try model.forward(padded: left, mask: leftMask, logits: .all)
    for b in 0..<left.count {
      let real = p.attention_mask[b].reduce(0, +)
      let width = left[b].count
      #expect(Closeness.maxAbsDiff(Array(outLeft[b][width - 1]), Array(out[b][real - 1])) <= 1e-4)
    }
  }
}
