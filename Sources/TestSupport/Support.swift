import Foundation
import GGUF
import Llama
import TensorCore

/// The real default model, when `scripts/setup.sh` has installed it. Tests that need it are
/// enabled with `.enabled(if: RealModel.isInstalled, RealModel.skipReason)` so a run without
/// the model says clearly what was skipped.
public enum RealModel {
  public static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

  public static var path: String {
    let env = ProcessInfo.processInfo.environment
    let home = env["P2P_HOME"] ?? (NSHomeDirectory() + "/.cache/p2p")
    return home + "/models/" + fileName
  }

  public static var isInstalled: Bool { FileManager.default.fileExists(atPath: path) }

  public static let skipReason = "real model not installed at $P2P_HOME/models (run scripts/setup.sh)"

  /// Parsed once per test process.
  public static let file: GGUFFile? = try? GGUFFile(path: path)

  /// Loaded once per test process (about 1 s).
  public static let model: LlamaModel? = file.flatMap { try? LlamaModel(gguf: $0) }
}

/// Closeness measures with named tolerances for comparing against references.
public enum Closeness {
  /// max |a - b|; infinite when a value of either side is NaN (Swift's `max` would drop it, so a
  /// NaN result could pass a tolerance check).
  public static func maxAbsDiff<A: Collection, B: Collection>(_ a: A, _ b: B) -> Float
  where A.Element == Float, B.Element == Float {
    precondition(a.count == b.count, "length mismatch \(a.count) vs \(b.count)")
    var m: Float = 0
    for (x, y) in zip(a, b) {
      let d = abs(x - y)
      if d.isNaN { return .infinity }
      m = max(m, d)
    }
    return m
  }

  /// max |a - b| / max(max |b|, floor)
  public static func relativeError<A: Collection, B: Collection>(_ a: A, _ b: B, floor: Float = 1e-12) -> Float
  where A.Element == Float, B.Element == Float {
    let scale = b.reduce(Float(0)) { max($0, abs($1)) }
    return maxAbsDiff(a, b) / max(scale, floor)
  }
}

/// Reads a JSON fixture decoded as `T`.
public func loadFixture<T: Decodable>(_ type: T.Type, from url: URL?) throws -> T {
  guard let url else { throw FixtureError.missing }
  return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
}

public enum FixtureError: Error { case missing }
