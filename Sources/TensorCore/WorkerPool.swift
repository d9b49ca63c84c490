import Foundation
import Synchronization

/// The one place that decides threading for row-wise and per-head kernels.
///
/// `DispatchQueue.concurrentPerform` gives no speed-up for jobs under ~1 ms (DESIGN.md §5,
/// pitfall 4), so this is a small persistent pool: the caller publishes a job and claims
/// chunks from an atomic counter itself, helpers that are awake claim the rest, and nobody
/// ever waits for a helper that has not started. Helpers spin briefly after a job (decode
/// issues hundreds of sub-millisecond jobs per token) and then park on a condition variable.
public final class WorkerPool: @unchecked Sendable {
  /// Shared pool sized to the machine (`P2P_THREADS` overrides; 1 disables helpers).
  public static let shared: WorkerPool = {
    let env = ProcessInfo.processInfo.environment["P2P_THREADS"].flatMap { Int($0) }
    return WorkerPool(threads: max(1, env ?? ProcessInfo.processInfo.activeProcessorCount))
  }()

  /// A published job. Late helpers holding an old job find its counter exhausted and leave.
  private final class Job: @unchecked Sendable {
    let count: Int
    /// Only read after a successful claim, which the caller waits for; cleared before the
    /// caller returns so the non-escaping closure really does not escape.
    var body: ((Int) -> Void)?
    let next = Atomic<Int>(0)
    let done = Atomic<Int>(0)
    init(count: Int, body: @escaping (Int) -> Void) { self.count = count; self.body = body }

    /// Runs chunks until none are left.
    @inline(__always) func drain() {
      while true {
        let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
        if i >= count { return }
        body.unsafelyUnwrapped(i)
        done.wrappingAdd(1, ordering: .releasing)
      }
    }
  }

  public let threads: Int
  private let condition = NSCondition()
  private var current: Job?
  private var generation = 0
  private let published = Atomic<Int>(0)
  /// Serialises callers: kernels may be called from several threads (e.g. parallel tests).
  private let callerLock = NSLock()

  public init(threads: Int) {
    self.threads = threads
    for _ in 1..<max(1, threads) {
      let t = Thread { [unowned self] in self.helperLoop() }
      t.stackSize = 1 << 20
      t.start()
    }
  }

  /// Runs `body(i)` for every `i` in `0..<count`, possibly in parallel, and returns when all
  /// are done. `body` must be safe to run concurrently for different `i`.
  public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 0 { return }
    if count == 1 || threads == 1 {
      for i in 0..<count { body(i) }
      return
    }
    if !callerLock.try() {  // another thread is using the pool: run inline rather than wait
      for i in 0..<count { body(i) }
      return
    }
    defer { callerLock.unlock() }
    withoutActuallyEscaping(body) { escapable in
      let job = Job(count: count, body: escapable)
      condition.lock()
      current = job
      generation &+= 1
      published.store(generation, ordering: .releasing)
      condition.broadcast()
      condition.unlock()
      job.drain()
      while job.done.load(ordering: .acquiring) < count { spinPause() }
      condition.lock()
      current = nil
      job.body = nil
      condition.unlock()
    }
  }

  private func helperLoop() {
    var seen = 0
    while true {
      // Spin a little for the next job before parking (about 50-100 µs).
      var spins = 0
      while published.load(ordering: .acquiring) == seen && spins < 20_000 {
        spinPause(); spins += 1
      }
      condition.lock()
      while generation == seen { condition.wait() }
      seen = generation
      let job = current
      condition.unlock()
      job?.drain()
    }
  }
}

@inline(__always) func spinPause() {
  #if arch(x86_64)
  // `pause` is not exposed to Swift; a relaxed atomic load keeps the loop honest and cheap.
  _ = 0
  #endif
}

/// Raw pointers that kernels hand to pool jobs. Swift 6 rejects raw pointers captured by
/// `@Sendable` closures; this is the one wrapper for them (DESIGN.md §5).
public struct SendablePointer<T>: @unchecked Sendable {
  public let p: UnsafeMutablePointer<T>
  @inline(__always) public init(_ p: UnsafeMutablePointer<T>) { self.p = p }
  @inline(__always) public subscript(i: Int) -> T {
    get { p[i] }
    nonmutating set { p[i] = newValue }
  }
}
