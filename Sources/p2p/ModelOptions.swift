import ArgumentParser
import Llama

/// `--model`, shared by every command that loads a model.
struct ModelOptions: ParsableArguments {
  @Option(name: .long, help: "GGUF file path or a built-in model name (smollm2-135m).")
  var model: String = ModelStore.defaultModel

  func load() throws -> ModelBundle {
    do { return try ModelBundle.load(model) } catch { throw CLIError("\(error)") }
  }
}
