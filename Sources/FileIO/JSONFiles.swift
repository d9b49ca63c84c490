import Foundation

/// What a folder's `manifest.json` says it holds.
public enum ManifestKind: String, Sendable {
  /// `p2p poison`: a poisoned dataset (either task).
  case poisonedDataset = "poisoned-dataset"
  /// `p2p defend` (and a grid's P2P cell): the P2P-reconstructed training rows of a classifier.
  case classificationDefense = "p2p-classification-rows"
  /// The same for a generation task.
  case generationDefense = "p2p-generation-rows"
}

/// A setting or file the tool was given is not what it expected; names the key or the file.
public enum ExperimentError: Error, CustomStringConvertible, Sendable {
  case invalid(key: String, expected: String)
  case badFile(path: String, reason: String)

  public var description: String {
    switch self {
    case let .invalid(key, expected): return "invalid \(key): expected \(expected)"
    case let .badFile(path, reason): return "\(path): \(reason)"
    }
  }
}

/// Pretty, sorted, atomic JSON files (written to a temporary file, then renamed).
public enum JSONOutput {
  public static func write<T: Encodable>(_ value: T, to path: String) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    try enc.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic)
  }

  public static func read<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
    guard let data = FileManager.default.contents(atPath: path) else { throw ExperimentError.badFile(path: path, reason: "no such file") }
    let dec = JSONDecoder()
    dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    do { return try dec.decode(type, from: data) } catch { throw ExperimentError.badFile(path: path, reason: DecodingMessage.reason(error)) }
  }

  /// A manifest: `value`'s JSON object with a `"kind"` key that names what wrote the folder
  /// (`ManifestKind`), pretty, sorted, atomically. Readers ignore the key.
  public static func writeManifest<T: Encodable>(_ value: T, kind: ManifestKind, to path: String) throws {
    try Data(manifestData(value, kind: kind)).write(to: URL(fileURLWithPath: path), options: .atomic)
  }

  /// The bytes `writeManifest` writes.
  public static func manifestData<T: Encodable>(_ value: T, kind: ManifestKind) throws -> Data {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try enc.encode(Kinded(kind: kind.rawValue, value: value))
  }

  /// `value`'s keys and `"kind"` in one object.
  struct Kinded<T: Encodable>: Encodable {
    let kind: String
    let value: T
    struct Key: CodingKey {
      var stringValue: String
      var intValue: Int? { nil }
      init(stringValue: String) { self.stringValue = stringValue }
      init?(intValue: Int) { nil }
    }
    func encode(to encoder: any Encoder) throws {
      try value.encode(to: encoder)
      var c = encoder.container(keyedBy: Key.self)
      try c.encode(kind, forKey: Key(stringValue: "kind"))
    }
  }

  /// The `"kind"` of the manifest in `directory`, if it has one.
  public static func manifestKind(in directory: String) -> ManifestKind? {
    guard let data = FileManager.default.contents(atPath: directory + "/manifest.json"),
          let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], let kind = object["kind"] as? String else { return nil }
    return ManifestKind(rawValue: kind)
  }

  /// JSON Lines (one sorted-key object a line), atomically.
  public static func writeLines<T: Encodable>(_ rows: [T], to path: String) throws {
    try linesData(rows).write(to: URL(fileURLWithPath: path), options: .atomic)
  }

  /// The bytes of `rows` as JSON Lines, one sorted-key object a line: the one JSON Lines format
  /// every file of the tool is written in.
  public static func linesData<T: Encodable>(_ rows: [T]) throws -> Data {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var d = Data()
    for r in rows { d.append(try enc.encode(r)); d.append(0x0A) }
    return d
  }

  /// Reads JSON Lines; an unreadable line is reported as `path:line` with `expected`.
  public static func readLines<T: Decodable>(_ type: T.Type, from path: String, expected: String) throws -> [T] {
    let text: String
    do { text = try TextFile.read(path) } catch { throw ExperimentError.badFile(path: path, reason: "\(error)") }
    var rows: [T] = []
    for (number, line) in JSONLinesText.rows(text) {
      do { rows.append(try JSONDecoder().decode(T.self, from: Data(line.utf8))) } catch {
        throw ExperimentError.badFile(path: "\(path):\(number)", reason: "not \(expected): \(DecodingMessage.reason(error))")
      }
    }
    guard !rows.isEmpty else { throw ExperimentError.badFile(path: path, reason: "no rows") }
    return rows
  }

  /// Text files, atomically.
  public static func write(text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
  }
}
