import Foundation
import GGUF
import Testing

/// The first blocks of two tensors of the default model (checked-in fixtures, so this runs
/// without the model): `token_embd.weight` (Q8_0) and `blk.0.attn_q.weight` (Q4_1) must
/// dequantize bit-identically to `gguf.quants.dequantize` (DESIGN.md §5: `Float(q)·d`, then `+ m`,
/// no FMA).
@Suite struct RealBlockTests {
  @Test(arguments: [("real_token_embd_q8_0", GGMLType.q8_0), ("real_attn_q_q4_1", .q4_1)])
  func realBlocksDequantizeBitIdentically(stem: String, type: GGMLType) throws {
    let raw = try Fixture.bytes(stem, "bin")
    let expected = try Fixture.floatBits(stem)
    let blocks = try #require(try Fixture.manifest().realBlocks[stem]).blocks
    #expect(raw.count == blocks * type.blockBytes)
    #expect(expected.count == blocks * type.blockSize)

    // Directly through the block decoder.
    var direct = [Float](repeating: .nan, count: expected.count)
    raw.withUnsafeBytes { src in
      direct.withUnsafeMutableBufferPointer { Dequantize.run(type, src, count: expected.count, into: $0.baseAddress!) }
    }
    expectBitIdentical(bits(direct), expected, "\(stem) (Dequantize.run)")

    // And as a tensor of a file, through the public reader path.
    var writer = GGUFWriter()
    try writer.addTensor("t", type: type, dimensions: [type.blockSize * blocks / 4, 4], data: raw)
    let file = try GGUFFile(bytes: writer.bytes())
    expectBitIdentical(bits(try file.dequantize("t")), expected, "\(stem) (GGUFFile)")
  }

  /// Dequantization of the hand-computable corner: Q4_1 `d·q + m` with the element order of
  /// DESIGN.md §3 (low nibbles are elements 0..15, high nibbles 16..31).
  @Test func q4_1ElementOrder() throws {
    var block: [UInt8] = []
    block.put(Float16(0.5).bitPattern)
    block.put(Float16(-1).bitPattern)
    for i in 0..<16 { block.append(UInt8(i) | UInt8(15 - i) << 4) }
    var out = [Float](repeating: 0, count: 32)
    block.withUnsafeBytes { src in out.withUnsafeMutableBufferPointer { Dequantize.run(.q4_1, src, count: 32, into: $0.baseAddress!) } }
    #expect(out[0..<16].elementsEqual((0..<16).map { Float($0) * 0.5 - 1 }))
    #expect(out[16..<32].elementsEqual((0..<16).map { Float(15 - $0) * 0.5 - 1 }))
  }
}
