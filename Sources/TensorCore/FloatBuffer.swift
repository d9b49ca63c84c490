import Foundation

/// A flat, 64-byte-aligned, zero-initialised Float buffer: the storage of one role
/// (weights, activations, gradients, optimiser moments). Views are plain pointers + offsets.
public final class FloatBuffer: @unchecked Sendable {
  /// Elements in use (a pooled buffer may be re-used for a smaller shape: `count <= capacity`).
  public fileprivate(set) var count: Int
  /// Elements allocated.
  public let capacity: Int
  public let pointer: UnsafeMutablePointer<Float>

  public convenience init(count: Int) {
    self.init(uninitializedCount: count)
    pointer.initialize(repeating: 0, count: max(1, count))
  }

  /// A buffer whose contents are unspecified: for outputs that a kernel overwrites entirely.
  public convenience init(uninitializedCount count: Int) { self.init(uninitializedCount: count, capacity: count) }

  init(uninitializedCount count: Int, capacity: Int) {
    precondition(count >= 0 && capacity >= count)
    self.count = count
    self.capacity = capacity
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, capacity) * 4, alignment: 64)
    pointer = raw.bindMemory(to: Float.self, capacity: max(1, capacity))
  }

  public convenience init(_ values: [Float]) {
    self.init(count: values.count)
    values.withUnsafeBufferPointer { src in
      if let b = src.baseAddress { pointer.update(from: b, count: values.count) }
    }
  }

  deinit { pointer.deallocate() }

  public subscript(i: Int) -> Float {
    @inline(__always) get { pointer[i] }
    @inline(__always) set { pointer[i] = newValue }
  }

  public func zero() { pointer.update(repeating: 0, count: count) }

  public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// Recycles activation buffers between passes (training steps), so a step does not allocate,
/// page-fault and zero ~1 GB of fresh memory. Buffers come back with unspecified contents:
/// callers that accumulate must zero them first.
///
/// Packed batches change shape every step, so a request takes the smallest free buffer that is
/// large enough (best fit), and new buffers are allocated rounded up to 1/8 of an octave. The
/// pool therefore holds about one pass's worth of buffers at the largest shapes seen, instead of
/// one set per distinct shape (which grew without bound: 18 GB after 150 steps of SST-2).
public final class BufferPool: @unchecked Sendable {
  /// Free buffers, ascending by capacity.
  private var free: [FloatBuffer] = []
  private let lock = NSLock()

  public init() {}

  /// Elements allocated for a request of `count`: rounded up to a multiple of 1/8 of the
  /// largest power of two <= count (at most 12.5% slack), at least 1,024.
  static func roundedCapacity(_ count: Int) -> Int {
    guard count > 1024 else { return max(count, 1) }
    let step = max(1024, (1 << (Int.bitWidth - 1 - count.leadingZeroBitCount)) / 8)
    return (count + step - 1) / step * step
  }

  public func take(_ count: Int) -> FloatBuffer {
    lock.lock(); defer { lock.unlock() }
    var lo = 0, hi = free.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if free[mid].capacity < count { lo = mid + 1 } else { hi = mid }
    }
    // Best fit. (Bounding the fit, e.g. at 2x, makes the pool larger: 3.5x vs 2.7x of
    // one pass on the shapes of BufferPoolTests.)
    if lo < free.count {
      let b = free.remove(at: lo)
      b.count = count
      return b
    }
    return FloatBuffer(uninitializedCount: count, capacity: Self.roundedCapacity(count))
  }

  public func give(_ buffers: [FloatBuffer]) {
    lock.lock(); defer { lock.unlock() }
    for b in buffers {
      var lo = 0, hi = free.count
      while lo < hi {
        let mid = (lo + hi) / 2
        if free[mid].capacity < b.capacity { lo = mid + 1 } else { hi = mid }
      }
      free.insert(b, at: lo)
    }
  }

  /// Floats held by free buffers.
  public var cachedElements: Int { lock.lock(); defer { lock.unlock() }; return free.reduce(0) { $0 + $1.capacity } }

  /// Drops every cached buffer.
  public func drain() { lock.lock(); free = []; lock.unlock() }
}
