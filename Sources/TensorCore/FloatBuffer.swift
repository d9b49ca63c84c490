import Foundation

/// A flat, 64-byte-aligned, zero-initialised Float buffer: the storage of one role
/// (weights, activations, gradients, optimiser moments). Views are plain pointers + offsets.
public final class FloatBuffer: @unchecked Sendable {
  public let count: Int
  public let pointer: UnsafeMutablePointer<Float>

  public convenience init(count: Int) {
    self.init(uninitializedCount: count)
    pointer.initialize(repeating: 0, count: max(1, count))
  }

  /// A buffer whose contents are unspecified: for outputs that a kernel overwrites entirely.
  public init(uninitializedCount count: Int) {
    precondition(count >= 0)
    self.count = count
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 4, alignment: 64)
    pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
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

/// Recycles activation buffers between passes of the same shapes (training steps), so a step
/// does not allocate, page-fault and zero ~1 GB of fresh memory. Buffers come back with
/// unspecified contents: callers that accumulate must zero them first.
public final class BufferPool: @unchecked Sendable {
  private var free: [Int: [FloatBuffer]] = [:]
  private let lock = NSLock()

  public init() {}

  public func take(_ count: Int) -> FloatBuffer {
    lock.lock(); defer { lock.unlock() }
    if var list = free[count], let b = list.popLast() { free[count] = list; return b }
    return FloatBuffer(uninitializedCount: count)
  }

  public func give(_ buffers: [FloatBuffer]) {
    lock.lock(); defer { lock.unlock() }
    for b in buffers { free[b.count, default: []].append(b) }
  }

  /// Drops every cached buffer.
  public func drain() { lock.lock(); free = [:]; lock.unlock() }
}
