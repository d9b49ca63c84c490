import Foundation

/// A fresh, uniquely named directory under the system temporary directory, removed when the
/// value is no longer used (tests run in parallel, so nothing is shared between them).
public final class ScratchDirectory {
  public let path: String

  public init(_ label: String = #function) {
    let name = "p2p-test-\(label.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString)"
    path = NSTemporaryDirectory() + "/" + name
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  /// `path/name`.
  public func file(_ name: String) -> String { path + "/" + name }

  /// Writes `text` as UTF-8 to `path/name` and returns the file's path.
  @discardableResult
  public func write(_ name: String, _ text: String) throws -> String {
    try Data(text.utf8).write(to: URL(fileURLWithPath: file(name)))
    return file(name)
  }

  /// Writes raw bytes to `path/name` and returns the file's path.
  @discardableResult
  public func write(_ name: String, bytes: [UInt8]) throws -> String {
    try Data(bytes).write(to: URL(fileURLWithPath: file(name)))
    return file(name)
  }

  /// The names in the directory, sorted.
  public func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}
