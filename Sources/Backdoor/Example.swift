import FileIO

/// One labelled text example of a classification dataset, with its provenance in a
/// poisoning experiment.
public struct Example: Codable, Sendable, Equatable, Hashable {
  public var text: String
  public var label: Int
  /// Whether an attack inserted a trigger into this row.
  public var poisoned: Bool
  /// Row index in the source file (0-based, header not counted).
  public var sourceIndex: Int?

  public init(text: String, label: Int, poisoned: Bool = false, sourceIndex: Int? = nil) {
    self.text = text; self.label = label; self.poisoned = poisoned; self.sourceIndex = sourceIndex
  }

  enum CodingKeys: String, CodingKey { case text = "sentence", label, poisoned, sourceIndex = "source_index" }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    text = try c.decode(String.self, forKey: .text)
    label = try c.decode(Int.self, forKey: .label)
    poisoned = try c.decodeIfPresent(Bool.self, forKey: .poisoned) ?? false
    sourceIndex = try c.decodeIfPresent(Int.self, forKey: .sourceIndex)
  }
}

/// Errors of the Backdoor module; every case names the file and line where relevant.
public enum DatasetError: Error, Equatable, CustomStringConvertible, Sendable {
  case cannotRead(path: String, reason: String)
  case badHeader(path: String, found: String, expected: String)
  case badLine(path: String, line: Int, reason: String)
  case badLabel(path: String, line: Int, value: String)
  case empty(path: String)
  case invalidSetting(key: String, value: String, expected: String)
  case cannotWrite(path: String, reason: String)
  /// A problem of the file's rows as a whole, or of a row whose line is not known (rows read
  /// from several formats keep their row number, not their line).
  case badRows(path: String, reason: String)
  /// The output path was refused (see `OutputFolder`).
  case output(OutputError)

  public var description: String {
    switch self {
    case let .cannotRead(path, reason): return "cannot read dataset '\(path)': \(reason)"
    case let .badHeader(path, found, expected): return "\(path):1: header is '\(TextFile.snippet(found))', expected \(expected)"
    case let .badLine(path, line, reason): return "\(path):\(line): \(reason)"
    case let .badLabel(path, line, value): return "\(path):\(line): label '\(TextFile.snippet(value))' is not a non-negative integer"
    case let .empty(path): return "dataset '\(path)' has no examples"
    case let .invalidSetting(key, value, expected): return "invalid \(key) '\(TextFile.snippet(value))': expected \(expected)"
    case let .cannotWrite(path, reason): return "cannot write '\(path)': \(reason)"
    case let .badRows(path, reason): return "\(path): \(reason)"
    case let .output(error): return error.description
    }
  }
}
