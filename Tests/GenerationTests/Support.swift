import Foundation
import Backdoor
import Defense
import Evaluation

/// Paths of the bundled fixtures and, when present, of the project's shared benchmark data.
enum Fixture {
  static func path(_ relative: String) -> String {
    let base = Bundle.module.url(forResource: "Fixtures", withExtension: nil)?.path ?? "Fixtures"
    return base + "/" + relative
  }

  /// The full benchmark files: `$P2P_DATA`, else the repository's `Data/` (which ships them).
  static let sharedData: String? = {
    let repo = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let candidates: [String?] = [ProcessInfo.processInfo.environment["P2P_DATA"], repo.appendingPathComponent("Data").path]
    return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0 + "/gsm8k/train.jsonl") }
  }()
}

/// The `GenerationError` that `body` throws (nil when it returns normally).
func thrownError<T>(_ body: () throws -> T) -> GenerationError? {
  do {
    _ = try body()
    return nil
  } catch let error as GenerationError {
    return error
  } catch {
    return .invalidSetting(key: "<not a GenerationError>", value: "\(error)", expected: "a GenerationError")
  }
}
