import ArgumentParser
import Checkpoint
import Foundation

struct Convert: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write a Hugging Face checkpoint folder as one GGUF file.",
    discussion: """
      The file is the one llama.cpp's converter writes for the same checkpoint: its metadata and tensor names, F32/F16/BF16 \
      tensors kept in their type, Llama's q/k rows permuted for interleaved RoPE, Llama 3's rope_freqs. Every command that \
      takes --model reads the folder directly too (converting it in memory each time); converting once saves that time and memory.
      """)

  @Option(help: "The checkpoint folder (config.json, model.safetensors or shards with model.safetensors.index.json, tokenizer.json).")
  var model: String
  @Option(help: "The GGUF file to write (must not exist).") var out: String

  func run() throws {
    guard HFCheckpoint.isCheckpoint(model) else { throw CLIError("\(model): not a Hugging Face checkpoint folder (no config.json)") }
    guard !FileManager.default.fileExists(atPath: out) else { throw CLIError("will not write to '\(out)': it exists; choose a new path") }
    do { try HFCheckpoint.gguf(model).write(to: out) } catch { throw CLIError("\(error)") }
    printError("wrote \(out)")
  }
}
