import TensorCore

/// Keys and values of one sequence for every layer, for incremental decoding.
/// Layout per layer: k, v (capacity, Hkv·D); rows 0..<length are filled.
public final class KVCache: @unchecked Sendable {
  public let capacity: Int
  public let kvDim: Int
  public private(set) var length = 0
  let keys: [FloatBuffer]
  let values: [FloatBuffer]

  public init(config: LlamaConfig, capacity: Int) {
    self.capacity = capacity
    kvDim = config.kvDim
    keys = (0..<config.layerCount).map { _ in FloatBuffer(count: capacity * config.kvDim) }
    values = (0..<config.layerCount).map { _ in FloatBuffer(count: capacity * config.kvDim) }
  }

  /// Drops everything after the first `n` positions (e.g. to reuse a shared prompt).
  public func truncate(to n: Int) { length = min(length, max(0, n)) }

  func advance(by n: Int) { length += n }
}
