/// Parses the tokens of one tag into an expression, with jinja2's precedence (loosest first):
/// `x if c else y`, `or`, `and`, `not`, comparisons and `in`, `+ -`, `~`, `* / // %`, `**`,
/// unary `- +`, then postfix `.a [i] [a:b] (args)` and the filters and tests `| f`, `is t`.
struct JinjaExpressionParser {
  private let tokens: [JinjaToken]
  private var index = 0
  private let line: Int

  init(tokens: [JinjaToken], line: Int) { self.tokens = tokens; self.line = line }

  private var current: JinjaToken.Kind? { index < tokens.count ? tokens[index].kind : nil }
  private var currentLine: Int { index < tokens.count ? tokens[index].line : (tokens.last?.line ?? line) }

  private func error(_ message: String) -> JinjaError { .syntax(line: currentLine, message: message) }

  mutating func accept(op: String) -> Bool {
    if current == .op(op) { index += 1; return true }
    return false
  }

  mutating func accept(name: String) -> Bool {
    if current == .name(name) { index += 1; return true }
    return false
  }

  mutating func expect(op: String) throws(JinjaError) {
    guard accept(op: op) else { throw error("expected '\(op)'\(describeCurrent)") }
  }

  mutating func expect(name: String) throws(JinjaError) {
    guard accept(name: name) else { throw error("expected '\(name)'\(describeCurrent)") }
  }

  mutating func expectName() throws(JinjaError) -> String {
    guard case .name(let n)? = current else { throw error("expected a name\(describeCurrent)") }
    index += 1
    return n
  }

  mutating func expectEnd() throws(JinjaError) {
    guard current == nil else { throw error("unexpected\(describeCurrent)") }
  }

  private var describeCurrent: String {
    switch current {
    case nil: return " at the end of the tag"
    case .name(let n)?: return ", found '\(n)'"
    case .op(let o)?: return ", found '\(o)'"
    case .string(let s)?: return ", found the string '\(s)'"
    case .int(let i)?: return ", found \(i)"
    case .double(let d)?: return ", found \(d)"
    }
  }

  /// `tokens` (a whole tag) as one expression.
  static func parse(_ tokens: [JinjaToken], line: Int) throws(JinjaError) -> JinjaExpr {
    var p = JinjaExpressionParser(tokens: tokens, line: line)
    return try p.parseAll()
  }

  /// The whole tag as one expression.
  mutating func parseAll() throws(JinjaError) -> JinjaExpr {
    let e = try parseExpression(conditional: true)
    try expectEnd()
    return e
  }

  mutating func parseExpression(conditional: Bool) throws(JinjaError) -> JinjaExpr {
    let value = try parseOr()
    guard conditional, accept(name: "if") else { return value }
    let condition = try parseOr()
    let otherwise = accept(name: "else") ? try parseExpression(conditional: true) : nil
    return .conditional(value, condition, otherwise)
  }

  private mutating func parseOr() throws(JinjaError) -> JinjaExpr {
    var left = try parseAnd()
    while accept(name: "or") { left = .binary("or", left, try parseAnd()) }
    return left
  }

  private mutating func parseAnd() throws(JinjaError) -> JinjaExpr {
    var left = try parseNot()
    while accept(name: "and") { left = .binary("and", left, try parseNot()) }
    return left
  }

  private mutating func parseNot() throws(JinjaError) -> JinjaExpr {
    if accept(name: "not") { return .unary("not", try parseNot()) }
    return try parseCompare()
  }

  private mutating func parseCompare() throws(JinjaError) -> JinjaExpr {
    var left = try parseMath1()
    while true {
      if case .op(let o)? = current, ["==", "!=", "<", ">", "<=", ">="].contains(o) {
        index += 1
        left = .binary(o, left, try parseMath1())
      } else if accept(name: "in") {
        left = .binary("in", left, try parseMath1())
      } else if current == .name("not"), index + 1 < tokens.count, tokens[index + 1].kind == .name("in") {
        index += 2
        left = .binary("not in", left, try parseMath1())
      } else {
        return left
      }
    }
  }

  private mutating func parseBinary(_ ops: [String], next: (inout JinjaExpressionParser) throws(JinjaError) -> JinjaExpr) throws(JinjaError) -> JinjaExpr {
    var left = try next(&self)
    while case .op(let o)? = current, ops.contains(o) {
      index += 1
      left = .binary(o, left, try next(&self))
    }
    return left
  }

  private mutating func parseMath1() throws(JinjaError) -> JinjaExpr { try parseBinary(["+", "-"]) { (p) throws(JinjaError) in try p.parseConcat() } }
  private mutating func parseConcat() throws(JinjaError) -> JinjaExpr { try parseBinary(["~"]) { (p) throws(JinjaError) in try p.parseMath2() } }
  private mutating func parseMath2() throws(JinjaError) -> JinjaExpr { try parseBinary(["*", "/", "//", "%"]) { (p) throws(JinjaError) in try p.parsePow() } }
  private mutating func parsePow() throws(JinjaError) -> JinjaExpr { try parseBinary(["**"]) { (p) throws(JinjaError) in try p.parseUnary(withFilter: true) } }

  private mutating func parseUnary(withFilter: Bool) throws(JinjaError) -> JinjaExpr {
    var node: JinjaExpr
    if accept(op: "-") {
      node = .unary("-", try parseUnary(withFilter: false))
    } else if accept(op: "+") {
      node = .unary("+", try parseUnary(withFilter: false))
    } else {
      node = try parsePrimary()
    }
    node = try parsePostfix(node)
    return withFilter ? try parseFilters(node) : node
  }

