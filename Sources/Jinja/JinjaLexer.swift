/// One token of an expression inside `{{ }}` or `{% %}`.
struct JinjaToken: Equatable {
  enum Kind: Equatable {
    case name(String)
    case string(String)
    case int(Int)
    case double(Double)
    case op(String)
  }
  let kind: Kind
  let line: Int
}

/// A piece of the template: literal text, an output tag's tokens or a statement tag's tokens.
struct JinjaSegment {
  enum Kind {
    case text(String)
    case output([JinjaToken])
    case statement([JinjaToken])
  }
  let kind: Kind
  let line: Int
}

/// Splits a template into segments with jinja2's whitespace rules as transformers configures
/// them (`trim_blocks=True, lstrip_blocks=True`): the first newline after a block or comment tag
/// is dropped; spaces and tabs between the start of a line and a block or comment tag are dropped;
/// `-` beside a delimiter strips all whitespace on that side, `+` keeps it. Newlines are normalised
/// to "\n" and one trailing newline of the source is dropped (`keep_trailing_newline=False`).
struct JinjaLexer {
  private let s: [Unicode.Scalar]
  private var pos = 0
  private var line = 1

  init(_ source: String) {
    var text = source.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
    if text.hasSuffix("\n") { text.removeLast() }
    s = Array(text.unicodeScalars)
  }

