/// Methods on values (`text.startswith('x')`, `message.items()`) and the global functions that
/// transformers gives chat templates: `raise_exception`, `strftime_now`, `namespace`, `range`, `dict`.
extension JinjaBuiltins {
  static let globals: Set<String> = ["raise_exception", "strftime_now", "namespace", "range", "dict"]

  static func global(_ name: String, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)], clock: JinjaClock, line: Int) throws(JinjaError) -> JinjaValue {
    switch name {
    case "raise_exception":
      throw .raised(line: line, message: args.first?.text ?? "")
    case "strftime_now":
      guard case .string(let format)? = args.first else { throw .runtime(line: line, message: "strftime_now needs a format string") }
      return .string(try clock.format(format, line: line))
    case "namespace", "dict":
      var object = JinjaObject()
      if let first = args.first {
        guard case .object(let o) = first else { throw .runtime(line: line, message: "\(name)() takes a dict and keyword arguments") }
        object = o
      }
      for (k, v) in kwargs { object[k] = v }
      return name == "dict" ? .object(object) : .namespace(JinjaNamespace(object))
    case "range":
      let bounds = args.compactMap(\.integer)
      guard bounds.count == args.count, (1...3).contains(bounds.count) else { throw .runtime(line: line, message: "range() takes one to three integers") }
      let (start, stop) = bounds.count == 1 ? (0, bounds[0]) : (bounds[0], bounds[1])
      let step = bounds.count == 3 ? bounds[2] : 1
      guard step != 0 else { throw .runtime(line: line, message: "range() step must not be zero") }
      let values = Array(stride(from: start, to: stop, by: step).prefix(100_001))
      // jinja2's sandbox refuses ranges over 100,000 items.
      guard values.count <= 100_000 else { throw .runtime(line: line, message: "range() is too big (more than 100,000 items)") }
      return .array(values.map { .int($0) })
    default:
      throw .runtime(line: line, message: "'\(name)' is undefined")
    }
  }

  static func method(_ base: JinjaValue, _ name: String, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)], line: Int) throws(JinjaError) -> JinjaValue {
    switch base {
    case .undefined: throw undefinedError(base, line: line)
    case .string(let s): return try stringMethod(s, name, args, kwargs, line: line)
    case .object(let o):
      switch name {
      case "items": return .array(o.pairs.map { .array([.string($0.key), $0.value]) })
      case "keys": return .array(o.keys.map { .string($0) })
      case "values": return .array(o.pairs.map(\.value))
      case "get":
        guard case .string(let k)? = args.first else { throw .runtime(line: line, message: "get() needs a string key") }
        return o[k] ?? (args.count > 1 ? args[1] : .none)
      default: break
      }
    default: break
    }
    throw .runtime(line: line, message: "'\(base.typeName) object' has no method '\(name)'")
  }

  private static func stringMethod(_ s: String, _ name: String, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)], line: Int) throws(JinjaError) -> JinjaValue {
    func text(_ i: Int, _ key: String) throws(JinjaError) -> String? { try stringArgument(args, kwargs, i, key, of: name, line: line) }
    switch name {
    case "startswith", "endswith":
      let candidates: [JinjaValue]
      switch args.first {
      case .string?: candidates = [args[0]]
      case .array(let a)?: candidates = a
      default: throw .runtime(line: line, message: "\(name) needs a string or a tuple of strings")
      }
      return .bool(candidates.contains { c in
        guard case .string(let p) = c else { return false }
        return name == "startswith" ? PythonString.hasPrefix(s, p) : PythonString.hasSuffix(s, p)
      })
    case "strip", "lstrip", "rstrip":
      return .string(PythonString.strip(s, chars: try text(0, "chars"), leading: name != "rstrip", trailing: name != "lstrip"))
    case "split":
      let separator = try text(0, "sep")
      if separator == "" { throw .runtime(line: line, message: "split(): empty separator") }
      let maxSplit = argument(args, kwargs, 1, "maxsplit")?.integer ?? -1
      return .array(PythonString.split(s, separator: separator, maxSplit: maxSplit).map { .string($0) })
    case "lower": return .string(s.lowercased())
    case "upper": return .string(s.uppercased())
    case "title": return .string(PythonString.title(s))
    case "capitalize": return .string(PythonString.capitalize(s))
    case "replace":
      guard let old = try text(0, "old"), let new = try text(1, "new") else { throw .runtime(line: line, message: "replace() needs two strings") }
      return .string(PythonString.replace(s, old, new, count: argument(args, kwargs, 2, "count")?.integer ?? -1))
    case "find":
      guard let sub = try text(0, "sub") else { throw .runtime(line: line, message: "find() needs a string") }
      return .int(PythonString.find(s, sub))
    case "count":
      guard let sub = try text(0, "sub") else { throw .runtime(line: line, message: "count() needs a string") }
      return .int(PythonString.count(s, sub))
    case "join":
      guard let items = args.first else { throw .runtime(line: line, message: "join() needs an iterable") }
      return .string(try iterate(items, line: line).map(\.text).joined(separator: s))
    default:
      throw .runtime(line: line, message: "'str object' has no method '\(name)'")
    }
  }
}
