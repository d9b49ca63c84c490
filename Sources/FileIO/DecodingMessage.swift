import Foundation

/// Decoding errors (JSON and YAML) in the user's terms.
public enum DecodingMessage {
  /// A decoding error in the user's terms: the key path and what was expected, without Swift's
  /// type names and nested contexts.
  public static func reason(_ error: any Error) -> String {
    func keyPath(_ context: DecodingError.Context) -> String {
      let parts = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
      return parts.reduce("") { $0.isEmpty || $1.hasPrefix("[") ? $0 + $1 : $0 + "." + $1 }
    }
    func name(_ type: Any.Type) -> String {
      switch "\(type)" {
      case "Int", "UInt64", "Int32": return "a whole number"
      case "Double", "Float": return "a number"
      case "String": return "text"
      case "Bool": return "true or false"
      case let t where t.hasPrefix("Array"): return "a list [a, b]"
      default: return "a valid value"
      }
    }
    switch error {
    case let DecodingError.typeMismatch(type, ctx): return "'\(keyPath(ctx))' must be \(name(type))"
    case let DecodingError.valueNotFound(type, ctx): return "'\(keyPath(ctx))' is empty, expected \(name(type))"
    case let DecodingError.keyNotFound(key, ctx):
      let at = keyPath(ctx)
      return "missing key '\(key.stringValue)'" + (at.isEmpty ? "" : " in \(at)")
    case let DecodingError.dataCorrupted(ctx):
      let at = keyPath(ctx)
      return (at.isEmpty ? "" : "'\(at)': ") + TextFile.snippet(ctx.debugDescription, limit: 160)
    default: return TextFile.snippet("\(error)", limit: 160)
    }
  }
}