  static func isSpace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}" }

  private func at(_ i: Int) -> Unicode.Scalar? { i < s.count ? s[i] : nil }

  private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
    var out = String.UnicodeScalarView()
    out.append(contentsOf: scalars)
    return String(out)
  }

  mutating func segments() throws(JinjaError) -> [JinjaSegment] {
    var out: [JinjaSegment] = []
    // How the previous tag's closing delimiter treats the text after it.
    var stripLeading = false, trimNewline = false
    var lineStarting = true
    while pos <= s.count {
      // The next tag opener.
      var open = pos
      while open + 1 < s.count && !(s[open] == "{" && (s[open + 1] == "{" || s[open + 1] == "%" || s[open + 1] == "#")) { open += 1 }
      let found = open + 1 < s.count
      let end = found ? open : s.count
      var start = pos
      if stripLeading {
        while start < end && Self.isSpace(s[start]) { start += 1 }
      } else if trimNewline && start < end && s[start] == "\n" {
        start += 1
      }
      if start > pos { lineStarting = s[start - 1] == "\n" }
      var stop = end
      var kind: Unicode.Scalar = "{"
      var marker: Unicode.Scalar? = nil
      if found {
        kind = s[open + 1]
        if let m = at(open + 2), m == "-" || m == "+" { marker = m }
        if marker == "-" {
          while stop > start && Self.isSpace(s[stop - 1]) { stop -= 1 }
        } else if kind != "{" && marker != "+" {
          // lstrip_blocks: only spaces between the line start and the tag.
          var lineStart = stop
          while lineStart > start && s[lineStart - 1] != "\n" { lineStart -= 1 }
          if (lineStart > start || lineStarting) && s[lineStart..<stop].allSatisfy({ $0 == " " || $0 == "\t" }) { stop = lineStart }
        }
      }
      let textLine = line
      for i in pos..<end where s[i] == "\n" { line += 1 }
      if stop > start { out.append(JinjaSegment(kind: .text(Self.string(s[start..<stop])), line: textLine)) }
      guard found else { break }
      pos = open + 2 + (marker == nil ? 0 : 1)
      let tagLine = line
      let closer: Unicode.Scalar = kind == "{" ? "}" : kind
      let tokens: [JinjaToken]
      var closeMarker: Unicode.Scalar? = nil
      if kind == "#" {
        tokens = []
        while pos + 1 < s.count && !(s[pos] == "#" && s[pos + 1] == "}") {
          if s[pos] == "\n" { line += 1 }
          pos += 1
        }
        guard pos + 1 < s.count else { throw .syntax(line: tagLine, message: "a comment is not closed with #}") }
        if pos > 0, s[pos - 1] == "-" || s[pos - 1] == "+" { closeMarker = s[pos - 1] }
        pos += 2
      } else {
        (tokens, closeMarker) = try expressionTokens(closer: closer, tagLine: tagLine)
      }
      switch kind {
      case "{": out.append(JinjaSegment(kind: .output(tokens), line: tagLine))
      case "%": out.append(JinjaSegment(kind: .statement(tokens), line: tagLine))
      default: break
      }
      stripLeading = closeMarker == "-"
      trimNewline = closeMarker == nil && kind != "{"
      lineStarting = false
    }
    return out
  }

  /// Tokens up to the closing `}}` or `%}` (at bracket depth 0), and the `-`/`+` before it.
  private mutating func expressionTokens(closer: Unicode.Scalar, tagLine: Int) throws(JinjaError) -> ([JinjaToken], Unicode.Scalar?) {
    var tokens: [JinjaToken] = []
    var depth = 0
    while true {
      while let c = at(pos), Self.isSpace(c) {
        if c == "\n" { line += 1 }
        pos += 1
      }
      guard let c = at(pos) else { throw .syntax(line: tagLine, message: "a tag is not closed with \(closer)}") }
      if depth == 0 {
        if (c == "-" || c == "+"), at(pos + 1) == closer, at(pos + 2) == "}" { pos += 3; return (tokens, c) }
        if c == closer, at(pos + 1) == "}" { pos += 2; return (tokens, nil) }
      }
      if c == "'" || c == "\"" {
        tokens.append(JinjaToken(kind: .string(try stringLiteral(quote: c)), line: line))
      } else if c.properties.isAlphabetic || c == "_" {
        let begin = pos
        while let d = at(pos), d.properties.isAlphabetic || d == "_" || ("0"..."9").contains(d) { pos += 1 }
        tokens.append(JinjaToken(kind: .name(Self.string(s[begin..<pos])), line: line))
      } else if ("0"..."9").contains(c) {
        let begin = pos
        while let d = at(pos), ("0"..."9").contains(d) || d == "_" { pos += 1 }
        var isDouble = false
        if at(pos) == ".", let d = at(pos + 1), ("0"..."9").contains(d) {
          isDouble = true
          pos += 1
          while let d = at(pos), ("0"..."9").contains(d) { pos += 1 }
        }
        let digits = Self.string(s[begin..<pos]).replacingOccurrences(of: "_", with: "")
        if isDouble, let d = Double(digits) {
          tokens.append(JinjaToken(kind: .double(d), line: line))
        } else if let i = Int(digits) {
          tokens.append(JinjaToken(kind: .int(i), line: line))
        } else {
          throw .syntax(line: line, message: "the number \(digits) is out of range")
        }
      } else {
        let two = at(pos + 1).map { String(Character(c)) + String(Character($0)) } ?? ""
        let op: String
        if ["**", "//", "==", "!=", "<=", ">="].contains(two) {
          op = two
        } else if "+-*/%~<>=()[]{}.,:|".unicodeScalars.contains(c) {
          op = String(Character(c))
        } else {
          throw .syntax(line: line, message: "unexpected character '\(Character(c))'")
        }
        if op == "(" || op == "[" || op == "{" { depth += 1 }
        if op == ")" || op == "]" || op == "}" { depth = max(0, depth - 1) }  // a stray closer is the parser's error
        pos += op.unicodeScalars.count
        tokens.append(JinjaToken(kind: .op(op), line: line))
      }
    }
  }

  /// A quoted literal with Python's `unicode_escape` escapes (what jinja2 applies to literals).
  private mutating func stringLiteral(quote: Unicode.Scalar) throws(JinjaError) -> String {
    let startLine = line
    pos += 1
    var out = String.UnicodeScalarView()
    while true {
      guard let c = at(pos) else { throw .syntax(line: startLine, message: "a string literal is not closed") }
      pos += 1
      if c == quote { return String(out) }
      if c == "\n" { line += 1 }
      guard c == "\\", let e = at(pos) else { out.append(c); continue }
      pos += 1
      switch e {
      case "n": out.append("\n")
      case "t": out.append("\t")
      case "r": out.append("\r")
      case "\\", "'", "\"": out.append(e)
      case "a": out.append("\u{07}")
      case "b": out.append("\u{08}")
      case "f": out.append("\u{0C}")
      case "v": out.append("\u{0B}")
      case "0": out.append("\u{00}")
      case "\n": line += 1  // a backslash-newline continues the literal
      case "x", "u", "U":
        let width = e == "x" ? 2 : e == "u" ? 4 : 8
        guard pos + width <= s.count, let v = UInt32(Self.string(s[pos..<pos + width]), radix: 16), let scalar = Unicode.Scalar(v) else {
          throw .syntax(line: line, message: "a bad \\\(Character(e)) escape in a string literal")
        }
        out.append(scalar)
        pos += width
      default:
        out.append("\\")
        out.append(e)
      }
    }
  }
}
