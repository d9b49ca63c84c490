import TensorCore

/// A tokenized training example: prompt ids followed by completion ids, and a per-token mask
/// that is true on the completion tokens, the only ones the loss is computed on.
public struct TokenizedExample: Sendable, Equatable {
  /// Token ids, prompt first. // (n)
  public var tokens: [Int]
  /// True where the token belongs to the completion. // (n)
  public var lossMask: [Bool]

  /// Builds an example from explicit tokens and mask (of equal length).
  public init(tokens: [Int], lossMask: [Bool]) throws(TrainingError) {
    guard tokens.count == lossMask.count else {
      throw .invalidValue(key: "lossMask", value: "\(lossMask.count) entries", expected: "\(tokens.count) (one per token)")
    }
    self.tokens = tokens
    self.lossMask = lossMask
  }

  /// Concatenates `prompt` and `completion` ids, keeping at most `maxLength` (≥ 2) tokens.
  ///
  /// Truncation keeps what the loss needs. When the pair is too long, tokens are dropped from
  /// the *start* of the prompt (the end of a prompt — the question, the "Output:" cue — is what
  /// the completion depends on), and the completion stays whole. Only when the completion alone
  /// does not fit beside one prompt token is it cut too, from its *end*: the last prompt token
  /// is kept (so the first completion token still has a context to be predicted from) and the
  /// first `maxLength − 1` completion tokens follow. With an empty prompt, the first `maxLength`
  /// completion tokens are kept (the first one then carries no loss, as in any causal LM).
  public init(prompt: [Int], completion: [Int], maxLength: Int) throws(TrainingError) {
    guard maxLength >= 2 else { throw .invalidValue(key: "maxLength", value: "\(maxLength)", expected: ">= 2") }
    let keptPrompt: ArraySlice<Int>
    let keptCompletion: ArraySlice<Int>
    if prompt.count + completion.count <= maxLength {
      keptPrompt = prompt[...]
      keptCompletion = completion[...]
    } else if prompt.isEmpty {
      keptPrompt = []
      keptCompletion = completion.prefix(maxLength)
    } else if completion.count <= maxLength - 1 {
      keptPrompt = prompt.suffix(maxLength - completion.count)
      keptCompletion = completion[...]
    } else {
      keptPrompt = prompt.suffix(1)
      keptCompletion = completion.prefix(maxLength - 1)
    }
    tokens = Array(keptPrompt) + Array(keptCompletion)
    lossMask = [Bool](repeating: false, count: keptPrompt.count) + [Bool](repeating: true, count: keptCompletion.count)
  }

  /// Next-token targets of this sequence: `targets[t]` is `tokens[t + 1]` when that token is a
  /// completion token, −1 (no loss) otherwise; the last position never has a target. // (n)
  public var targets: [Int] {
    tokens.indices.map { t in t + 1 < tokens.count && lossMask[t + 1] ? tokens[t + 1] : -1 }
  }
}

/// Which side of a row the padding goes to (left is what generation uses; either is correct
/// for training as long as the attention mask is honoured).
public enum PaddingSide: String, Codable, Sendable, CaseIterable {
  case left
  case right
}

/// One batch of tokenized examples, in two layouts: unpadded sequences with their targets for
/// the packed training engine, and the padded (B, T) matrices of the usual PyTorch/transformers
/// causal-LM batch (input ids, attention mask, labels shifted by one with −1 = ignored).
public struct TrainingBatch: Sendable, Equatable {
  /// The examples' tokens, unpadded. // B × (nᵢ)
  public let sequences: [[Int]]
  /// Next-token targets of each unpadded sequence (−1 = no loss). // B × (nᵢ)
  public let sequenceTargets: [[Int]]
  /// Padded input ids. // (B, T)
  public let inputTokens: [[Int]]
  /// 1 for a real token, 0 for padding. // (B, T)
  public let attentionMask: [[Int]]
  /// Next-token target at each position, −1 where there is no loss: the next token is not a
  /// completion token, or the position is padding or the last real token. // (B, T)
  public let targets: [[Int]]
  /// T, the longest sequence of the batch.
  public var sequenceLength: Int { inputTokens.first?.count ?? 0 }
  /// Number of positions that carry a loss.
  public var targetCount: Int { sequenceTargets.reduce(0) { $0 + $1.lazy.filter { $0 >= 0 }.count } }

