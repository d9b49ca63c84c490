/// A parsed Jinja template, rendered as transformers renders chat templates (jinja2 with
/// `trim_blocks` and `lstrip_blocks`, transformers' `tojson`, `raise_exception` and
/// `strftime_now`). It is the subset of the language that the chat templates of Llama 3, Qwen2.5,
/// Qwen3 and SmolLM2 use; a template outside it fails to parse with the line and the reason, so a
/// prompt is never rendered differently from the reference without saying so.
///
/// Supported: `{{ }}`, `{% if/elif/else %}`, `{% for a[, b] in x [if c] %}` with `loop` and `else`,
/// `{% set x = ... %}`, `{% set ns.x = ... %}`, `{% break %}`, `{% continue %}`,
/// `{% generation %}`, comments, whitespace control; literals, lists and dicts, attributes,
/// subscripts and slices, calls of string and dict methods, Python operators, `x if c else y`,
/// the common filters and tests. A tuple literal `(a, b)` is read as a list (chat templates pass
/// tuples only as arguments, e.g. to `startswith`; printed, it would show brackets, not parentheses).
public struct JinjaTemplate: Sendable {
  public let source: String
  private let nodes: [JinjaNode]

  public init(_ source: String) throws(JinjaError) {
    self.source = source
    var lexer = JinjaLexer(source)
    var parser = JinjaParser(segments: try lexer.segments())
    nodes = try parser.parse()
  }

  /// The output for `variables`; `clock` is what `strftime_now` reads.
  public func render(_ variables: [String: JinjaValue], clock: JinjaClock) throws(JinjaError) -> String {
    var renderer = JinjaRenderer(variables: variables, clock: clock)
    try renderer.render(nodes)
    return renderer.output
  }
}
