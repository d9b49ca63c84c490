import FileIO
import Foundation

/// One non-blank line of a JSON Lines file, parsed as an object, with typed field access whose
/// errors name the file, the line and the field.
struct JSONLRow {
  let path: String
  /// 1-based; blank lines count, so the number matches an editor's.
  let line: Int
  let object: [String: Any]

  /// A string field; `allowEmpty: false` also rejects strings of only whitespace.
  func string(_ field: String, allowEmpty: Bool = false) throws(GenerationError) -> String {
    guard let value = object[field] else { throw .missingField(path: path, line: line, field: field) }
    guard let s = value as? String else { throw .wrongType(path: path, line: line, field: field, expected: "a string") }
    if !allowEmpty && s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
      throw .emptyField(path: path, line: line, field: field)
    }
    return s
  }

  /// A string field that may be absent (nil); present but not a string is an error.
  func optionalString(_ field: String) throws(GenerationError) -> String? {
    guard let value = object[field], !(value is NSNull) else { return nil }
    guard let s = value as? String else { throw .wrongType(path: path, line: line, field: field, expected: "a string") }
    return s
  }

  /// A non-empty array of non-empty strings, or nil when the field is absent.
  func optionalStrings(_ field: String) throws(GenerationError) -> [String]? {
    guard let value = object[field], !(value is NSNull) else { return nil }
    guard let list = value as? [Any] else {
      throw .wrongType(path: path, line: line, field: field, expected: "an array of strings")
    }
    var out: [String] = []
    for item in list {
      guard let s = item as? String else { throw .wrongType(path: path, line: line, field: field, expected: "an array of strings") }
      guard !s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .emptyField(path: path, line: line, field: field) }
      out.append(s)
    }
    guard !out.isEmpty else { throw .emptyField(path: path, line: line, field: field) }
    return out
  }
}

/// Reads JSON Lines files: UTF-8, one object per line, blank lines skipped, `\r\n` and a leading
/// byte-order mark accepted. Nothing else is skipped silently.
enum JSONLines {
  static func text(_ path: String) throws(GenerationError) -> String {
    do { return try TextFile.read(path) } catch { throw .cannotRead(path: path, reason: error.reason) }
  }

  /// Every non-blank line of the file at `path` as an object; throws `.empty` for a file without any.
  static func rows(_ path: String) throws(GenerationError) -> [JSONLRow] {
    var out: [JSONLRow] = []
    for (number, line) in JSONLinesText.rows(try text(path)) {
      let parsed: Any
      do { parsed = try JSONSerialization.jsonObject(with: Data(line.utf8)) } catch {
        throw .invalidJSON(path: path, line: number, reason: "cannot parse")
      }
      guard let object = parsed as? [String: Any] else {
        throw .invalidJSON(path: path, line: number, reason: "the value is not an object {...}")
      }
      out.append(JSONLRow(path: path, line: number, object: object))
    }
    guard !out.isEmpty else { throw .empty(path: path) }
    return out
  }

  /// One example per row of the file at `path`, numbered in file order (`sourceIndex`).
  static func examples(_ path: String, _ make: (JSONLRow) throws(GenerationError) -> GenerationExample) throws(GenerationError)
    -> [GenerationExample]
  {
    var out: [GenerationExample] = []
    for row in try rows(path) {
      var e = try make(row)
      e.sourceIndex = out.count
      out.append(e)
    }
    return out
  }
}
