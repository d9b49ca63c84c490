/// Reads JSON text into template values, keeping the order of object keys (which `tojson` and
/// `items()` show, so tool schemas and fixtures render as they were written). Integers without a
/// fraction or exponent become `int`, other numbers `float`, as Python's `json.loads` does.
public struct JinjaJSONReader {
  private let s: [Unicode.Scalar]
  private var pos = 0

  /// The value of `text`; an error names the offset and what was expected.
  public static func read(_ text: String) throws(JinjaError) -> JinjaValue {
    var reader = JinjaJSONReader(s: Array(text.unicodeScalars))
    let value = try reader.value()
    reader.skipSpace()
    guard reader.pos == reader.s.count else { throw reader.error("extra text after the JSON value") }
    return value
  }

  private init(s: [Unicode.Scalar]) { self.s = s }

  private func error(_ message: String) -> JinjaError { .syntax(line: 1, message: "JSON at offset \(pos): \(message)") }

  private mutating func skipSpace() { while pos < s.count, [" ", "\n", "\r", "\t"].contains(s[pos]) { pos += 1 } }

  private mutating func literal(_ word: String, _ v: JinjaValue) throws(JinjaError) -> JinjaValue {
    let w = Array(word.unicodeScalars)
    guard pos + w.count <= s.count, Array(s[pos..<pos + w.count]) == w else { throw error("expected a value") }
    pos += w.count
    return v
  }

  private mutating func value() throws(JinjaError) -> JinjaValue {
    skipSpace()
    guard pos < s.count else { throw error("unexpected end") }
    switch s[pos] {
    case "n": return try literal("null", .none)
    case "t": return try literal("true", .bool(true))
    case "f": return try literal("false", .bool(false))
    case "\"": return .string(try string())
    case "[":
      pos += 1
      var items: [JinjaValue] = []
      skipSpace()
      if pos < s.count, s[pos] == "]" { pos += 1; return .array(items) }
      while true {
        items.append(try value())
        skipSpace()
        guard pos < s.count else { throw error("unexpected end in an array") }
        guard s[pos] == "," || s[pos] == "]" else { throw error("expected ',' or ']'") }
        pos += 1
        if s[pos - 1] == "]" { return .array(items) }
      }
    case "{":
      pos += 1
      var object = JinjaObject()
      skipSpace()
      if pos < s.count, s[pos] == "}" { pos += 1; return .object(object) }
      while true {
        skipSpace()
        guard pos < s.count, s[pos] == "\"" else { throw error("expected a string key") }
        let key = try string()
        skipSpace()
        guard pos < s.count, s[pos] == ":" else { throw error("expected ':'") }
        pos += 1
        object[key] = try value()
        skipSpace()
        guard pos < s.count else { throw error("unexpected end in an object") }
        guard s[pos] == "," || s[pos] == "}" else { throw error("expected ',' or '}'") }
        pos += 1
        if s[pos - 1] == "}" { return .object(object) }
      }
    default: return try number()
    }
  }

  private mutating func number() throws(JinjaError) -> JinjaValue {
    let start = pos
    var isInteger = true
    while pos < s.count, "+-0123456789.eE".unicodeScalars.contains(s[pos]) {
      if ".eE".unicodeScalars.contains(s[pos]) { isInteger = false }
      pos += 1
    }
    var text = String.UnicodeScalarView()
    text.append(contentsOf: s[start..<pos])
    if isInteger, let i = Int(String(text)) { return .int(i) }
    guard pos > start, let d = Double(String(text)) else { throw error("expected a value") }
    return .double(d)
  }

  private mutating func string() throws(JinjaError) -> String {
    pos += 1
    var out = String.UnicodeScalarView()
    while true {
      guard pos < s.count else { throw error("unterminated string") }
      let c = s[pos]
      pos += 1
      if c == "\"" { return String(out) }
      guard c == "\\" else { out.append(c); continue }
      guard pos < s.count else { throw error("unterminated escape") }
      let e = s[pos]
      pos += 1
      switch e {
      case "\"", "\\", "/": out.append(e)
      case "n": out.append("\n")
      case "t": out.append("\t")
      case "r": out.append("\r")
      case "b": out.append("\u{08}")
      case "f": out.append("\u{0C}")
      case "u":
        var unit = try hex4()
        if (0xD800..<0xDC00).contains(unit), pos + 1 < s.count, s[pos] == "\\", s[pos + 1] == "u" {
          pos += 2
          let low = try hex4()
          unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(unit) else { throw error("an escape that is not a character") }
        out.append(scalar)
      default: throw error("a bad escape \\\(Character(e))")
      }
    }
  }

  private mutating func hex4() throws(JinjaError) -> UInt32 {
    guard pos + 4 <= s.count else { throw error("a short \\u escape") }
    var text = String.UnicodeScalarView()
    text.append(contentsOf: s[pos..<pos + 4])
    guard let v = UInt32(String(text), radix: 16) else { throw error("a bad \\u escape") }
    pos += 4
    return v
  }
}
