import Foundation

/// Reads the text files users hand the tool (datasets, pairs files, experiment files): UTF-8,
/// with or without a leading byte-order mark, LF or CRLF line ends. Swift reads `"\r\n"` as one
/// `Character`, so splitting a `String` on `"\n"` leaves CRLF files as one line; everything here
/// works on bytes and scalars instead.
public enum TextFile {
  /// The file's text with a leading BOM removed and every CRLF turned into LF.
  public static func read(_ path: String) throws(TextFileError) -> String {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .noSuchFile(path: path) }
    guard !isDirectory.boolValue else { throw .isDirectory(path: path) }
    guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
    return try decode(data, path: path)
  }

  /// `data` as normalised text (see `read`); `path` names the file in errors.
  public static func decode(_ data: Data, path: String) throws(TextFileError) -> String {
    var bytes = [UInt8](data)
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
    if bytes.contains(0x0D) {
      var out: [UInt8] = []
      out.reserveCapacity(bytes.count)
      for (i, b) in bytes.enumerated() where !(b == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A) { out.append(b) }
      bytes = out
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      // Name the first line that is not UTF-8, as an editor counts lines.
      var line = 1, start = 0
      for (i, b) in bytes.enumerated() where b == 0x0A {
        if String(validating: bytes[start..<i], as: UTF8.self) == nil { break }
        line += 1; start = i + 1
      }
      throw .notUTF8(path: path, line: line)
    }
    return text
  }

  /// The lines of normalised text, split on LF only (a last empty line after a final LF is kept,
  /// so numbers match an editor's).
  public static func lines(_ text: String) -> [Substring] {
    var out: [Substring] = []
    var start = text.startIndex
    let scalars = text.unicodeScalars
    var i = scalars.startIndex
    while i < scalars.endIndex {
      if scalars[i] == "\n" {
        out.append(text[start..<i])
        start = scalars.index(after: i)
      }
      i = scalars.index(after: i)
    }
    out.append(text[start..<text.endIndex])
    return out
  }

  /// At most `limit` characters of the first line of `s`, with "…" when cut: what an error
  /// message quotes of user input (never a whole file).
  public static func snippet(_ s: some StringProtocol, limit: Int = 80) -> String {
    // Only the first line is looked at, however long the input (a whole file without LF).
    let text = String(s)
    let firstBreak = text.unicodeScalars.firstIndex(of: "\n")
    let first = firstBreak.map { String(text[..<$0]) } ?? text
    let cut = first.count > limit ? String(first.prefix(limit)) + "…" : first
    return firstBreak != nil && !cut.hasSuffix("…") ? cut + "…" : cut
  }
}

/// Errors of reading and writing user files; each names the path.
public enum TextFileError: Error, Equatable, CustomStringConvertible, Sendable {
  case noSuchFile(path: String)
  case isDirectory(path: String)
  case unreadable(path: String)
  case notUTF8(path: String, line: Int)

  public var description: String {
    switch self {
    case let .noSuchFile(path), let .isDirectory(path), let .unreadable(path): return "\(path): \(reason)"
    case let .notUTF8(path, line): return "\(path):\(line): \(reason)"
    }
  }

  /// What is wrong, without the path (for errors that name the path themselves).
  public var reason: String {
    switch self {
    case .noSuchFile: return "no such file"
    case .isDirectory: return "a directory, expected a file"
    case .unreadable: return "cannot be read (permissions?)"
    case let .notUTF8(_, line): return "line \(line) is not UTF-8 text"
    }
  }
}

/// The one rule for reading JSON Lines: one value a line; a line of only spaces and tabs is
/// skipped; line numbers are 1-based and count every line (as an editor does), after `TextFile`'s
/// LF/CRLF/BOM normalisation.
public enum JSONLinesText {
  /// The non-blank lines with their numbers.
  public static func rows(_ text: String) -> [(number: Int, text: Substring)] {
    var out: [(number: Int, text: Substring)] = []
    for (i, line) in TextFile.lines(text).enumerated() where !line.allSatisfy({ $0 == " " || $0 == "\t" }) {
      out.append((i + 1, line))
    }
    return out
  }

  /// A line as a JSON object, or nil when it is not one.
  public static func object(_ line: Substring) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
  }
}
