import Foundation
import GGUF
import Testing

/// Where the default model is installed: `$P2P_HOME/models`, P2P_HOME defaulting to ~/.cache/p2p.
enum RealModel {
  static let path: String = {
    let home = ProcessInfo.processInfo.environment["P2P_HOME"].flatMap { $0.isEmpty ? nil : $0 }
      ?? NSHomeDirectory() + "/.cache/p2p"
    return home + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
  }()
  static var isInstalled: Bool { FileManager.default.fileExists(atPath: path) }
}

/// Facts of DESIGN.md §3 and §5 checked on the real SmolLM2-135M-Instruct Q4_1 file.
// Skipped (visibly) when the model is not installed: it is a 98 MB download made by
// scripts/setup.sh, not part of the repository.
@Suite(.enabled(if: RealModel.isInstalled, "SmolLM2-135M-Instruct.Q4_1.gguf is not installed in $P2P_HOME/models (run scripts/setup.sh)"))
struct RealModelTests {
  @Test func headerFacts() throws {
    let file = try GGUFFile(path: RealModel.path)
    #expect(file.fileSize == 98_362_432)
    #expect(file.version == 3)
    #expect(file.tensors.count == 272)
    #expect(file.dataOffset == 1_785_664)
    #expect(file.metadata["general.alignment"] == nil)
    #expect(file.alignment == 32)
    #expect(try file.string("general.architecture") == "llama")
    #expect(try file.int("llama.block_count") == 30)
    #expect(try file.int("llama.embedding_length") == 576)
    #expect(try file.int("llama.feed_forward_length") == 1536)
    #expect(try file.int("llama.attention.head_count") == 9)
    #expect(try file.int("llama.attention.head_count_kv") == 3)
    #expect(try file.double("llama.rope.freq_base") == 100_000)
    #expect(Float(try file.double("llama.attention.layer_norm_rms_epsilon")) == 1e-5)
    #expect(try file.string("tokenizer.ggml.model") == "gpt2")
    #expect(try file.string("tokenizer.ggml.pre") == "smollm")
    #expect(try file.stringArray("tokenizer.ggml.tokens").count == 49152)
    #expect(try file.stringArray("tokenizer.ggml.merges").count == 48900)
    #expect(try file.int("tokenizer.ggml.eos_token_id") == 2)
  }

  @Test func tensorTypes() throws {
    let file = try GGUFFile(path: RealModel.path)
    let embd = try #require(file.tensor("token_embd.weight"))
    #expect(embd.type == .q8_0)
    #expect(embd.dimensions == [576, 49152])
    #expect(embd.offset == 0)
    #expect(file.tensor("output.weight") == nil)  // LM head tied to token_embd
    let matrices = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
    var q41 = 0, norms = 0
    for t in file.tensors where t.name != "token_embd.weight" {
      if matrices.contains(where: { t.name.hasSuffix(".\($0).weight") }) {
        #expect(t.type == .q4_1, "\(t.name)"); q41 += 1
      } else {
        #expect(t.name.hasSuffix("norm.weight") && t.type == .f32 && t.dimensions == [576], "\(t.name)"); norms += 1
      }
    }
    #expect(q41 == 210)
    #expect(norms == 61)
    #expect(file.tensor("blk.0.attn_k.weight")?.dimensions == [576, 192])
    #expect(file.tensor("blk.0.ffn_down.weight")?.dimensions == [1536, 576])
    var params = 0
    for t in file.tensors { params += t.elementCount }
    #expect(params == 134_515_008)
  }

  /// The checked-in real-block fixtures are the first bytes of these tensors.
  @Test func fixturesAreFromThisModel() throws {
    let file = try GGUFFile(path: RealModel.path)
    for (stem, info) in try Fixture.manifest().realBlocks {
      let t = try #require(file.tensor(info.tensor))
      #expect(file.dataOffset + t.offset == info.fileOffset)
      let raw = try Fixture.bytes(stem, "bin")
      #expect(Array(file.rawData(t).prefix(raw.count)) == raw, "\(stem)")
    }
  }

  /// Block 0 and the final norm dequantize to finite values of plausible size.
  @Test func firstBlockDequantizes() throws {
    let file = try GGUFFile(path: RealModel.path)
    for t in file.tensors where t.name.hasPrefix("blk.0.") || t.name == "output_norm.weight" {
      let v = try file.dequantize(t.name)
      #expect(v.count == t.elementCount)
      #expect(v.allSatisfy { $0.isFinite && abs($0) < 100 }, "\(t.name)")
    }
  }
}
