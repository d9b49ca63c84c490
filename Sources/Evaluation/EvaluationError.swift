/// Nothing could be evaluated.
public enum EvaluationError: Error, Equatable, CustomStringConvertible, Sendable {
  case emptyInput(String)

  public var description: String {
    switch self {
    case let .emptyInput(s): return "nothing to evaluate: \(s)"
    }
  }
}
