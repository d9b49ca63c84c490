import Foundation
import Training

/// A fresh, uniquely named directory under the system temporary directory, removed when the
/// value is no longer used (tests run in parallel, so nothing is shared between them).
final class ScratchDirectory {
  let path: String

  init(_ label: String = #function) {
    let name = "p2p-training-\(label.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString)"
    path = NSTemporaryDirectory() + "/" + name
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  /// `path/name`.
  func file(_ name: String) -> String { path + "/" + name }

  /// Writes `text` as UTF-8 to `path/name` and returns the file's path.
  @discardableResult
  func write(_ name: String, _ text: String) throws -> String {
    try Data(text.utf8).write(to: URL(fileURLWithPath: file(name)))
    return file(name)
  }

  /// Writes raw bytes to `path/name` and returns the file's path.
  @discardableResult
  func write(_ name: String, bytes: [UInt8]) throws -> String {
    try Data(bytes).write(to: URL(fileURLWithPath: file(name)))
    return file(name)
  }

  /// The names in the directory, sorted.
  func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}

/// The error that `body` throws, as a `TrainingError` (nil when it returns normally; a
/// `TrainingError` wrapping the description when it throws another type, so that the
/// comparison fails with a readable message).
func thrownTrainingError<T>(_ body: () throws -> T) -> TrainingError? {
  do {
    _ = try body()
    return nil
  } catch let error as TrainingError {
    return error
  } catch {
    return .invalidValue(key: "<not a TrainingError>", value: "\(error)", expected: "a TrainingError")
  }
}
