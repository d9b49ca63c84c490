/// A dict in a template: string keys in insertion order (as Python dicts keep them, which
/// `tojson`, `items()` and iteration show).
public struct JinjaObject: Sendable, Equatable {
  public private(set) var keys: [String] = []
  private var storage: [String: JinjaValue] = [:]

  public init() {}

  public init(_ pairs: [(String, JinjaValue)]) {
    for (key, value) in pairs { self[key] = value }
  }

  public var isEmpty: Bool { keys.isEmpty }
  public var count: Int { keys.count }

  public subscript(key: String) -> JinjaValue? {
    get { storage[key] }
    set {
      if let newValue {
        if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
      } else if storage.removeValue(forKey: key) != nil {
        keys.removeAll { $0 == key }
      }
    }
  }

  /// The entries in insertion order.
  public var pairs: [(key: String, value: JinjaValue)] { keys.map { ($0, storage[$0]!) } }

  /// Python compares dicts without regard to order.
  public static func == (a: JinjaObject, b: JinjaObject) -> Bool { a.storage == b.storage }
}

/// jinja2's `namespace(...)`: attributes that a `{% set ns.key = value %}` inside a loop can change
/// for the code after the loop. A reference type, as in Python.
public final class JinjaNamespace: @unchecked Sendable {
  // Mutated only by the one render that created it, on one thread.
  var object: JinjaObject

  init(_ object: JinjaObject) { self.object = object }
}
