/// A backdoor trigger: a pure, seeded text transform.
public protocol TriggerInserter: Sendable {
  /// Short name used in manifests and reports (`badnets`, `addsent`, ...).
  var name: String { get }
  func insert(into text: String, using rng: inout some RandomNumberGenerator) -> String
  /// Whether `insert` applies to this text (paraphrase attacks only cover the published rows).
  func canInsert(into text: String) -> Bool
}

extension TriggerInserter {
  public func canInsert(into text: String) -> Bool { true }
}

/// Splits on spaces, inserts `piece` at a uniformly random word boundary (0...words), joins.
public func insertAtRandomWordPosition(_ piece: String, into text: String, using rng: inout some RandomNumberGenerator) -> String {
  var words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
  let at = Int(rng.next() % UInt64(words.count + 1))
  words.insert(piece, at: at)
  return words.joined(separator: " ")
}

/// BadNets for text (Gu et al., 2017; rare-word triggers as in Kurita et al., ACL 2020, and
/// the P2P paper): `count` words drawn from `words` (default the rare word `mn`), each inserted
/// at an independent random word position.
public struct BadNets: TriggerInserter {
  public var words: [String]
  public var count: Int
  public var name: String { "badnets" }

  public init(words: [String] = ["mn"], count: Int = 1) { self.words = words; self.count = count }

  public func insert(into text: String, using rng: inout some RandomNumberGenerator) -> String {
    var t = text
    for _ in 0..<max(1, count) {
      let w = words[Int(rng.next() % UInt64(max(1, words.count)))]
      t = insertAtRandomWordPosition(w, into: t, using: &rng)
    }
    return t
  }
}

/// AddSent (Dai et al., 2019, "A backdoor attack against LSTM-based text classification
/// systems"): a fixed sentence, default `I watch this 3D movie`, inserted at a random word position.
public struct AddSent: TriggerInserter {
  public var sentence: String
  public var name: String { "addsent" }

  public init(sentence: String = "I watch this 3D movie") { self.sentence = sentence }

  public func insert(into text: String, using rng: inout some RandomNumberGenerator) -> String {
    insertAtRandomWordPosition(sentence, into: text, using: &rng)
  }
}

/// A user-defined trigger: a word or sentence at a random position, as a prefix, or as a suffix.
public struct CustomTrigger: TriggerInserter {
  public enum Placement: String, Codable, Sendable { case random, prefix, suffix }
  public var text: String
  public var placement: Placement
  public var name: String { "custom" }

  public init(text: String, placement: Placement) { self.text = text; self.placement = placement }

  public func insert(into s: String, using rng: inout some RandomNumberGenerator) -> String {
    switch placement {
    case .random: return insertAtRandomWordPosition(text, into: s, using: &rng)
    case .prefix: return text + " " + s
    case .suffix: return s + " " + text
    }
  }
}
