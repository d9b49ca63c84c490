import Checkpoint
import ArgumentParser
import Llama

/// `--model`, shared by every command that loads a model.
struct ModelOptions: ParsableArguments {
  @Option(name: .long, help: "GGUF file path, a built-in model name (smollm2-135m) or a Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer.json; Llama, Llama 3, Qwen2, Qwen3).")
  var model: String = ModelStore.defaultModel

  @Option(name: .long, help: """
    How the base weights are held: fp32 (dequantized at load, the fastest products), quantized (projections and embeddings \
    in their GGUF type, dequantized tile by tile inside the products: a quarter to an eighth of the memory) or auto \
    (quantized above 2 GiB of fp32 weights).
    """)
  var baseWeights: BaseWeights = .auto

  func load() throws -> ModelBundle {
    do { return try ModelSource.load(model, base: baseWeights) } catch { throw CLIError("\(error)") }
  }
}

extension BaseWeights: ExpressibleByArgument {}
