import ArgumentParser
import Experiments
import Foundation
import Llama
import Tokenizer
import Training

struct Generate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Continue PROMPT with the model, streaming the text.",
    discussion: "Greedy at temperature 0 (the default); otherwise seeded sampling with top-k / top-p.")

  @OptionGroup var modelOptions: ModelOptions
  @Option(help: "Maximum number of new tokens.") var maxTokens = 128
  @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0
  @Option(help: "Keep only the k most likely tokens (0 = off).") var topK = 0
  @Option(help: "Keep the smallest set of tokens whose probability reaches p (1 = off).") var topP: Float = 1
  @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
  @Flag(help: "Wrap PROMPT as a user message in the model's chat template.") var chat = false
  @Option(help: "System message for --chat (default: the template's own).") var system: String?
  @Option(name: .customLong("chat-variable"), parsing: .singleValue,
          help: ArgumentHelp("A variable of the chat template for --chat, NAME=VALUE (repeatable); VALUE is read as JSON when it parses, else as text (e.g. enable_thinking=false for Qwen3, date_string=\"26 Jul 2024\" for Llama 3).", valueName: "NAME=VALUE"))
  var chatVariables: [String] = []
  @Flag(help: "Print timing statistics to standard error.") var stats = false
  @Option(help: "A LoRA adapter directory (PEFT format) to apply, merged into the weights.") var adapter: String?
  @Argument(help: "The prompt.") var prompt: String

  func validate() throws {
    guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be >= 0") }
    guard temperature >= 0 else { throw ValidationError("--temperature must be >= 0") }
    guard topK >= 0 else { throw ValidationError("--top-k must be >= 0") }
    guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
  }

  func run() throws {
    let bundle = try modelOptions.load()
    if let adapter {
      do { try PEFTAdapter.load(from: adapter, model: bundle.model.config).merge(into: bundle.model) } catch {
        throw CLIError("\(error)")
      }
    }
    var text = prompt
    // A plain prompt, and the P2P wrapper's, get BOS when the tokenizer adds one (transformers'
    // default, and what training saw); a chat template writes its own.
    var fromTemplate = false
    if let adapter, let wrapped = try DeployedPrompt.wrap(prompt, adapter: adapter) {
      // A defended adapter is only ever used through its wrapper (the chat template does not apply).
      text = wrapped.prompt
      printError(wrapped.note)
    } else if chat {
      guard let template = bundle.chatTemplate else {
        throw CLIError(bundle.chatTemplateProblem.map { "--chat: \($0)" } ?? "this model has no chat template; drop --chat")
      }
      var messages: [ChatMessage] = []
      if let system { messages.append(ChatMessage(role: "system", content: system)) }
      messages.append(ChatMessage(role: "user", content: prompt))
      do { text = try template.render(messages, addGenerationPrompt: true, variables: try ChatVariables.parse(chatVariables)) } catch {
        throw CLIError("\(error)")
      }
      fromTemplate = true
    }
    let ids = fromTemplate ? bundle.tokenizer.encode(text) : bundle.tokenizer.encodeInput(text)
    guard !ids.isEmpty else { throw CLIError("the prompt is empty") }
    // The KV cache grows with prompt + new tokens; the model cannot attend past its context.
    let context = bundle.model.config.contextLength
    guard ids.count + maxTokens <= context else {
      throw CLIError("the prompt (\(ids.count) tokens) plus --max-tokens \(maxTokens) exceeds the model's context length \(context)")
    }
    let params = SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed, maxTokens: maxTokens)
    var decoder = StreamingDecoder(tokenizer: bundle.tokenizer, skipSpecial: true)
    let out = FileHandle.standardOutput
    let result: Generation
    do {
      result = try Generator(model: bundle.model, eosIDs: bundle.stopTokens).generate(prompt: ids, parameters: params) { id in
        out.write(decoder.push(id).data(using: .utf8)!)
        return true
      }
    } catch { throw CLIError("\(error)") }
    out.write((decoder.flush() + "\n").data(using: .utf8)!)
    if stats {
      let n = result.tokens.count
      printError(String(format: "[%d prompt tokens in %.3f s; %d new tokens in %.3f s (%.1f tok/s); stop: %@]",
                        result.promptTokens, result.prefillSeconds, n, result.decodeSeconds,
                        n > 1 ? Double(n - 1) / result.decodeSeconds : 0, result.stopReason.rawValue))
    }
  }
}
