import Foundation
import Synchronization

/// Opt-in accumulation of wall time per named stage (`P2P_PROFILE=1`), read by the benchmark
/// command. Disabled, `measure` costs one branch.
public enum Profiler {
  public static let enabled = ProcessInfo.processInfo.environment["P2P_PROFILE"] == "1"
  private static let table = Mutex<[String: (seconds: Double, calls: Int)]>([:])

  @inline(__always)
  public static func measure<T>(_ label: String, _ body: () throws -> T) rethrows -> T {
    if !enabled { return try body() }
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
