import FileIO
import Foundation
import Yams

/// The keys a YAML section may hold: its own keys, the sections nested under some of them, and
/// the schema of the mappings listed under others (`attacks: [{...}, ...]`).
struct YAMLKeySchema: Sendable {
  var keys: [String]
  var nested: [String: YAMLKeySchema] = [:]
  var items: [String: YAMLKeySchema] = [:]
}

/// Strict decoding of experiment files: before the `Decodable` pass (which ignores unknown keys),
/// every mapping key is checked against the schema, so a typo like `epoch: 5` or `learning_rate:`
/// is an error naming the key, its line and the closest known key, not a silent default.
enum StrictYAML {
  /// Refuses YAML anchors before any parser sees the text (see `anchorLine`).
  static func refuseAnchors(_ text: String, path: String) throws {
    if let line = anchorLine(text) {
      throw ExperimentError.badFile(path: "\(path):\(line)", reason: "YAML anchors and aliases (&name, *name) are not supported in experiment "
                                    + "files (an alias can expand a small file into billions of nodes); write the values out; an '&' that starts a word is read as an anchor even inside quotes and comments (write 'Q&A', not 'Q &A')")
    }
  }

  static func check(_ text: String, path: String, schema: YAMLKeySchema) throws {
    try refuseAnchors(text, path: path)
    let root: Node?
    do { root = try Yams.compose(yaml: text) } catch let YamlError.duplicatedKeysInMapping(duplicates, _) {
      // Yams names one duplicate's line, picked by an ordering of nodes that is not stable, and
      // quotes the whole file: name the keys only.
      let keys = Set(duplicates).sorted().map { $0 == "<uncovertable>" ? "(a key that is not a string)" : "'\($0)'" }
      throw ExperimentError.badFile(path: path, reason: "not valid YAML: a mapping repeats the key(s) \(keys.joined(separator: ", "))")
    } catch {
      throw ExperimentError.badFile(path: path, reason: "not valid YAML: \(error)")
    }
    guard let root else { throw ExperimentError.badFile(path: path, reason: "empty experiment file") }
    guard root.mapping != nil else {
      throw ExperimentError.badFile(path: "\(path):\(root.mark?.line ?? 1)", reason: "the file must be a mapping of keys (name:, attacks:, …)")
    }
    try check(root, schema: schema, section: "", path: path, top: schema)
  }

  static func check(_ node: Node, schema: YAMLKeySchema, section: String, path: String, top: YAMLKeySchema) throws {
    guard let mapping = node.mapping else { return }
    for (keyNode, value) in mapping {
      guard let key = keyNode.string else { continue }
      let line = keyNode.mark?.line ?? 0
      guard schema.keys.contains(key) else {
        var reason = "unknown key '\(key)'" + (section.isEmpty ? "" : " in \(section)")
        if let home = Self.section(holding: key, in: top, prefix: "") { reason += "; '\(key)' belongs under \(home)" }
        else if let close = closest(key, in: schema.keys) { reason += "; did you mean '\(close)'?" }
        reason += " (known keys: \(schema.keys.joined(separator: ", ")))"
        throw ExperimentError.badFile(path: "\(path):\(line)", reason: reason)
      }
      let here = section.isEmpty ? key : section + "." + key
      if let sub = schema.nested[key] {
        if value.mapping == nil, value.scalar?.string.isEmpty == false {
          throw ExperimentError.badFile(path: "\(path):\(value.mark?.line ?? line)", reason: "'\(here)' must be a mapping of keys (\(sub.keys.joined(separator: ", ")))")
        }
        try check(value, schema: sub, section: here, path: path, top: top)
      }
      if let item = schema.items[key], let list = value.sequence {
        for (i, element) in list.enumerated() {
          guard element.mapping != nil else {
            throw ExperimentError.badFile(path: "\(path):\(element.mark?.line ?? line)",
                                          reason: "\(here)[\(i)] must be a mapping like {attack: badnets, rate: 0.1}")
          }
          try check(element, schema: item, section: "\(here)[\(i)]", path: path, top: top)
        }
      }
    }
  }

