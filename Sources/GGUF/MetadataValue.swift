/// A GGUF metadata value (all 13 value types of the format).
public enum MetadataValue: Sendable, Equatable, CustomStringConvertible {
  case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
  case float32(Float), bool(Bool), string(String)
  indirect case array([MetadataValue])
  case uint64(UInt64), int64(Int64), float64(Double)

  /// Wire type ids from the GGUF specification.
  public enum Kind: UInt32, Sendable {
    case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64

    /// Smallest encoded size, used to bound array lengths before allocating.
    var minimumBytes: Int {
      switch self {
      case .uint8, .int8, .bool: return 1
      case .uint16, .int16: return 2
      case .uint32, .int32, .float32: return 4
      case .uint64, .int64, .float64, .string: return 8
      case .array: return 12
      }
    }
  }

  public var typeName: String {
    switch self {
    case .uint8: return "uint8"
    case .int8: return "int8"
    case .uint16: return "uint16"
    case .int16: return "int16"
    case .uint32: return "uint32"
    case .int32: return "int32"
    case .float32: return "float32"
    case .bool: return "bool"
    case .string: return "string"
    case .array: return "array"
    case .uint64: return "uint64"
    case .int64: return "int64"
    case .float64: return "float64"
    }
  }

  /// Integer value of any integer type (nil otherwise or when out of range).
  public var int: Int? {
    switch self {
    case let .uint8(v): return Int(v)
    case let .int8(v): return Int(v)
    case let .uint16(v): return Int(v)
    case let .int16(v): return Int(v)
    case let .uint32(v): return Int(v)
    case let .int32(v): return Int(v)
    case let .uint64(v): return v <= UInt64(Int.max) ? Int(v) : nil
    case let .int64(v): return Int(v)
    default: return nil
    }
  }

  /// Floating value of any numeric type.
  public var double: Double? {
    switch self {
    case let .float32(v): return Double(v)
    case let .float64(v): return v
    default: return int.map(Double.init)
    }
  }

  public var string: String? { if case let .string(s) = self { return s } else { return nil } }
  public var bool: Bool? { if case let .bool(b) = self { return b } else { return nil } }
  public var array: [MetadataValue]? { if case let .array(a) = self { return a } else { return nil } }

  public var description: String {
    switch self {
    case let .string(s): return s.count > 80 ? "\"\(s.prefix(77))...\"" : "\"\(s)\""
    case let .array(a):
      let head = a.prefix(4).map(\.description).joined(separator: ", ")
      return a.count > 4 ? "[\(head), ... (\(a.count) items)]" : "[\(head)]"
    case let .bool(b): return String(b)
    case let .float32(v): return String(v)
    case let .float64(v): return String(v)
    default: return String(int ?? 0)
    }
  }
}