  private mutating func parsePrimary() throws(JinjaError) -> JinjaExpr {
    guard let token = current else { throw error("expected a value at the end of the tag") }
    index += 1
    switch token {
    case .name(let n):
      switch n {
      case "true", "True": return .literal(.bool(true))
      case "false", "False": return .literal(.bool(false))
      case "none", "None": return .literal(.none)
      default: return .name(n)
      }
    case .string(var s):
      // Adjacent literals concatenate, as in Python.
      while case .string(let more)? = current { s += more; index += 1 }
      return .literal(.string(s))
    case .int(let i): return .literal(.int(i))
    case .double(let d): return .literal(.double(d))
    case .op("("):
      if accept(op: ")") { return .list([]) }
      let first = try parseExpression(conditional: true)
      if accept(op: ")") { return first }
      var items = [first]
      while accept(op: ",") {
        if current == .op(")") { break }
        items.append(try parseExpression(conditional: true))
      }
      try expect(op: ")")
      return .list(items)
    case .op("["):
      var items: [JinjaExpr] = []
      while !accept(op: "]") {
        if !items.isEmpty { try expect(op: ","); if accept(op: "]") { break } }
        items.append(try parseExpression(conditional: true))
      }
      return .list(items)
    case .op("{"):
      var pairs: [(JinjaExpr, JinjaExpr)] = []
      while !accept(op: "}") {
        if !pairs.isEmpty { try expect(op: ","); if accept(op: "}") { break } }
        let key = try parseExpression(conditional: true)
        try expect(op: ":")
        pairs.append((key, try parseExpression(conditional: true)))
      }
      return .dict(pairs)
    default:
      index -= 1
      throw error("expected a value\(describeCurrent)")
    }
  }

  private mutating func parsePostfix(_ base: JinjaExpr) throws(JinjaError) -> JinjaExpr {
    var node = base
    while true {
      if accept(op: ".") {
        switch current {
        case .name(let n)?: index += 1; node = .attribute(node, n)
        case .int(let i)?: index += 1; node = .item(node, .literal(.int(i)))
        default: throw error("expected an attribute name after '.'\(describeCurrent)")
        }
      } else if accept(op: "[") {
        node = try parseSubscript(node)
      } else if current == .op("(") {
        index += 1
        let (args, kwargs) = try parseArguments()
        node = .call(node, args, kwargs)
      } else {
        return node
      }
    }
  }

  /// After `[`: an index or a slice `[a:b:c]` (each part optional).
  private mutating func parseSubscript(_ base: JinjaExpr) throws(JinjaError) -> JinjaExpr {
    var parts: [JinjaExpr?] = [nil]
    var sawColon = false
    while !accept(op: "]") {
      if accept(op: ":") {
        sawColon = true
        parts.append(nil)
        guard parts.count <= 3 else { throw error("a slice has at most three parts") }
      } else {
        guard parts[parts.count - 1] == nil else { throw error("expected ':' or ']'\(describeCurrent)") }
        parts[parts.count - 1] = try parseExpression(conditional: true)
      }
    }
    if !sawColon {
      guard let index = parts[0] else { throw error("an empty subscript") }
      return .item(base, index)
    }
    while parts.count < 3 { parts.append(nil) }
    return .slice(base, parts[0], parts[1], parts[2])
  }

  /// After `(`: positional arguments, then `name=value` ones, up to `)`.
  private mutating func parseArguments() throws(JinjaError) -> ([JinjaExpr], [(String, JinjaExpr)]) {
    var args: [JinjaExpr] = []
    var kwargs: [(String, JinjaExpr)] = []
    while !accept(op: ")") {
      if !(args.isEmpty && kwargs.isEmpty) { try expect(op: ","); if accept(op: ")") { break } }
      if case .name(let n)? = current, index + 1 < tokens.count, tokens[index + 1].kind == .op("=") {
        index += 2
        kwargs.append((n, try parseExpression(conditional: true)))
      } else {
        guard kwargs.isEmpty else { throw error("a positional argument after a keyword argument") }
        args.append(try parseExpression(conditional: true))
      }
    }
    return (args, kwargs)
  }

  private mutating func parseFilters(_ base: JinjaExpr) throws(JinjaError) -> JinjaExpr {
    var node = base
    while true {
      if accept(op: "|") {
        let name = try expectName()
        var args: [JinjaExpr] = [], kwargs: [(String, JinjaExpr)] = []
        if accept(op: "(") { (args, kwargs) = try parseArguments() }
        node = .filter(node, name, args, kwargs)
      } else if accept(name: "is") {
        let negated = accept(name: "not")
        let name = try expectName()
        var args: [JinjaExpr] = []
        if accept(op: "(") {
          args = try parseArguments().0
        } else if startsBareTestArgument {
          args = [try parsePostfix(try parsePrimary())]
        }
        node = .test(node, name, args, negated: negated)
      } else {
        return node
      }
    }
  }

  /// jinja2 lets a test take one argument without parentheses (`x is equalto 'y'`, `x is sameas none`).
  private var startsBareTestArgument: Bool {
    switch current {
    case .string?, .int?, .double?, .op("[")?, .op("{")?: return true
    case .name(let n)?: return !["else", "or", "and", "if", "in", "not", "is"].contains(n)
    default: return false
    }
  }
}
