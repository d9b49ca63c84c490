/// An expression of the template language (the subset chat templates use).
indirect enum JinjaExpr: Sendable {
  case literal(JinjaValue)
  case name(String)
  case list([JinjaExpr])
  case dict([(JinjaExpr, JinjaExpr)])
  /// `a.b`
  case attribute(JinjaExpr, String)
  /// `a[b]`
  case item(JinjaExpr, JinjaExpr)
  /// `a[start:stop:step]`
  case slice(JinjaExpr, JinjaExpr?, JinjaExpr?, JinjaExpr?)
  /// `f(args, key=value)`; a method when `f` is an attribute.
  case call(JinjaExpr, [JinjaExpr], [(String, JinjaExpr)])
  /// `a | name(args)`
  case filter(JinjaExpr, String, [JinjaExpr], [(String, JinjaExpr)])
  /// `a is [not] name(args)`
  case test(JinjaExpr, String, [JinjaExpr], negated: Bool)
  /// `not a`, `-a`, `+a`
  case unary(String, JinjaExpr)
  /// Arithmetic, comparison, `~`, `in`, `not in`, `and`, `or`.
  case binary(String, JinjaExpr, JinjaExpr)
  /// `a if condition else b` (`else` optional: undefined then).
  case conditional(JinjaExpr, JinjaExpr, JinjaExpr?)
}

/// A statement of the template, with the source line for error messages.
indirect enum JinjaNode: Sendable {
  case text(String)
  case output(JinjaExpr, line: Int)
  /// `if`/`elif` branches in order, then the `else` body.
  case conditional([(JinjaExpr, [JinjaNode])], [JinjaNode], line: Int)
  /// `for targets in iterable [if filter]` ... `else` ... `endfor`
  case loop(targets: [String], iterable: JinjaExpr, filter: JinjaExpr?, body: [JinjaNode], otherwise: [JinjaNode], line: Int)
  /// `set name = value` or `set ns.attribute = value`
  case assign(name: String, attribute: String?, JinjaExpr, line: Int)
  /// `{% generation %}` ... `{% endgeneration %}` (transformers' tag marking assistant text): its
  /// body renders as is.
  case block([JinjaNode])
  case breakLoop
  case continueLoop
}
