/// jinja2's filters and tests that chat templates use, with transformers' `tojson` (no HTML
/// escaping, `ensure_ascii=False`). An unknown filter or test is an error naming it.
extension JinjaBuiltins {
  static func argument(_ args: [JinjaValue], _ kwargs: [(String, JinjaValue)], _ position: Int, _ name: String) -> JinjaValue? {
    if let k = kwargs.first(where: { $0.0 == name }) { return k.1 }
    return position >= 0 && position < args.count ? args[position] : nil
  }

  static func stringArgument(_ args: [JinjaValue], _ kwargs: [(String, JinjaValue)], _ position: Int, _ name: String,
                             of function: String, line: Int) throws(JinjaError) -> String? {
    guard let v = argument(args, kwargs, position, name) else { return nil }
    if case .none = v { return nil }
    guard case .string(let s) = v else { throw .runtime(line: line, message: "\(function): '\(name)' must be a string, not \(v.typeName)") }
    return s
  }

  static func filter(_ name: String, _ v: JinjaValue, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)], line: Int) throws(JinjaError) -> JinjaValue {
    /// The value as text for the string filters (Python's `str()`; undefined is an error).
    func text() throws(JinjaError) -> String {
      if v.isUndefined { throw undefinedError(v, line: line) }
      return v.text
    }
    switch name {
    case "trim":
      return .string(PythonString.strip(try text(), chars: try stringArgument(args, kwargs, 0, "chars", of: "trim", line: line), leading: true, trailing: true))
    case "length", "count":
      switch v {
      case .undefined: return .int(0)
      case .string(let s): return .int(s.unicodeScalars.count)
      case .array(let a): return .int(a.count)
      case .object(let o): return .int(o.count)
      default: throw .runtime(line: line, message: "object of type '\(v.typeName)' has no len()")
      }
    case "tojson":
      var indent: Int? = nil
      if case .int(let n)? = argument(args, kwargs, 1, "indent") { indent = n }
      let sortKeys = argument(args, kwargs, 3, "sort_keys")?.isTruthy ?? false
      let ensureASCII = argument(args, kwargs, 0, "ensure_ascii")?.isTruthy ?? false
      var separators: (String, String)? = nil
      if case .array(let s)? = argument(args, kwargs, 2, "separators"), s.count == 2, case .string(let a) = s[0], case .string(let b) = s[1] {
        separators = (a, b)
      }
      return .string(try JinjaJSON(indent: indent, separators: separators, sortKeys: sortKeys, ensureASCII: ensureASCII).encode(v, line: line))
    case "string": return .string(v.text)
    case "lower": return .string(try text().lowercased())
    case "upper": return .string(try text().uppercased())
    case "title": return .string(PythonString.title(try text()))
    case "capitalize": return .string(PythonString.capitalize(try text()))
    case "replace":
      guard case .string(let old)? = argument(args, kwargs, 0, "old"), case .string(let new)? = argument(args, kwargs, 1, "new") else {
        throw .runtime(line: line, message: "replace needs the old and the new string")
      }
      return .string(PythonString.replace(try text(), old, new, count: argument(args, kwargs, 2, "count")?.integer ?? -1))
    case "join":
      let separator = try stringArgument(args, kwargs, 0, "d", of: "join", line: line) ?? ""
      var items = try iterate(v, line: line)
      if let a = try stringArgument(args, kwargs, 1, "attribute", of: "join", line: line) {
        items = try items.map { (x) throws(JinjaError) in try attribute(x, a, line: line) }
      }
      return .string(items.map(\.text).joined(separator: separator))
    case "select", "reject":
      guard case .string(let test)? = args.first else { return .array(try iterate(v, line: line).filter { $0.isTruthy == (name == "select") }) }
      var kept: [JinjaValue] = []
      for x in try iterate(v, line: line) where try self.test(test, x, Array(args.dropFirst()), line: line) == (name == "select") { kept.append(x) }
      return .array(kept)
    case "selectattr", "rejectattr":
      guard case .string(let attr)? = args.first else { throw .runtime(line: line, message: "\(name) needs an attribute name") }
      var kept: [JinjaValue] = []
      for x in try iterate(v, line: line) {
        let a = try attribute(x, attr, line: line)
        let pass: Bool
        if args.count > 1, case .string(let test) = args[1] { pass = try self.test(test, a, Array(args.dropFirst(2)), line: line) } else { pass = a.isTruthy }
        if pass == (name == "selectattr") { kept.append(x) }
      }
      return .array(kept)
    case "map":
      if let a = try stringArgument(args, kwargs, -1, "attribute", of: "map", line: line) {
        return .array(try iterate(v, line: line).map { (x) throws(JinjaError) in try attribute(x, a, line: line) })
      }
      guard case .string(let f)? = args.first else { throw .runtime(line: line, message: "map needs a filter name or attribute=") }
      return .array(try iterate(v, line: line).map { (x) throws(JinjaError) in try filter(f, x, Array(args.dropFirst()), [], line: line) })
    case "list": return .array(try iterate(v, line: line))
    case "first": return try iterate(v, line: line).first ?? .undefined("the sequence is empty")
    case "last": return try iterate(v, line: line).last ?? .undefined("the sequence is empty")
    case "default", "d":
      let fallback = argument(args, kwargs, 0, "default_value") ?? .string("")
      let boolean = argument(args, kwargs, 1, "boolean")?.isTruthy ?? false
      return v.isUndefined || (boolean && !v.isTruthy) ? fallback : v
    case "items":
      switch v {
      case .undefined: return .array([])
      case .object(let o): return .array(o.pairs.map { .array([.string($0.key), $0.value]) })
      default: throw .runtime(line: line, message: "items needs a dict, not \(v.typeName)")
      }
    case "int":
      if let i = v.integer { return .int(i) }
      if case .double(let d) = v, d.isFinite { return .int(Int(d)) }
      if case .string(let s) = v, let i = Int(PythonString.strip(s, chars: nil, leading: true, trailing: true)) { return .int(i) }
      return argument(args, kwargs, 0, "default") ?? .int(0)
    case "float":
      if let d = v.number { return .double(d) }
      if case .string(let s) = v, let d = Double(PythonString.strip(s, chars: nil, leading: true, trailing: true)) { return .double(d) }
      return argument(args, kwargs, 0, "default") ?? .double(0)
    case "abs":
      if case .double(let d) = v { return .double(Swift.abs(d)) }
      guard let i = v.integer else { throw .runtime(line: line, message: "bad operand type for abs(): '\(v.typeName)'") }
      return .int(Swift.abs(i))
    case "safe": return v
    default:
      throw .runtime(line: line, message: "no filter named '\(name)'")
    }
  }

  static func test(_ name: String, _ v: JinjaValue, _ args: [JinjaValue], line: Int) throws(JinjaError) -> Bool {
    func other() throws(JinjaError) -> JinjaValue {
      guard let a = args.first else { throw .runtime(line: line, message: "the test '\(name)' needs an argument") }
      return a
    }
    switch name {
    case "defined": return !v.isUndefined
    case "undefined": return v.isUndefined
    case "none": if case .none = v { return true } else { return false }
    case "boolean": if case .bool = v { return true } else { return false }
    case "true": if case .bool(let b) = v { return b } else { return false }
    case "false": if case .bool(let b) = v { return !b } else { return false }
    case "integer": if case .int = v { return true } else { return false }
    case "float": if case .double = v { return true } else { return false }
    case "number": return v.number != nil
    case "string": if case .string = v { return true } else { return false }
    case "mapping": if case .object = v { return true } else { return false }
    case "iterable", "sequence":
      switch v {
      case .undefined, .string, .array, .object: return true
      default: return false
      }
    case "callable": return false
    case "equalto", "eq", "==": return v == (try other())
    case "ne", "!=": return v != (try other())
    case "lt", "<", "le", "<=", "gt", ">", "ge", ">=":
      let op = ["lt": "<", "le": "<=", "gt": ">", "ge": ">="][name] ?? name
      return try binary(op, v, try other(), line: line).isTruthy
    case "in": return try contains(try other(), v, line: line)
    case "sameas":
      let o = try other()
      return v == o && v.typeName == o.typeName
    case "odd", "even", "divisibleby":
      guard let i = v.integer else { throw .runtime(line: line, message: "the test '\(name)' needs an integer, not \(v.typeName)") }
      if name == "odd" { return i % 2 != 0 }
      if name == "even" { return i % 2 == 0 }
      guard let d = try other().integer, d != 0 else { throw .runtime(line: line, message: "divisibleby needs a non-zero integer") }
      return i % d == 0
    case "lower": if case .string(let s) = v { return s == s.lowercased() } else { return false }
    case "upper": if case .string(let s) = v { return s == s.uppercased() } else { return false }
    default:
      throw .runtime(line: line, message: "no test named '\(name)'")
    }
  }
}
