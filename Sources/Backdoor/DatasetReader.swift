import FileIO
import Foundation

/// Reads classification datasets: TSV (`sentence<TAB>label` header), CSV (`sentence,label`
/// header, RFC 4180 quoting) and JSONL (`{"sentence": ..., "label": ...}` per line). Errors name
/// the file, the 1-based line and what was wrong; nothing is skipped silently. LF or CRLF line
/// ends and a UTF-8 byte-order mark are accepted (`TextFile`).
public enum DatasetReader {
  public static func read(_ path: String) throws(DatasetError) -> [Example] {
    let text: String
    do { text = try TextFile.read(path) } catch { throw .cannotRead(path: path, reason: error.reason) }
    let examples: [Example]
    if path.hasSuffix(".jsonl") || path.hasSuffix(".json") {
      examples = try jsonl(text, path: path)
    } else if path.hasSuffix(".csv") {
      examples = try delimited(text, path: path, separator: ",")
    } else {
      examples = try delimited(text, path: path, separator: "\t")
    }
    guard !examples.isEmpty else { throw .empty(path: path) }
    return examples
  }

  /// LF-split lines of text `TextFile` normalised (BOM and CRLF removed).
  static func lines(_ text: String) -> [Substring] { TextFile.lines(text) }

  /// The largest label a dataset may use: labels are class indices 0..<n, and the label words,
  /// the safe label space (i + n) and the confusion table grow with n.
  public static let maxLabel = 255

  static func label(_ s: Substring, path: String, line: Int) throws(DatasetError) -> Int {
    let t = s.trimmingCharacters(in: .whitespaces)
    guard let v = Int(t), v >= 0 else { throw .badLabel(path: path, line: line, value: t) }
    guard v <= maxLabel else {
      throw .badLine(path: path, line: line, reason: "label \(v) is out of range: labels are class indices 0...\(maxLabel)")
    }
    return v
  }

  static func delimited(_ text: String, path: String, separator: Character) throws(DatasetError) -> [Example] {
    let all = lines(text)
    guard let header = all.first else { throw .empty(path: path) }
    let expected = "sentence\(separator == "\t" ? "<TAB>" : ",")label"
    let fields = separator == "," ? csvFields(header) : header.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    guard fields.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) == ["sentence", "label"] else {
      throw .badHeader(path: path, found: String(header), expected: expected)
    }
    var out: [Example] = []
    for (i, raw) in all.enumerated().dropFirst() where !raw.trimmingCharacters(in: .whitespaces).isEmpty {
      let line = i + 1
      let parts: [String]
      if separator == "," {
        parts = csvFields(raw)
      } else {
        parts = raw.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      }
      guard parts.count == 2 else {
        throw .badLine(path: path, line: line, reason: "expected 2 fields (\(expected)), found \(parts.count)")
      }
      let sentence = parts[0].trimmingCharacters(in: .whitespaces)
      guard !sentence.isEmpty else { throw .badLine(path: path, line: line, reason: "empty sentence") }
      out.append(Example(text: sentence, label: try label(parts[1][...], path: path, line: line), sourceIndex: out.count))
    }
    return out
  }

  /// Splits one CSV record (no embedded newlines) honouring double-quoted fields.
  static func csvFields(_ line: Substring) -> [String] {
    var fields: [String] = [], cur = "", quoted = false
    var it = line.makeIterator()
    while let ch = it.next() {
      if quoted {
        if ch == "\"" {
          if let nxt = it.next() {
            if nxt == "\"" { cur.append("\"") } else { quoted = false; if nxt == "," { fields.append(cur); cur = "" } else { cur.append(nxt) } }
          } else { quoted = false }
        } else { cur.append(ch) }
      } else if ch == "\"" && cur.isEmpty {
        quoted = true
      } else if ch == "," {
        fields.append(cur); cur = ""
      } else { cur.append(ch) }
    }
    fields.append(cur)
    return fields
  }

  static func jsonl(_ text: String, path: String) throws(DatasetError) -> [Example] {
    var out: [Example] = []
    var seenSource: [Int: Int] = [:]
    for (line, raw) in JSONLinesText.rows(text) {
      guard let obj = JSONLinesText.object(raw) else {
        throw .badLine(path: path, line: line, reason: "not a JSON object")
      }
      guard let sentence = obj["sentence"] as? String else {
        throw .badLine(path: path, line: line, reason: "missing string field \"sentence\"")
      }
      guard !sentence.trimmingCharacters(in: .whitespaces).isEmpty else { throw .badLine(path: path, line: line, reason: "empty sentence") }
      let labelValue: Int
      if let n = obj["label"] as? Int, n >= 0 { labelValue = try label("\(n)"[...], path: path, line: line) }
      else if let s = obj["label"] as? String { labelValue = try label(s[...], path: path, line: line) }
      else { throw .badLine(path: path, line: line, reason: "missing non-negative integer field \"label\"") }
      // Files written by `PoisonedDataset` keep each row's index in its source file: a row number,
      // once per file.
      var source = out.count
      if let value = obj["source_index"], !(value is NSNull) {
        guard let s = value as? Int, s >= 0 else {
          throw .badLine(path: path, line: line, reason: "\"source_index\" must be a row number >= 0")
        }
        if let first = seenSource[s] {
          throw .badLine(path: path, line: line, reason: "\"source_index\" \(s) repeats line \(first)'s (each source row appears once)")
        }
        seenSource[s] = line
        source = s
      }
      out.append(Example(text: sentence, label: labelValue, poisoned: obj["poisoned"] as? Bool ?? false, sourceIndex: source))
    }
    return out
  }
}
