import TensorCore

/// Why a generation stopped.
public enum StopReason: String, Codable, Sendable { case eos, maxTokens, contextFull, cancelled }

/// Result of one generation.
public struct Generation: Sendable {
  public var tokens: [Int]
  public var stopReason: StopReason
  public var promptTokens: Int
  /// Seconds spent on the prompt (prefill) and on the new tokens (decode).
  public var prefillSeconds: Double
  public var decodeSeconds: Double
}

/// Autoregressive generation with a KV cache: one batched prefill of the prompt, then one
/// token at a time through the quantized matrix-vector path.
public struct Generator: Sendable {
  public let model: LlamaModel
  public let eosIDs: Set<Int>

  public init(model: LlamaModel, eosIDs: Set<Int>) { self.model = model; self.eosIDs = eosIDs }

  /// Generates after `prompt`. `forcedPrefix` tokens are emitted first (as if sampled), e.g. a
  /// safe prefix that decoding must start with. `onToken` sees each new token and may return
  /// false to stop.
  public func generate(
    prompt: [Int], parameters: SamplingParameters, forcedPrefix: [Int] = [],
    onToken: (Int) -> Bool = { _ in true }
  ) throws(ModelError) -> Generation {
    try parameters.validate()
    guard !prompt.isEmpty else { throw .emptyInput("the prompt has no tokens") }
    let capacity = min(model.config.contextLength, prompt.count + forcedPrefix.count + parameters.maxTokens + 1)
    let cache = KVCache(config: model.config, capacity: capacity)
    var rng = SeededRNG(seed: parameters.seed)
    let sampler = Sampler(parameters)
    var out: [Int] = []
    let clock = ContinuousClock()
    let t0 = clock.now
    var logits = try model.forward([prompt + forcedPrefix], logits: .last, caches: [cache])
    let prefill = clock.now - t0
    var reason = StopReason.maxTokens
    let t1 = clock.now
    func finish() -> Generation {
      Generation(tokens: out, stopReason: reason, promptTokens: prompt.count,
                 prefillSeconds: prefill.seconds, decodeSeconds: (clock.now - t1).seconds)
    }
    for t in forcedPrefix {
      out.append(t)
      if !onToken(t) { reason = .cancelled; return finish() }
    }
    while out.count - forcedPrefix.count < parameters.maxTokens {
      let next = sampler.sample(logits.row(0), using: &rng)
      if parameters.stopAtEOS && eosIDs.contains(next) { reason = .eos; break }
      out.append(next)
      if !onToken(next) { reason = .cancelled; break }
      if out.count - forcedPrefix.count >= parameters.maxTokens { break }
      if cache.length >= cache.capacity { reason = .contextFull; break }
      logits = try model.forward([[next]], logits: .last, caches: [cache])
    }
    return finish()
  }
}

extension Duration {
  /// The duration in seconds as a Double.
  public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
