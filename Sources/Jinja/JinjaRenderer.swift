/// Walks the statement tree against a set of variables and writes the output. Scoping follows
/// jinja2: a `for` loop has its own scope (a `set` inside it does not reach the code after it, which
/// is what `namespace` is for); `if` has none.
struct JinjaRenderer {
  enum Flow { case normal, breakLoop, continueLoop }

  private var frames: [[String: JinjaValue]]
  let clock: JinjaClock
  private(set) var output = ""

  init(variables: [String: JinjaValue], clock: JinjaClock) {
    frames = [variables]
    self.clock = clock
  }

  func lookup(_ name: String) -> JinjaValue {
    for frame in frames.reversed() { if let v = frame[name] { return v } }
    return .undefined("'\(name)' is undefined")
  }

  @discardableResult
  mutating func render(_ nodes: [JinjaNode]) throws(JinjaError) -> Flow {
    for node in nodes {
      switch node {
      case .text(let t): output += t
      case let .output(e, line): output += try evaluate(e, line: line).text
      case let .conditional(branches, otherwise, line):
        var chosen = otherwise
        for (condition, body) in branches where try evaluate(condition, line: line).isTruthy { chosen = body; break }
        let flow = try render(chosen)
        if flow != .normal { return flow }
      case let .loop(targets, iterable, filter, body, otherwise, line):
        try renderLoop(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise, line: line)
      case let .assign(name, attribute, e, line):
        let value = try evaluate(e, line: line)
        if let attribute {
          guard case .namespace(let ns) = lookup(name) else {
            throw .runtime(line: line, message: "cannot assign the attribute '\(attribute)' of '\(name)', which is not a namespace")
          }
          ns.object[attribute] = value
        } else {
          frames[frames.count - 1][name] = value
        }
      case .block(let body):
        let flow = try render(body)
        if flow != .normal { return flow }
      case .breakLoop: return .breakLoop
      case .continueLoop: return .continueLoop
      }
    }
    return .normal
  }

  private mutating func bind(_ targets: [String], to item: JinjaValue, line: Int) throws(JinjaError) {
    if targets.count == 1 { frames[frames.count - 1][targets[0]] = item; return }
    let parts = try JinjaBuiltins.iterate(item, line: line)
    guard parts.count == targets.count else {
      throw .runtime(line: line, message: "cannot unpack \(parts.count) values into \(targets.count) loop variables")
    }
    for (t, v) in zip(targets, parts) { frames[frames.count - 1][t] = v }
  }

  private mutating func renderLoop(targets: [String], iterable: JinjaExpr, filter: JinjaExpr?, body: [JinjaNode],
                                   otherwise: [JinjaNode], line: Int) throws(JinjaError) {
    var items = try JinjaBuiltins.iterate(try evaluate(iterable, line: line), line: line)
    // (An error abandons the renderer, so the frame is not popped on that path.)
    frames.append([:])
    if let filter {
      var kept: [JinjaValue] = []
      for item in items {
        try bind(targets, to: item, line: line)
        if try evaluate(filter, line: line).isTruthy { kept.append(item) }
      }
      items = kept
    }
    for (i, item) in items.enumerated() {
      // Each iteration starts from a fresh scope: a `set` in the body does not carry over.
      frames[frames.count - 1] = [:]
      try bind(targets, to: item, line: line)
      let n = items.count
      frames[frames.count - 1]["loop"] = .object(JinjaObject([
        ("index", .int(i + 1)), ("index0", .int(i)), ("revindex", .int(n - i)), ("revindex0", .int(n - i - 1)),
        ("first", .bool(i == 0)), ("last", .bool(i == n - 1)), ("length", .int(n)),
        ("previtem", i > 0 ? items[i - 1] : .undefined("there is no previous item")),
        ("nextitem", i + 1 < n ? items[i + 1] : .undefined("there is no next item")),
        ("depth", .int(1)), ("depth0", .int(0)),
      ]))
      if try render(body) == .breakLoop { break }
    }
    frames.removeLast()
    if items.isEmpty { try render(otherwise) }
  }

