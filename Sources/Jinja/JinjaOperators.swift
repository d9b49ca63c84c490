import Foundation

/// Python's operators, subscripts and iteration on template values, with jinja2's undefined rules:
/// looking up a missing key or attribute gives an undefined value; using one as an operand is an
/// error that says what was missing.
enum JinjaBuiltins {
  static func undefinedError(_ v: JinjaValue, line: Int) -> JinjaError {
    if case .undefined(let why) = v { return .runtime(line: line, message: why) }
    return .runtime(line: line, message: "undefined value")
  }

  /// The items a `for` loop or a filter walks: list elements, dict keys, the characters of a string.
  static func iterate(_ v: JinjaValue, line: Int) throws(JinjaError) -> [JinjaValue] {
    switch v {
    case .undefined: return []
    case .array(let a): return a
    case .object(let o): return o.keys.map { .string($0) }
    case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
    default: throw .runtime(line: line, message: "'\(v.typeName)' object is not iterable")
    }
  }

  /// `value.name`: a dict's key, else undefined.
  static func attribute(_ v: JinjaValue, _ name: String, line: Int) throws(JinjaError) -> JinjaValue {
    switch v {
    case .undefined: throw undefinedError(v, line: line)
    case .object(let o): return o[name] ?? .undefined("'dict object' has no attribute '\(name)'")
    case .namespace(let n): return n.object[name] ?? .undefined("'Namespace' object has no attribute '\(name)'")
    default: return .undefined("'\(v.typeName) object' has no attribute '\(name)'")
    }
  }

  /// `value[index]`: a dict key, or a list or string position (negative counts from the end).
  static func item(_ v: JinjaValue, _ index: JinjaValue, line: Int) throws(JinjaError) -> JinjaValue {
    switch (v, index) {
    case (.undefined, _): throw undefinedError(v, line: line)
    case let (.object(o), .string(k)): return o[k] ?? .undefined("'dict object' has no attribute '\(k)'")
    case let (.namespace(n), .string(k)): return n.object[k] ?? .undefined("'Namespace' object has no attribute '\(k)'")
    case let (.array(a), _):
      guard let i = index.integer else { return .undefined("list indices must be integers") }
      let j = i < 0 ? a.count + i : i
      return a.indices.contains(j) ? a[j] : .undefined("list object has no element \(i)")
    case let (.string(s), _):
      guard let i = index.integer else { return .undefined("string indices must be integers") }
      let scalars = Array(s.unicodeScalars)
      let j = i < 0 ? scalars.count + i : i
      return scalars.indices.contains(j) ? .string(String(scalars[j])) : .undefined("str object has no element \(i)")
    default: return .undefined("'\(v.typeName) object' has no element \(index.repr)")
    }
  }

  /// Python's `slice.indices`: the positions `[start:stop:step]` selects in a sequence of length n.
  static func sliceIndices(count n: Int, _ start: JinjaValue, _ stop: JinjaValue, _ step: JinjaValue, line: Int) throws(JinjaError) -> [Int] {
    func bound(_ v: JinjaValue) throws(JinjaError) -> Int? {
      if case .none = v { return nil }
      guard let i = v.integer else { throw .runtime(line: line, message: "slice indices must be integers or None") }
      return i
    }
    let s = try bound(step) ?? 1
    guard s != 0 else { throw .runtime(line: line, message: "slice step cannot be zero") }
    func clamp(_ v: Int?, _ dflt: Int) -> Int {
      guard var i = v else { return dflt }
      if i < 0 { i += n }
      return s > 0 ? min(max(i, 0), n) : min(max(i, -1), n - 1)
    }
    let from = clamp(try bound(start), s > 0 ? 0 : n - 1)
    let to = clamp(try bound(stop), s > 0 ? n : -1)
    return Array(stride(from: from, to: to, by: s))
  }

  static func slice(_ v: JinjaValue, _ start: JinjaValue, _ stop: JinjaValue, _ step: JinjaValue, line: Int) throws(JinjaError) -> JinjaValue {
    switch v {
    case .undefined: throw undefinedError(v, line: line)
    case .array(let a): return .array(try sliceIndices(count: a.count, start, stop, step, line: line).map { a[$0] })
    case .string(let s):
      let scalars = Array(s.unicodeScalars)
      var out = String.UnicodeScalarView()
      for i in try sliceIndices(count: scalars.count, start, stop, step, line: line) { out.append(scalars[i]) }
      return .string(String(out))
    default: throw .runtime(line: line, message: "'\(v.typeName)' object is not subscriptable")
    }
  }

  static func negate(_ v: JinjaValue, minus: Bool, line: Int) throws(JinjaError) -> JinjaValue {
    switch v {
    case .undefined: throw undefinedError(v, line: line)
    case .int, .bool: return .int(minus ? -v.integer! : v.integer!)
    case .double(let d): return .double(minus ? -d : d)
    default: throw .runtime(line: line, message: "bad operand type for unary \(minus ? "-" : "+"): '\(v.typeName)'")
    }
  }

