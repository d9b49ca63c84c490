/// A value inside a Jinja template, with the Python semantics that jinja2 (which transformers uses
/// to render chat templates) gives it: truthiness, `==`, `str()` and `repr()`.
public enum JinjaValue: Sendable, Equatable {
  /// A name or key that does not exist (jinja2's `Undefined`): renders as "", is false, iterates
  /// as nothing; most other uses are errors. The associated text says what was looked up.
  case undefined(String)
  case none
  case bool(Bool)
  case int(Int)
  case double(Double)
  case string(String)
  case array([JinjaValue])
  case object(JinjaObject)
  /// A `namespace(...)`: the one mutable value (`{% set ns.key = ... %}`), shared by reference.
  case namespace(JinjaNamespace)

  /// Python's truth value.
  public var isTruthy: Bool {
    switch self {
    case .undefined, .none: return false
    case .bool(let b): return b
    case .int(let i): return i != 0
    case .double(let d): return d != 0
    case .string(let s): return !s.isEmpty
    case .array(let a): return !a.isEmpty
    case .object(let o): return !o.isEmpty
    case .namespace: return true
    }
  }

  public var isUndefined: Bool { if case .undefined = self { return true } else { return false } }

  /// Python's `type(x).__name__`, for error messages.
  public var typeName: String {
    switch self {
    case .undefined: return "undefined"
    case .none: return "NoneType"
    case .bool: return "bool"
    case .int: return "int"
    case .double: return "float"
    case .string: return "str"
    case .array: return "list"
    case .object: return "dict"
    case .namespace: return "Namespace"
    }
  }

  /// A number as a Double (bool counts as 0/1, as in Python), nil for other values.
  var number: Double? {
    switch self {
    case .bool(let b): return b ? 1 : 0
    case .int(let i): return Double(i)
    case .double(let d): return d
    default: return nil
    }
  }

  /// An integer (bool counts as 0/1), nil for other values.
  public var integer: Int? {
    switch self {
    case .bool(let b): return b ? 1 : 0
    case .int(let i): return i
    default: return nil
    }
  }

  /// Python's `str(x)`; jinja2 renders `{{ x }}` with it (an undefined value renders as "").
  public var text: String {
    switch self {
    case .undefined: return ""
    case .string(let s): return s
    default: return repr
    }
  }

  /// Python's `repr(x)`.
  public var repr: String {
    switch self {
    case .undefined: return ""
    case .none: return "None"
    case .bool(let b): return b ? "True" : "False"
    case .int(let i): return String(i)
    case .double(let d): return Self.pythonFloat(d)
    case .string(let s): return Self.pythonRepr(s)
    case .array(let a): return "[" + a.map(\.repr).joined(separator: ", ") + "]"
    case .object(let o): return "{" + o.pairs.map { Self.pythonRepr($0.key) + ": " + $0.value.repr }.joined(separator: ", ") + "}"
    case .namespace(let n): return "<Namespace " + n.object.pairs.map { "\($0.key)=\($0.value.repr)" }.joined(separator: ", ") + ">"
    }
  }

  /// Python's float repr: shortest round-trip digits, always with a decimal point or exponent.
  static func pythonFloat(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    // Swift writes 1e+16 and 1e-05 as Python does; only an integral value lacks the ".0".
    let s = "\(d)"
    return s.contains(".") || s.contains("e") ? s : s + ".0"
  }

  /// Python's `repr` of a string: single quotes unless the text has a single quote and no double.
  static func pythonRepr(_ s: String) -> String {
    let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
    var out = String(quote)
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if Character(scalar) == quote {
          out += "\\" + String(quote)
        } else if scalar.value < 0x20 || scalar.value == 0x7F {
          out += "\\x" + String(format2Hex: scalar.value)
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    out.append(quote)
    return out
  }

  /// Python's `==`: numbers compare by value (True == 1), containers element-wise.
  public static func == (a: JinjaValue, b: JinjaValue) -> Bool {
    switch (a, b) {
    case (.undefined, .undefined), (.none, .none): return true
    case let (.string(x), .string(y)): return x == y
    case let (.array(x), .array(y)): return x == y
    case let (.object(x), .object(y)): return x == y
    case let (.namespace(x), .namespace(y)): return x === y
    default:
      if let x = a.number, let y = b.number { return x == y }
      return false
    }
  }
}

extension String {
  /// Two lower-case hex digits of a byte value.
  init(format2Hex value: UInt32) {
    let digits = Array("0123456789abcdef")
    self = String([digits[Int(value >> 4 & 0xF)], digits[Int(value & 0xF)]])
  }
}

