import Checkpoint
import ArgumentParser
import Llama

/// `--model`, shared by every command that loads a model.
struct ModelOptions: ParsableArguments {
  @Option(name: .long, help: "GGUF file path, a built-in model name (smollm2-135m) or a Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer.json; Llama, Llama 3, Qwen2, Qwen3).")
  var model: String = ModelStore.defaultModel

  func load() throws -> ModelBundle {
    do { return try ModelSource.load(model) } catch { throw CLIError("\(error)") }
  }
}
