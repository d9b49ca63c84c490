/// A flat, 64-byte-aligned, zero-initialised Float buffer: the storage of one role
/// (weights, activations, gradients, optimiser moments). Views are plain pointers + offsets.
public final class FloatBuffer: @unchecked Sendable {
  public let count: Int
  public let pointer: UnsafeMutablePointer<Float>

  public init(count: Int) {
    precondition(count >= 0)
    self.count = count
    let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 4, alignment: 64)
    pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
    pointer.initialize(repeating: 0, count: max(1, count))
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
