import ArgumentParser
import Checkpoint
import GGUF
import Llama

struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show a GGUF model's metadata and tensor table.",
    discussion: "A Hugging Face checkpoint folder is shown as the GGUF file `p2p convert` makes of it.")

  @OptionGroup var modelOptions: ModelOptions
  @Flag(help: "Print every tensor (default: the first 40).") var allTensors = false

  func run() throws {
    let path: String
    let file: GGUFFile
    do {
      path = try ModelSource.resolve(modelOptions.model)
      file = HFCheckpoint.isCheckpoint(path) ? try GGUFFile(bytes: try HFCheckpoint.gguf(path).bytes()) : try GGUFFile(path: path)
    } catch { throw CLIError("\(error)") }
    print("file: \(path)" + (HFCheckpoint.isCheckpoint(path) ? " (Hugging Face checkpoint, converted to GGUF in memory)" : ""))
    print("GGUF v\(file.version), \(file.metadata.count) metadata keys, \(file.tensors.count) tensors, "
      + "alignment \(file.alignment), tensor data at byte \(file.dataOffset)")
    print("\nmetadata:")
    let width = file.metadataKeys.map(\.count).max() ?? 0
    for key in file.metadataKeys {
      print("  \(key.padding(toLength: width, withPad: " ", startingAt: 0))  \(file.metadata[key]!)")
    }
    if let config = try? LlamaConfig(gguf: file) {
      print("\nconfiguration: \(config.layerCount) blocks, hidden \(config.hiddenSize), FFN \(config.feedForwardSize), "
        + "heads \(config.headCount)/\(config.kvHeadCount) (q/kv), head dim \(config.headDim), vocab \(config.vocabularySize), "
        + "RoPE base \(config.ropeBase)" + (file.tensor("rope_freqs.weight") != nil ? " with Llama 3 frequency factors" : "")
        + ", tied LM head: \(config.tiedEmbeddings)" + (config.attentionBias ? ", q/k/v bias" : "") + (config.qkNorm ? ", q/k norms" : "")
        + (LlamaConfig.halvesRoPEArchitectures.contains(config.architecture) ? " (q/k rows in halves order, permuted at load)" : ""))
    }
    let params = file.tensors.reduce(0) { $0 + $1.elementCount }
    print("\ntensors (\(file.tensors.count), \(params) parameters):")
    let shown = allTensors ? file.tensors : Array(file.tensors.prefix(40))
    let nameWidth = shown.map(\.name.count).max() ?? 0
    for t in shown {
      let dims = "[" + t.dimensions.map(String.init).joined(separator: ", ") + "]"
      print("  \(t.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0))  \(t.type.description.padding(toLength: 5, withPad: " ", startingAt: 0))  \(dims.padding(toLength: 14, withPad: " ", startingAt: 0))  offset \(t.offset)")
    }
    if shown.count < file.tensors.count { print("  ... \(file.tensors.count - shown.count) more (--all-tensors)") }
  }
}
