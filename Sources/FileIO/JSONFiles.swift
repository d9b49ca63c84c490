import Foundation

/// A setting or file the tool was given is not what it expected; names the key or the file.
public enum ExperimentError: Error, CustomStringConvertible, Sendable {
  case invalid(key: String, expected: String)
  case badFile(path: String, reason: String)

  public var description: String {
    switch self {
    case let .invalid(key, expected): return "invalid \(key): expected \(expected)"
    case let .badFile(path, reason): return "\(path): \(reason)"
    }
  }
}

/// Pretty, sorted, atomic JSON files (written to a temporary file, then renamed).
public enum JSONOutput {
  public static func write<T: Encodable>(_ value: T, to path: String) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    try enc.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic)
  }

  public static func read<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
    guard let data = FileManager.default.contents(atPath: path) else { throw ExperimentError.badFile(path: path, reason: "no such file") }
    let dec = JSONDecoder()
    dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    do { return try dec.decode(type, from: data) } catch { throw ExperimentError.badFile(path: path, reason: DecodingMessage.reason(error)) }
  }

  /// JSON Lines (one sorted-key object a line), atomically.
  public static func writeLines<T: Encodable>(_ rows: [T], to path: String) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var d = Data()
    for r in rows { d.append(try enc.encode(r)); d.append(0x0A) }
    try d.write(to: URL(fileURLWithPath: path), options: .atomic)
  }

  /// Reads JSON Lines; an unreadable line is reported as `path:line` with `expected`.
  public static func readLines<T: Decodable>(_ type: T.Type, from path: String, expected: String) throws -> [T] {
    let text: String
    do { text = try TextFile.read(path) } catch { throw ExperimentError.badFile(path: path, reason: "\(error)") }
    var rows: [T] = []
    for (i, line) in TextFile.lines(text).enumerated() where !line.isEmpty {
      do { rows.append(try JSONDecoder().decode(T.self, from: Data(line.utf8))) } catch {
        throw ExperimentError.badFile(path: "\(path):\(i + 1)", reason: "not \(expected): \(DecodingMessage.reason(error))")
      }
    }
    guard !rows.isEmpty else { throw ExperimentError.badFile(path: path, reason: "no rows") }
    return rows
  }

  /// Text files, atomically.
  public static func write(text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
  }
}
