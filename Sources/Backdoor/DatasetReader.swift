import Foundation

/// Reads classification datasets: TSV (`sentence<TAB>label` header), CSV (`sentence,label`
/// header, RFC 4180 quoting) and JSONL (`{"sentence": ..., "label": ...}` per line). Errors name
/// the file, the 1-based line and what was wrong; nothing is skipped silently.
public enum DatasetReader {
  public static func read(_ path: String) throws(DatasetError) -> [Example] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .cannotRead(path: path, reason: FileManager.default.fileExists(atPath: path) ? "unreadable" : "no such file")
    }
    guard let text = String(data: data, encoding: .utf8) else { throw .cannotRead(path: path, reason: "not UTF-8") }
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

  static func lines(_ text: String) -> [Substring] {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
  }

  static func label(_ s: Substring, path: String, line: Int) throws(DatasetError) -> Int {
    let t = s.trimmingCharacters(in: .whitespaces)
    guard let v = Int(t), v >= 0 else { throw .badLabel(path: path, line: line, value: t) }
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
    for (i, raw) in lines(text).enumerated() where !raw.trimmingCharacters(in: .whitespaces).isEmpty {
      let line = i + 1
      guard let obj = (try? JSONSerialization.jsonObject(with: Data(raw.utf8))) as? [String: Any] else {
        throw .badLine(path: path, line: line, reason: "not a JSON object")
      }
      guard let sentence = obj["sentence"] as? String else {
        throw .badLine(path: path, line: line, reason: "missing string field \"sentence\"")
      }
      guard !sentence.trimmingCharacters(in: .whitespaces).isEmpty else { throw .badLine(path: path, line: line, reason: "empty sentence") }
      let labelValue: Int
      if let n = obj["label"] as? Int, n >= 0 { labelValue = n }
      else if let s = obj["label"] as? String { labelValue = try label(s[...], path: path, line: line) }
      else { throw .badLine(path: path, line: line, reason: "missing non-negative integer field \"label\"") }
      // Files written by `PoisonedDataset` keep each row's index in its source file.
      out.append(Example(text: sentence, label: labelValue, poisoned: obj["poisoned"] as? Bool ?? false,
                         sourceIndex: obj["source_index"] as? Int ?? out.count))
    }
    return out
  }
}
