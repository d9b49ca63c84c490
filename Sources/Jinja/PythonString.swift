/// Python's `str` methods that templates call, on Unicode scalars (as Python indexes strings).
enum PythonString {
  /// `str.isspace()` for one scalar: Unicode White_Space plus the separators U+001C-U+001F.
  static func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace || (0x1C...0x1F).contains(c.value) }

  private static func string<S: Sequence<Unicode.Scalar>>(_ scalars: S) -> String {
    var view = String.UnicodeScalarView()
    view.append(contentsOf: scalars)
    return String(view)
  }

  /// `strip`/`lstrip`/`rstrip`: whitespace, or any of `chars` when given.
  static func strip(_ s: String, chars: String?, leading: Bool, trailing: Bool) -> String {
    let set = chars.map { Set($0.unicodeScalars) }
    func drop(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? isSpace(c) }
    let scalars = Array(s.unicodeScalars)
    var lo = 0, hi = scalars.count
    if leading { while lo < hi && drop(scalars[lo]) { lo += 1 } }
    if trailing { while hi > lo && drop(scalars[hi - 1]) { hi -= 1 } }
    return string(scalars[lo..<hi])
  }

  /// The start offsets of the non-overlapping occurrences of `needle` (not empty) in `hay`.
  private static func occurrences(_ needle: [Unicode.Scalar], in hay: [Unicode.Scalar], limit: Int) -> [Int] {
    var found: [Int] = []
    var i = 0
    while i + needle.count <= hay.count && (limit < 0 || found.count < limit) {
      if hay[i..<i + needle.count].elementsEqual(needle) { found.append(i); i += needle.count } else { i += 1 }
    }
    return found
  }

  /// `str.split(sep, maxsplit)`; without `sep`, runs of whitespace separate and empty parts drop.
  static func split(_ s: String, separator: String?, maxSplit: Int) -> [String] {
    let scalars = Array(s.unicodeScalars)
    guard let separator else {
      var parts: [String] = []
      var i = 0
      while i < scalars.count {
        while i < scalars.count && isSpace(scalars[i]) { i += 1 }
        guard i < scalars.count else { break }
        if maxSplit >= 0 && parts.count == maxSplit {
          var end = scalars.count
          while end > i && isSpace(scalars[end - 1]) { end -= 1 }
          parts.append(string(scalars[i..<end]))
          break
        }
        let start = i
        while i < scalars.count && !isSpace(scalars[i]) { i += 1 }
        parts.append(string(scalars[start..<i]))
      }
      return parts
    }
    let sep = Array(separator.unicodeScalars)
    var parts: [String] = []
    var start = 0
    for at in occurrences(sep, in: scalars, limit: maxSplit) {
      parts.append(string(scalars[start..<at]))
      start = at + sep.count
    }
    parts.append(string(scalars[start...]))
    return parts
  }

  static func replace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
    let scalars = Array(s.unicodeScalars)
    let newScalars = Array(new.unicodeScalars)
    guard !old.isEmpty else {
      // Python inserts `new` before every character and at the end.
      var out: [Unicode.Scalar] = []
      var inserted = 0
      for c in scalars {
        if count < 0 || inserted < count { out += newScalars; inserted += 1 }
        out.append(c)
      }
      if count < 0 || inserted < count { out += newScalars }
      return string(out)
    }
    let o = Array(old.unicodeScalars)
    var out: [Unicode.Scalar] = []
    var start = 0
    for at in occurrences(o, in: scalars, limit: count) {
      out += scalars[start..<at]
      out += newScalars
      start = at + o.count
    }
    out += scalars[start...]
    return string(out)
  }

  /// `str.title()`: a letter after a non-letter is upper-cased, other letters lower-cased.
  static func title(_ s: String) -> String {
    var out = ""
    var previousIsLetter = false
    for c in s.unicodeScalars {
      let letter = c.properties.isAlphabetic
      let piece = String(c)
      out += letter ? (previousIsLetter ? piece.lowercased() : piece.uppercased()) : piece
      previousIsLetter = letter
    }
    return out
  }

  /// `str.capitalize()`: the first character upper-cased, the rest lower-cased.
  static func capitalize(_ s: String) -> String {
    guard let first = s.unicodeScalars.first else { return s }
    return String(first).uppercased() + string(s.unicodeScalars.dropFirst()).lowercased()
  }

  static func hasPrefix(_ s: String, _ p: String) -> Bool { s.unicodeScalars.starts(with: p.unicodeScalars) }
  static func hasSuffix(_ s: String, _ p: String) -> Bool { s.unicodeScalars.reversed().starts(with: p.unicodeScalars.reversed()) }

  /// `str.find(sub)`: the first offset, or -1.
  static func find(_ s: String, _ sub: String) -> Int {
    let scalars = Array(s.unicodeScalars), needle = Array(sub.unicodeScalars)
    guard !needle.isEmpty else { return 0 }
    return occurrences(needle, in: scalars, limit: 1).first ?? -1
  }

  static func count(_ s: String, _ sub: String) -> Int {
    let scalars = Array(s.unicodeScalars), needle = Array(sub.unicodeScalars)
    guard !needle.isEmpty else { return scalars.count + 1 }
    return occurrences(needle, in: scalars, limit: -1).count
  }
}
