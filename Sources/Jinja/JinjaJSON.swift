/// `tojson` as transformers defines it for chat templates: Python's
/// `json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)`,
/// byte for byte (separators `", "`/`": "`, or `","`/`": "` with an indent).
struct JinjaJSON {
  var indent: Int?
  var separators: (String, String)?
  var sortKeys = false
  var ensureASCII = false

  func encode(_ v: JinjaValue, line: Int) throws(JinjaError) -> String {
    var out = ""
    try write(v, level: 0, into: &out, line: line)
    return out
  }

  private var itemSeparator: String { separators?.0 ?? (indent == nil ? ", " : ",") }
  private var keySeparator: String { separators?.1 ?? ": " }

  private func write(_ v: JinjaValue, level: Int, into out: inout String, line: Int) throws(JinjaError) {
    switch v {
    case .undefined(let why): throw .runtime(line: line, message: "tojson: \(why)")
    case .none: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .int(let i): out += String(i)
    case .double(let d):
      out += d.isNaN ? "NaN" : d.isInfinite ? (d < 0 ? "-Infinity" : "Infinity") : JinjaValue.pythonFloat(d)
    case .string(let s): quote(s, into: &out)
    case .array(let a):
      try container("[", "]", a.count, level: level, into: &out) { (i, out) throws(JinjaError) in
        try write(a[i], level: level + 1, into: &out, line: line)
      }
    case .object(let o):
      let pairs = sortKeys ? o.pairs.sorted { Array($0.key.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.key.unicodeScalars.map(\.value)) } : o.pairs
      try container("{", "}", pairs.count, level: level, into: &out) { (i, out) throws(JinjaError) in
        quote(pairs[i].key, into: &out)
        out += keySeparator
        try write(pairs[i].value, level: level + 1, into: &out, line: line)
      }
    case .namespace: throw .runtime(line: line, message: "tojson: a namespace is not JSON serializable")
    }
  }

  private func container(_ open: String, _ close: String, _ count: Int, level: Int, into out: inout String,
                         item: (Int, inout String) throws(JinjaError) -> Void) throws(JinjaError) {
    out += open
    guard count > 0 else { out += close; return }
    let newline = indent.map { "\n" + String(repeating: " ", count: $0 * (level + 1)) }
    for i in 0..<count {
      if i > 0 { out += itemSeparator }
      if let newline { out += newline }
      try item(i, &out)
    }
    if let indent { out += "\n" + String(repeating: " ", count: indent * level) }
    out += close
  }

  /// A JSON string with Python's escapes: `\" \\ \n \r \t \b \f`, other controls as `\u00XX`
  /// (and, with `ensure_ascii`, everything outside ASCII as UTF-16 `\uXXXX`).
  private func quote(_ s: String, into out: inout String) {
    out += "\""
    for c in s.unicodeScalars {
      switch c {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case "\u{08}": out += "\\b"
      case "\u{0C}": out += "\\f"
      default:
        if c.value < 0x20 || (ensureASCII && c.value > 0x7F) {
          for unit in String(c).utf16 { out += "\\u" + String(repeating: "0", count: 4 - String(unit, radix: 16).count) + String(unit, radix: 16) }
        } else {
          out.unicodeScalars.append(c)
        }
      }
    }
    out += "\""
  }
}