  // MARK: expressions

  mutating func evaluate(_ e: JinjaExpr, line: Int) throws(JinjaError) -> JinjaValue {
    switch e {
    case .literal(let v): return v
    case .name(let n): return lookup(n)
    case .list(let items):
      var values: [JinjaValue] = []
      for item in items { values.append(try evaluate(item, line: line)) }
      return .array(values)
    case .dict(let pairs):
      var object = JinjaObject()
      for (k, v) in pairs {
        guard case .string(let key) = try evaluate(k, line: line) else { throw .runtime(line: line, message: "dict keys must be strings here") }
        object[key] = try evaluate(v, line: line)
      }
      return .object(object)
    case let .attribute(base, name):
      return try JinjaBuiltins.attribute(try evaluate(base, line: line), name, line: line)
    case let .item(base, index):
      return try JinjaBuiltins.item(try evaluate(base, line: line), try evaluate(index, line: line), line: line)
    case let .slice(base, start, stop, step):
      let value = try evaluate(base, line: line)
      let bounds = try [start, stop, step].map { (part) throws(JinjaError) -> JinjaValue in
        guard let part else { return .none }
        return try evaluate(part, line: line)
      }
      return try JinjaBuiltins.slice(value, bounds[0], bounds[1], bounds[2], line: line)
    case let .call(callee, args, kwargs):
      let a = try evaluateAll(args, line: line)
      let k = try evaluateAll(kwargs, line: line)
      switch callee {
      case .attribute(let base, let method):
        return try JinjaBuiltins.method(try evaluate(base, line: line), method, a, k, line: line)
      case .name(let n) where lookup(n).isUndefined:
        return try JinjaBuiltins.global(n, a, k, clock: clock, line: line)
      default:
        throw .runtime(line: line, message: "this value is not callable")
      }
    case let .filter(base, name, args, kwargs):
      let value = try evaluate(base, line: line)
      return try JinjaBuiltins.filter(name, value, try evaluateAll(args, line: line), try evaluateAll(kwargs, line: line), line: line)
    case let .test(base, name, args, negated):
      let result: Bool
      if name == "defined" || name == "undefined", case .name(let n) = base, JinjaBuiltins.globals.contains(n), lookup(n).isUndefined {
        result = name == "defined"
      } else {
        result = try JinjaBuiltins.test(name, try evaluate(base, line: line), try evaluateAll(args, line: line), line: line)
      }
      return .bool(result != negated)
    case let .unary(op, operand):
      let v = try evaluate(operand, line: line)
      if op == "not" { return .bool(!v.isTruthy) }
      return try JinjaBuiltins.negate(v, minus: op == "-", line: line)
    case let .binary(op, left, right):
      let l = try evaluate(left, line: line)
      switch op {
      case "and": return l.isTruthy ? try evaluate(right, line: line) : l
      case "or": return l.isTruthy ? l : try evaluate(right, line: line)
      default: return try JinjaBuiltins.binary(op, l, try evaluate(right, line: line), line: line)
      }
    case let .conditional(value, condition, otherwise):
      if try evaluate(condition, line: line).isTruthy { return try evaluate(value, line: line) }
      guard let otherwise else { return .undefined("the conditional expression has no else") }
      return try evaluate(otherwise, line: line)
    }
  }

  private mutating func evaluateAll(_ exprs: [JinjaExpr], line: Int) throws(JinjaError) -> [JinjaValue] {
    var values: [JinjaValue] = []
    for e in exprs { values.append(try evaluate(e, line: line)) }
    return values
  }

  private mutating func evaluateAll(_ pairs: [(String, JinjaExpr)], line: Int) throws(JinjaError) -> [(String, JinjaValue)] {
    var values: [(String, JinjaValue)] = []
    for (k, e) in pairs { values.append((k, try evaluate(e, line: line))) }
    return values
  }
}
