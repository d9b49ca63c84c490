import Foundation
import Synchronization

/// Opt-in accumulation of wall time per named stage (`P2P_PROFILE=1`), read by the benchmark
/// command. Disabled, `measure` costs one branch.
public enum Profiler {
  public static let enabled = ProcessInfo.processInfo.environment["P2P_PROFILE"] == "1"
  private static let table = Mutex<[String: (seconds: Double, calls: Int)]>([:])

  /// Inlinable, so that the disabled path is the body itself (a generic closure body, such as
  /// the dropout loop's random draws, is specialized and inlined at the call site).
  @inlinable @inline(__always)
  public static func measure<T>(_ label: String, _ body: () throws -> T) rethrows -> T {
    if !enabled { return try body() }
    return try measureEnabled(label, body)
  }

  @usableFromInline
  static func measureEnabled<T>(_ label: String, _ body: () throws -> T) rethrows -> T {
    let t0 = DispatchTime.now().uptimeNanoseconds
    let r = try body()
    let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    table.withLock { t in
      let old = t[label] ?? (0, 0)
      t[label] = (old.seconds + dt, old.calls + 1)
    }
    return r
  }

  /// Stages sorted by total time: (label, seconds, calls).
  public static func report() -> [(String, Double, Int)] {
    table.withLock { t in t.map { ($0.key, $0.value.seconds, $0.value.calls) }.sorted { $0.1 > $1.1 } }
  }

  public static func reset() { table.withLock { $0 = [:] } }
}