  /// The binary operators other than `and`/`or` (which short-circuit in the renderer).
  static func binary(_ op: String, _ l: JinjaValue, _ r: JinjaValue, line: Int) throws(JinjaError) -> JinjaValue {
    switch op {
    case "==": return .bool(l == r)
    case "!=": return .bool(l != r)
    case "~": return .string(l.text + r.text)
    case "in": return .bool(try contains(r, l, line: line))
    case "not in": return .bool(!(try contains(r, l, line: line)))
    default: break
    }
    if l.isUndefined { throw undefinedError(l, line: line) }
    if r.isUndefined { throw undefinedError(r, line: line) }
    let unsupported = JinjaError.runtime(line: line, message: "unsupported operand types for \(op): '\(l.typeName)' and '\(r.typeName)'")
    switch op {
    case "<", ">", "<=", ">=":
      let order: Int
      if let x = l.number, let y = r.number {
        order = x < y ? -1 : x > y ? 1 : 0
      } else if case .string(let x) = l, case .string(let y) = r {
        let a = Array(x.unicodeScalars.map(\.value)), b = Array(y.unicodeScalars.map(\.value))
        order = a.lexicographicallyPrecedes(b) ? -1 : a == b ? 0 : 1
      } else {
        throw JinjaError.runtime(line: line, message: "'\(op)' is not supported between '\(l.typeName)' and '\(r.typeName)'")
      }
      switch op {
      case "<": return .bool(order < 0)
      case ">": return .bool(order > 0)
      case "<=": return .bool(order <= 0)
      default: return .bool(order >= 0)
      }
    case "+":
      switch (l, r) {
      case let (.string(a), .string(b)): return .string(a + b)
      case let (.array(a), .array(b)): return .array(a + b)
      default: return try arithmetic(op, l, r, unsupported: unsupported, line: line)
      }
    case "*":
      if case .string(let s) = l, let n = r.integer { return .string(String(repeating: s, count: max(n, 0))) }
      if case .array(let a) = l, let n = r.integer { return .array(Array([[JinjaValue]](repeating: a, count: max(n, 0)).joined())) }
      return try arithmetic(op, l, r, unsupported: unsupported, line: line)
    default:
      return try arithmetic(op, l, r, unsupported: unsupported, line: line)
    }
  }

  /// `+ - * / // % **` on numbers with Python's int/float rules (floor division and modulo round
  /// towards negative infinity).
  private static func arithmetic(_ op: String, _ l: JinjaValue, _ r: JinjaValue, unsupported: JinjaError, line: Int) throws(JinjaError) -> JinjaValue {
    if let a = l.integer, let b = r.integer {
      switch op {
      case "+", "-", "*":
        let (v, overflow) = op == "+" ? a.addingReportingOverflow(b) : op == "-" ? a.subtractingReportingOverflow(b) : a.multipliedReportingOverflow(by: b)
        guard !overflow else { throw .runtime(line: line, message: "integer overflow in \(op)") }
        return .int(v)
      case "/":
        guard b != 0 else { throw .runtime(line: line, message: "division by zero") }
        return .double(Double(a) / Double(b))
      case "//", "%":
        guard b != 0 else { throw .runtime(line: line, message: "integer division or modulo by zero") }
        var q = a / b, m = a % b
        if m != 0 && ((m < 0) != (b < 0)) { q -= 1; m += b }
        return .int(op == "//" ? q : m)
      case "**":
        guard b >= 0 else { return .double(pow(Double(a), Double(b))) }
        var result = 1
        for _ in 0..<b {
          let (v, overflow) = result.multipliedReportingOverflow(by: a)
          guard !overflow else { throw .runtime(line: line, message: "integer overflow in **") }
          result = v
          if result == 0 || result == 1 { break }  // 0 and 1 stay; -1 alternates, handled below
        }
        if a == -1 { result = b % 2 == 0 ? 1 : -1 }
        return .int(result)
      default: throw unsupported
      }
    }
    guard let a = l.number, let b = r.number else { throw unsupported }
    switch op {
    case "+": return .double(a + b)
    case "-": return .double(a - b)
    case "*": return .double(a * b)
    case "/":
      guard b != 0 else { throw .runtime(line: line, message: "float division by zero") }
      return .double(a / b)
    case "//", "%":
      guard b != 0 else { throw .runtime(line: line, message: "float modulo by zero") }
      let q = (a / b).rounded(.down)
      return .double(op == "//" ? q : a - q * b)
    case "**": return .double(pow(a, b))
    default: throw unsupported
    }
  }

  /// Python's `needle in haystack`.
  static func contains(_ haystack: JinjaValue, _ needle: JinjaValue, line: Int) throws(JinjaError) -> Bool {
    switch haystack {
    case .undefined: return false
    case .array(let a): return a.contains(needle)
    case .object(let o):
      if case .string(let k) = needle { return o[k] != nil }
      return false
    case .string(let s):
      guard case .string(let n) = needle else { throw .runtime(line: line, message: "'in <string>' requires string as left operand, not \(needle.typeName)") }
      return n.isEmpty || s.contains(n)
    default: throw .runtime(line: line, message: "argument of type '\(haystack.typeName)' is not iterable")
    }
  }
}
