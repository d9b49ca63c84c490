/// Builds the statement tree from the lexer's segments. Tags: `if`/`elif`/`else`/`endif`,
/// `for`/`else`/`endfor` (with unpacking and an `if` filter), `set`, `break`, `continue` and
/// transformers' `generation`/`endgeneration`. Others (`macro`, `call`, `block`, `include`, ...) are
/// refused by name.
struct JinjaParser {
  private let segments: [JinjaSegment]
  private var index = 0

  init(segments: [JinjaSegment]) { self.segments = segments }

  mutating func parse() throws(JinjaError) -> [JinjaNode] {
    let (nodes, end) = try parseBody(until: [])
    if let end { throw .syntax(line: end.line, message: "unexpected '\(end.tag)'") }
    return nodes
  }

  /// The nodes up to one of the `until` tags; returns that tag (nil at the end of the source).
  private mutating func parseBody(until: Set<String>) throws(JinjaError) -> ([JinjaNode], (tag: String, tokens: [JinjaToken], line: Int)?) {
    var nodes: [JinjaNode] = []
    while index < segments.count {
      let segment = segments[index]
      index += 1
      switch segment.kind {
      case .text(let t): nodes.append(.text(t))
      case .output(let tokens):
        nodes.append(.output(try JinjaExpressionParser.parse(tokens, line: segment.line), line: segment.line))
      case .statement(let tokens):
        guard case .name(let tag)? = tokens.first?.kind else { throw .syntax(line: segment.line, message: "a tag without a name") }
        let rest = Array(tokens.dropFirst())
        if until.contains(tag) { return (nodes, (tag, rest, segment.line)) }
        nodes.append(try statement(tag, rest, line: segment.line))
      }
    }
    if !until.isEmpty {
      let names = until.sorted().map { "'\($0)'" }.joined(separator: " or ")
      throw .syntax(line: segments.last?.line ?? 1, message: "the template ends before \(names)")
    }
    return (nodes, nil)
  }

  private mutating func statement(_ tag: String, _ tokens: [JinjaToken], line: Int) throws(JinjaError) -> JinjaNode {
    switch tag {
    case "if":
      var branches: [(JinjaExpr, [JinjaNode])] = []
      var condition = try JinjaExpressionParser.parse(tokens, line: line)
      while true {
        let (body, end) = try parseBody(until: ["elif", "else", "endif"])
        branches.append((condition, body))
        // parseBody throws at the end of the source, so `end` is one of the three tags.
        guard let end, end.tag != "endif" else { return .conditional(branches, [], line: line) }
        if end.tag == "else" { return .conditional(branches, try parseBody(until: ["endif"]).0, line: line) }
        condition = try JinjaExpressionParser.parse(end.tokens, line: end.line)
      }
    case "for":
      var p = JinjaExpressionParser(tokens: tokens, line: line)
      var targets = [try p.expectName()]
      while p.accept(op: ",") { targets.append(try p.expectName()) }
      try p.expect(name: "in")
      let iterable = try p.parseExpression(conditional: false)
      var filter: JinjaExpr? = nil
      if p.accept(name: "if") { filter = try p.parseExpression(conditional: false) }
      if p.accept(name: "recursive") { throw .syntax(line: line, message: "recursive loops are not supported") }
      try p.expectEnd()
      let (body, end) = try parseBody(until: ["else", "endfor"])
      var otherwise: [JinjaNode] = []
      if end?.tag == "else" { (otherwise, _) = try parseBody(until: ["endfor"]) }
      return .loop(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise, line: line)
    case "set":
      var p = JinjaExpressionParser(tokens: tokens, line: line)
      let name = try p.expectName()
      var attribute: String? = nil
      if p.accept(op: ".") { attribute = try p.expectName() }
      guard p.accept(op: "=") else { throw .syntax(line: line, message: "block assignments ({% set x %}...{% endset %}) are not supported") }
      let value = try p.parseAll()
      return .assign(name: name, attribute: attribute, value, line: line)
    case "generation":
      guard tokens.isEmpty else { throw .syntax(line: line, message: "'generation' takes no arguments") }
      let (body, _) = try parseBody(until: ["endgeneration"])
      return .block(body)
    case "break", "continue":
      guard tokens.isEmpty else { throw .syntax(line: line, message: "'\(tag)' takes no arguments") }
      return tag == "break" ? .breakLoop : .continueLoop
    case "elif", "else", "endif", "endfor", "endgeneration":
      throw .syntax(line: line, message: "'\(tag)' without its opening tag")
    default:
      throw .syntax(line: line, message: "the tag '\(tag)' is not supported")
    }
  }
}
