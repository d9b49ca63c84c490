/// Errors of the generation data, attacks and P2P. Every case about a file names the file and, where there
/// is one, the 1-based line and the field, so a message points straight at the bad row.
public enum GenerationError: Error, Equatable, CustomStringConvertible, Sendable {
  case cannotRead(path: String, reason: String)
  case cannotWrite(path: String, reason: String)
  /// The line is not one JSON object.
  case invalidJSON(path: String, line: Int, reason: String)
  case missingField(path: String, line: Int, field: String)
  case wrongType(path: String, line: Int, field: String, expected: String)
  case emptyField(path: String, line: Int, field: String)
  /// A field is present but its value is unusable (e.g. a GSM8K answer without `#### N`).
  case badValue(path: String, line: Int, field: String, value: String, expected: String)
  case empty(path: String)
  case invalidSetting(key: String, value: String, expected: String)
  /// An attack needs something a row does not have (e.g. BadChain needs the gold answer).
  case unsuitableRow(row: Int, reason: String)

  public var description: String {
    switch self {
    case let .cannotRead(path, reason): return "cannot read '\(path)': \(reason)"
    case let .cannotWrite(path, reason): return "cannot write '\(path)': \(reason)"
    case let .invalidJSON(path, line, reason): return "\(path):\(line): not a JSON object: \(reason)"
    case let .missingField(path, line, field): return "\(path):\(line): missing field \"\(field)\""
    case let .wrongType(path, line, field, expected): return "\(path):\(line): field \"\(field)\" is not \(expected)"
    case let .emptyField(path, line, field): return "\(path):\(line): field \"\(field)\" is empty"
    case let .badValue(path, line, field, value, expected):
      return "\(path):\(line): field \"\(field)\" is '\(Self.clip(value))', expected \(expected)"
    case let .empty(path): return "'\(path)' has no examples"
    case let .invalidSetting(key, value, expected): return "invalid \(key) '\(value)': expected \(expected)"
    case let .unsuitableRow(row, reason): return "row \(row): \(reason)"
    }
  }

  /// Long values (a whole GSM8K solution) are cut in messages; the line number finds the rest.
  static func clip(_ s: String) -> String { s.count > 80 ? String(s.prefix(77)) + "..." : s }
}
