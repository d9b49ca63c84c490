/// Why a template could not be parsed or rendered. Lines count from 1 in the template source.
public enum JinjaError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The source is not a template this interpreter reads (a syntax error or an unsupported tag).
  case syntax(line: Int, message: String)
  /// Rendering failed: an undefined name used as a value, a type error, an unknown filter.
  case runtime(line: Int, message: String)
  /// The template itself called `raise_exception(message)` (as chat templates do on bad input).
  case raised(line: Int, message: String)

  public var description: String {
    switch self {
    case let .syntax(line, message): return "template line \(line): \(message)"
    case let .runtime(line, message): return "template line \(line): \(message)"
    case let .raised(line, message): return "the template raised an error (line \(line)): \(message)"
    }
  }
}