  /// Pads `examples` (at least one, none empty) to the longest with `padToken` on `padding`.
  public init(examples: [TokenizedExample], padding: PaddingSide, padToken: Int) throws(TrainingError) {
    guard !examples.isEmpty else { throw .invalidValue(key: "batch", value: "no examples", expected: "at least one example") }
    if let empty = examples.firstIndex(where: { $0.tokens.isEmpty }) {
      throw .invalidValue(key: "batch[\(empty)]", value: "0 tokens", expected: "a non-empty example")
    }
    let length = examples.map(\.tokens.count).max() ?? 0
    var inputs: [[Int]] = [], mask: [[Int]] = [], targets: [[Int]] = [], shifted: [[Int]] = []
    for example in examples {
      let n = example.tokens.count
      let rowTargets = example.targets
      let pad = length - n
      func padded<T>(_ row: [T], _ filler: T) -> [T] {
        let fill = [T](repeating: filler, count: pad)
        return padding == .left ? fill + row : row + fill
      }
      inputs.append(padded(example.tokens, padToken))
      mask.append(padded([Int](repeating: 1, count: n), 0))
      targets.append(padded(rowTargets, -1))
      shifted.append(rowTargets)
    }
    sequences = examples.map(\.tokens)
    sequenceTargets = shifted
    inputTokens = inputs
    attentionMask = mask
    self.targets = targets
  }
}

/// The order in which an epoch visits the examples: a seeded permutation of 0..<exampleCount
/// split into consecutive batches of `batchSize` (the last one may be smaller; no example is
/// dropped). The permutation depends only on (`seed`, epoch), not on earlier epochs or on any
/// RNG state, so a run resumed at (epoch, batch) sees exactly the batches it would have seen.
///
/// The shuffle is this file's own Fisher–Yates with unbiased rejection sampling over
/// `SeededRNG`, not `Array.shuffle(using:)`, whose algorithm the standard library does not
/// promise to keep, so orders stay reproducible across toolchains.
public struct BatchPlan: Codable, Sendable, Equatable {
  public let exampleCount: Int
  public let batchSize: Int
  public let seed: UInt64
  /// When false, every epoch visits the examples in file order (evaluation, debugging).
  public let shuffle: Bool

  public init(exampleCount: Int, batchSize: Int, seed: UInt64, shuffle: Bool = true) throws(TrainingError) {
    guard exampleCount >= 1 else { throw .invalidValue(key: "exampleCount", value: "\(exampleCount)", expected: ">= 1") }
    guard batchSize >= 1 else { throw .invalidValue(key: "batchSize", value: "\(batchSize)", expected: ">= 1") }
    self.exampleCount = exampleCount
    self.batchSize = batchSize
    self.seed = seed
    self.shuffle = shuffle
  }

  private enum CodingKeys: String, CodingKey { case exampleCount, batchSize, seed, shuffle }

  /// Decodes and validates (a plan read from a checkpoint is untrusted input).
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try self.init(
      exampleCount: c.decode(Int.self, forKey: .exampleCount), batchSize: c.decode(Int.self, forKey: .batchSize),
      seed: c.decode(UInt64.self, forKey: .seed), shuffle: c.decodeIfPresent(Bool.self, forKey: .shuffle) ?? true)
  }

  /// ⌈exampleCount / batchSize⌉.
  public var batchesPerEpoch: Int { (exampleCount + batchSize - 1) / batchSize }

  /// The permutation of example indices for `epoch` (0-based).
  public func order(epoch: Int) -> [Int] {
    var order = Array(0..<exampleCount)
    guard shuffle else { return order }
    // A distinct stream per epoch: the golden-ratio multiple spreads consecutive epochs apart
    // and SeededRNG's SplitMix64 seeding decorrelates the result.
    var rng = SeededRNG(seed: seed ^ ((UInt64(truncatingIfNeeded: epoch) &+ 1) &* 0x9E37_79B9_7F4A_7C15))
    var i = exampleCount - 1
    while i > 0 {
      let j = Int(Self.uniform(below: UInt64(i + 1), using: &rng))
      order.swapAt(i, j)
      i -= 1
    }
    return order
  }

  /// All batches of `epoch`, as example indices.
  public func batches(epoch: Int) -> [[Int]] {
    let order = order(epoch: epoch)
    return stride(from: 0, to: exampleCount, by: batchSize).map { Array(order[$0..<min($0 + batchSize, exampleCount)]) }
  }

  /// Batch `index` (0-based, < `batchesPerEpoch`) of `epoch`.
  public func batch(epoch: Int, index: Int) -> [Int] {
    precondition(index >= 0 && index < batchesPerEpoch, "batch index \(index) outside 0..<\(batchesPerEpoch)")
    let order = order(epoch: epoch)
    return Array(order[(index * batchSize)..<min((index + 1) * batchSize, exampleCount)])
  }

  /// Uniform in 0..<bound (bound ≥ 1) without modulo bias: draws above the largest multiple of
  /// `bound` are rejected.
  static func uniform(below bound: UInt64, using rng: inout SeededRNG) -> UInt64 {
    let limit = UInt64.max - UInt64.max % bound
    while true {
      let x = rng.next()
      if x < limit { return x % bound }
    }
  }
}
