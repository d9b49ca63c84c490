import ArgumentParser
import Foundation
import Jinja

/// `--chat-variable NAME=VALUE` flags as chat-template variables: VALUE is JSON when it parses
/// (`false`, `3`, `"text"`, `[...]`), else the text itself.
enum ChatVariables {
  static func parse(_ flags: [String]) throws -> [String: JinjaValue] {
    var variables: [String: JinjaValue] = [:]
    for flag in flags {
      guard let eq = flag.firstIndex(of: "="), eq != flag.startIndex else {
        throw ValidationError("--chat-variable '\(flag)': expected NAME=VALUE")
      }
      let name = String(flag[..<eq]), text = String(flag[flag.index(after: eq)...])
      guard name.first.map({ $0.isLetter || $0 == "_" }) == true, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
        throw ValidationError("--chat-variable '\(flag)': '\(name)' is not a template variable name")
      }
      variables[name] = (try? JinjaJSONReader.read(text)) ?? .string(text)
    }
    return variables
  }
}
