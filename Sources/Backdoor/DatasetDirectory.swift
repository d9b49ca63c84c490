import Foundation

/// Writes a dataset directory atomically: every file goes to a temporary sibling directory that
/// is then renamed over the target, so a crash never leaves a half-written dataset.
public enum DatasetDirectory {
  /// JSON Lines of `rows`, one sorted-key object a line.
  public static func jsonLines<T: Encodable>(_ rows: [T]) throws -> Data {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var d = Data()
    for r in rows { d.append(try enc.encode(r)); d.append(0x0A) }
    return d
  }

  /// A pretty, sorted-key JSON document.
  public static func json<T: Encodable>(_ value: T) throws -> Data {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    return try enc.encode(value)
  }

  /// Writes `files` (name → contents) as the directory `directory`, replacing it.
  public static func write(_ files: [(name: String, contents: () throws -> Data)], to directory: String) throws {
    let fm = FileManager.default
    let tmp = directory + ".tmp-\(UUID().uuidString.prefix(8))"
    do {
      try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
      for f in files { try f.contents().write(to: URL(fileURLWithPath: tmp + "/" + f.name)) }
      if fm.fileExists(atPath: directory) { try fm.removeItem(atPath: directory) }
      try fm.moveItem(atPath: tmp, toPath: directory)
    } catch {
      try? fm.removeItem(atPath: tmp)
      throw error
    }
  }
}