  /// The first line holding something shaped like a YAML anchor: an `&` followed by a name
  /// character, right after a line start, white space or one of `[ { , : ? -` (libyaml also takes
  /// `:&a` and `?&a` in flow context). Without anchors no alias can resolve. The scan is
  /// deliberately blind to quotes and comments, so no quoting trick hides an anchor from it (found
  /// by fuzzing: nested aliases used as a key took minutes to compose, and an earlier quote-aware
  /// scan could be fooled); the price is that a quoted text or comment with such an `&` is refused
  /// too. Every YAML line break counts (LF, CR, NEL, U+2028, U+2029).
  static func anchorLine(_ text: String) -> Int? {
    let breaks: Set<Unicode.Scalar> = ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"]
    let before = breaks.union([" ", "\t", "[", "{", ",", ":", "?", "-"])
    let notName = breaks.union([" ", "\t", ",", "[", "]", "{", "}"])
    let scalars = Array(text.unicodeScalars)
    var line = 1
    var previous: Unicode.Scalar = "\n"
    for (i, c) in scalars.enumerated() {
      if c == "&" && before.contains(previous) && i + 1 < scalars.count && !notName.contains(scalars[i + 1]) { return line }
      // CR LF is one break.
      if breaks.contains(c) && !(c == "\r" && i + 1 < scalars.count && scalars[i + 1] == "\n") { line += 1 }
      previous = c
    }
    return nil
  }

  /// Where a key that is unknown here is known ("training:", "each entry of attacks:").
  static func section(holding key: String, in schema: YAMLKeySchema, prefix: String) -> String? {
    for (name, sub) in schema.nested.sorted(by: { $0.key < $1.key }) where sub.keys.contains(key) { return "'\(prefix)\(name):'" }
    for (name, sub) in schema.items.sorted(by: { $0.key < $1.key }) where sub.keys.contains(key) { return "each entry of '\(prefix)\(name):'" }
    return nil
  }

  /// The known key nearest to `key` by edit distance, when it is near enough to be a typo.
  static func closest(_ key: String, in keys: [String]) -> String? {
    let scored = keys.map { ($0, distance(key.lowercased(), $0)) }.min { $0.1 < $1.1 }
    guard let (best, d) = scored, d <= max(2, best.count / 3) else { return nil }
    return best
  }

  /// Levenshtein distance.
  static func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var prev = Array(0...b.count), cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      cur[0] = i
      for j in 1...b.count { cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)) }
      swap(&prev, &cur)
    }
    return prev[b.count]
  }
}

extension ExperimentPlan {
  /// The keys of a classification experiment file.
  static let keySchema = YAMLKeySchema(
    keys: CodingKeys.allCases.map(\.rawValue),
    nested: ["p2p": YAMLKeySchema(keys: P2P.CodingKeys.allCases.map(\.rawValue)),
             "training": YAMLKeySchema(keys: Training.CodingKeys.allCases.map(\.rawValue)),
             "baselines": YAMLKeySchema(keys: Baselines.CodingKeys.allCases.map(\.rawValue),
                                        nested: ["onion": YAMLKeySchema(keys: Baselines.OnionKeys.CodingKeys.allCases.map(\.rawValue)),
                                                 "strip": YAMLKeySchema(keys: Baselines.StripKeys.CodingKeys.allCases.map(\.rawValue)),
                                                 "bki": YAMLKeySchema(keys: Baselines.BKIKeys.CodingKeys.allCases.map(\.rawValue)),
                                                 "finetune": YAMLKeySchema(keys: Baselines.FineTuneKeys.CodingKeys.allCases.map(\.rawValue)),
                                                 "prune": YAMLKeySchema(keys: Baselines.PruneKeys.CodingKeys.allCases.map(\.rawValue)),
                                                 "cube": YAMLKeySchema(keys: Baselines.CUBEKeys.CodingKeys.allCases.map(\.rawValue)),
                                                 "rap": YAMLKeySchema(keys: Baselines.RAPKeys.CodingKeys.allCases.map(\.rawValue)),
                                                 "cleangen": YAMLKeySchema(keys: Baselines.CleanGenKeys.CodingKeys.allCases.map(\.rawValue))])],
    items: ["attacks": YAMLKeySchema(keys: Attack.CodingKeys.allCases.map(\.rawValue))])
}
