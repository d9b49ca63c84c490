import Evaluation
import Llama
import Tokenizer

/// The engine behind `TextGenerator`: greedy decoding with the KV cache (`Generator`), stopping
/// at the model's stop tokens.
public struct ModelGenerator: TextGenerator {
  public let bundle: ModelBundle

  public init(_ bundle: ModelBundle) { self.bundle = bundle }

  public var contextLength: Int { bundle.model.config.contextLength }
  public func encode(_ text: String) -> [Int] { bundle.tokenizer.encode(text, parseSpecial: false) }
  public var promptStart: [Int] { bundle.tokenizer.promptStart }
  public func decode(_ tokens: [Int]) -> String { bundle.tokenizer.decode(tokens, skipSpecial: true) }

  public func greedy(prompt: [Int], forced: [Int], maxTokens: Int) throws -> Decoded {
    let g = try Generator(model: bundle.model, eosIDs: bundle.stopTokens)
      .generate(prompt: prompt, parameters: SamplingParameters(temperature: 0, maxTokens: maxTokens), forcedPrefix: forced)
    return Decoded(tokens: g.tokens, stop: DecodeStop(rawValue: g.stopReason.rawValue) ?? .cancelled, promptTokens: g.promptTokens,
                   prefillSeconds: g.prefillSeconds, decodeSeconds: g.decodeSeconds)
  }
}
