import Checkpoint
import FileIO
import Foundation

/// Everything a grid cell's result depends on: its settings (attack, defense, training, seed,
/// dataset, model name, result format), flattened to key paths, and the content hashes of the
/// files it reads (the dataset files, the model). Stored as `cells/<key>/fingerprint.json` when a
/// cell starts; a finished or interrupted cell is reused only while its fingerprint matches the
/// experiment file and the files as they are now.
public struct CellFingerprint: Codable, Equatable, Sendable {
  /// The version of the result format; a change re-runs every cell.
  public static let formatVersion = 1

  public var format: Int
  /// "training.epochs" -> "3", "attack.rate" -> "0.1", …
  public var settings: [String: String]
  /// "model" -> sha256, "data:train.tsv" -> sha256, …
  public var files: [String: String]
  /// The top-level setting groups this fingerprint vouches for (an older result file records only
  /// some of them).
  public var components: [String]

  public init(settings components: [(String, any Encodable)], files: [String: String], format: Int = formatVersion) throws {
    self.format = format
    self.files = files
    self.components = components.map(\.0).sorted()
    var flat: [String: String] = [:]
    for (name, value) in components { Self.flatten(try Self.jsonObject(value), prefix: name, into: &flat) }
    settings = flat
  }

  /// What differs from `stored` (the fingerprint a finished cell was run with), as readable lines
  /// "training.epochs: 2 -> 5"; empty when the cell may be reused.
  public func changes(from stored: CellFingerprint) -> [String] {
    var out: [String] = []
    if stored.format != format { out.append("result format: \(stored.format) -> \(format)") }
    let checked = Set(stored.components)
    func group(_ key: String) -> String { String(key.split(separator: ".", maxSplits: 1).first ?? "") }
    for key in Set(settings.keys).union(stored.settings.keys).sorted() where checked.contains(group(key)) && settings[key] != stored.settings[key] {
      out.append("\(key): \(stored.settings[key] ?? "(unset)") -> \(settings[key] ?? "(unset)")")
    }
    // A group the stored fingerprint does not vouch for (added to fingerprints later) counts as
    // the value every earlier cell ran with; any other value is a change.
    let defaults = Self.lateGroupDefaults
    for name in Set(components).subtracting(checked).sorted() {
      let now = settings.filter { group($0.key) == name }
      if now != defaults[name] {
        let text = now.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let then = Self.lateGroupNotes[name] ?? (defaults[name] == nil ? "no default" : "then always the default")
        out.append("\(name): not recorded when the cell ran (\(then)) -> \(text.isEmpty ? "(unset)" : text)")
      }
    }
    for key in Set(files.keys).union(stored.files.keys).sorted() where files[key] != stored.files[key] {
      out.append("\(key): content changed (sha256 \(stored.files[key]?.prefix(12) ?? "none") -> \(files[key]?.prefix(12) ?? "none"))")
    }
    return out
  }

  /// The setting groups added to fingerprints after they were introduced, flattened as they were
  /// before the group existed: model selection `last`, generation ablation on.
  static var lateGroupDefaults: [String: [String: String]] {
    var out: [String: [String: String]] = [:]
    for (name, value) in [("selection", "last" as any Encodable), ("ablation", true as any Encodable)] {
      var flat: [String: String] = [:]
      if let object = try? jsonObject(value) { flatten(object, prefix: name, into: &flat) }
      out[name] = flat
    }
    return out
  }

  /// Why a late group without a default cannot be assumed, for the stale cell's message.
  static let lateGroupNotes = [
    "rules": "the screens' rules were not versioned then, so its screens, benign rows and flips may be another revision's",
  ]

  static func jsonObject(_ value: any Encodable) throws -> Any {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys]
    enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let data = try enc.encode(value)
    return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
  }

  static func flatten(_ value: Any, prefix: String, into out: inout [String: String]) {
    if let object = value as? [String: Any] {
      for (k, v) in object { flatten(v, prefix: prefix + "." + k, into: &out) }
    } else if let array = value as? [Any] {
      out[prefix] = (try? String(data: JSONSerialization.data(withJSONObject: array, options: [.sortedKeys, .fragmentsAllowed]), encoding: .utf8)) ?? "\(array)"
    } else if value is NSNull {
      // nil and absent are the same setting.
    } else if let n = value as? NSNumber, !(value is Bool) {
      out[prefix] = "\(n)"
    } else {
      out[prefix] = "\(value)"
    }
  }
}

/// Content hashes of input files, computed once per path in a grid run (the model is ~100 MB).
public final class FileHashes: @unchecked Sendable {
  private var cache: [String: String] = [:]
  private let lock = NSLock()

  public init() {}

  /// The model's content hash: its GGUF file's sha256, or for a Hugging Face checkpoint folder the
  /// sha256 of its config, tokenizer and weight files' hashes in order.
  public func modelSHA256(_ path: String) throws -> String {
    guard HFCheckpoint.isCheckpoint(path) else { return try sha256(path) }
    let joined = try HFCheckpoint.files(path).map { try sha256($0) }.joined(separator: "\n")
    return SHA256.hex(Array(joined.utf8))
  }

  /// The sha256 of the file at `path`; an unreadable file throws naming it.
  public func sha256(_ path: String) throws -> String {
    lock.lock(); defer { lock.unlock() }
    if let h = cache[path] { return h }
    guard let h = SHA256.file(path) else { throw ExperimentError.badFile(path: path, reason: "cannot be read to fingerprint it") }
    cache[path] = h
    return h
  }
}
