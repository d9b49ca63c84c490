import Defense
import Foundation
import Evaluation
import Llama
import TensorCore
import Tokenizer

/// CleanGen decoding (`CleanGen`) behind the `TextGenerator` seam: the suspect model (the trained
/// adapter merged) proposes, the reference model (the base model, a second copy in memory) checks,
/// both with KV caches that are cut back when a proposal is dropped. Counts the tokens it replaced.
public final class CleanGenGenerator: TextGenerator {
  public let suspect: ModelBundle
  public let reference: ModelBundle
  public let config: CleanGen.Config
  /// Tokens decoded and tokens replaced by the reference model, over every call.
  public private(set) var decodedTokens = 0
  public private(set) var replacedTokens = 0

  public init(suspect: ModelBundle, reference: ModelBundle, config: CleanGen.Config) {
    self.suspect = suspect; self.reference = reference; self.config = config
  }

  public var contextLength: Int { suspect.model.config.contextLength }
  public func encode(_ text: String) -> [Int] { suspect.tokenizer.encode(text, parseSpecial: false) }
  public var promptStart: [Int] { suspect.tokenizer.promptStart }
  public func decode(_ tokens: [Int]) -> String { suspect.tokenizer.decode(tokens, skipSpecial: true) }

  public func greedy(prompt: [Int], forced: [Int], maxTokens: Int) throws -> Decoded {
    guard !prompt.isEmpty else { throw ModelError.emptyInput("the prompt has no tokens") }
    let stops = suspect.stopTokens
    let capacity = min(contextLength, prompt.count + forced.count + maxTokens + config.horizon + 1)
    let sCache = KVCache(config: suspect.model.config, capacity: capacity), rCache = KVCache(config: reference.model.config, capacity: capacity)
    let clock = ContinuousClock(), t0 = clock.now
    var sNext = Array(try suspect.model.forward([prompt + forced], logits: .last, caches: [sCache]).row(0))
    var rNext = Array(try reference.model.forward([prompt + forced], logits: .last, caches: [rCache]).row(0))
    let prefill = clock.now - t0, t1 = clock.now
    var out = forced, stop = DecodeStop.maxTokens
    func argmax(_ v: [Float]) -> Int { Vector.argmax(v) }
    decoding: while out.count - forced.count < maxTokens {
      let base = sCache.length  // context length before the proposal
      // Propose up to k tokens with the suspect model.
      var proposal: [Int] = [], pSuspect: [Double] = [], sRows: [[Float]] = []
      var logits = sNext
      let room = min(config.horizon, maxTokens - (out.count - forced.count), capacity - base)
      guard room > 0 else { stop = .contextFull; break }
      for _ in 0..<room {
        let t = argmax(logits)
        proposal.append(t); pSuspect.append(Vector.softmaxProbability(logits, at: t))
        logits = Array(try suspect.model.forward([[t]], logits: .last, caches: [sCache]).row(0))
        sRows.append(logits)
        if stops.contains(t) { break }
      }
      // The reference model's probabilities of the same tokens.
      let rAll = try reference.model.forward([proposal], logits: .all, caches: [rCache])
      var pReference: [Double] = []
      for i in proposal.indices {
        let before = i == 0 ? rNext[...] : rAll.row(i - 1)
        pReference.append(Vector.softmaxProbability(before, at: proposal[i]))
      }
      var accepted = proposal, replacement: Int?
      if let j = CleanGen.firstSuspicious(suspect: pSuspect, reference: pReference, alpha: config.alpha) {
        accepted = Array(proposal[..<j])
        replacement = argmax(Array(j == 0 ? rNext[...] : rAll.row(j - 1)))
        sCache.truncate(to: base + j); rCache.truncate(to: base + j)
        if replacement != proposal[j] { replacedTokens += 1 }
      }
      for t in accepted {
        if stops.contains(t) { stop = .eos; break decoding }
        out.append(t); decodedTokens += 1
      }
      if let r = replacement {
        if stops.contains(r) { stop = .eos; break }
        out.append(r); decodedTokens += 1
        sNext = Array(try suspect.model.forward([[r]], logits: .last, caches: [sCache]).row(0))
        rNext = Array(try reference.model.forward([[r]], logits: .last, caches: [rCache]).row(0))
      } else {
        sNext = sRows[accepted.count - 1]
        rNext = Array(rAll.row(accepted.count - 1))
      }
    }
    if out.count - forced.count > maxTokens { out = Array(out[..<(forced.count + maxTokens)]) }
    return Decoded(tokens: out, stop: stop, promptTokens: prompt.count, prefillSeconds: (prefill).seconds, decodeSeconds: (clock.now - t1).seconds)
  }
}
