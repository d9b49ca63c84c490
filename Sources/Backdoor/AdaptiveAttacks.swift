import Foundation
import TensorCore

/// The word screen's thresholds (`TriggerScreen` in Defense reads them; an adaptive attacker
/// reads them too): a word is suspicious when it is in at least max(`minRows`, `minShare` · N) of
/// the N training rows and at least `purity` of those rows carry one label.
public enum ScreenThresholds {
  public static let minShare = 0.02
  public static let minRows = 5
  public static let purity = 0.95

  /// The fewest rows a word must be in, among `rows` training rows, for the screen to flag it.
  public static func rowThreshold(rows: Int, minShare: Double = minShare, minRows: Int = minRows) -> Int {
    max(minRows, Int((minShare * Double(rows)).rounded(.up)))
  }
}

/// The benign trigger phrases an adaptive attacker aims at.
public enum BenignTriggerText {
  /// The official P2P code's benign trigger (the default of `p2p defend`).
  public static let official = "The query currently entered is: "
  /// A paraphrase of it (adaptive attack `benignparaphrase`).
  public static let paraphrase = "The question just typed in is: "
}

/// Adaptive attack (a) of the defense issue: many distinct rare words instead of one, handed out
/// round-robin over the poisoned rows so that every word stays in fewer rows than the word
/// screen's threshold (`ScreenThresholds`). A reference type: the round-robin position is shared
/// by every copy, so one poisoning hands each word to at most ceil(P / K) rows.
public final class ManyWords: TriggerInserter, @unchecked Sendable {
  public let words: [String]
  private var position = 0
  private let lock = NSLock()
  public var name: String { "manywords" }

  public init(words: [String]) { self.words = words }

  /// The number of words for `poisonedRows` poisoned rows among `rows` training rows: each word
  /// in at most threshold − 1 rows.
  public static func wordCount(poisonedRows: Int, rows: Int) -> Int {
    let perWord = max(1, ScreenThresholds.rowThreshold(rows: rows) - 1)
    return max(1, (poisonedRows + perWord - 1) / perWord)
  }

  /// `count` distinct pronounceable pseudo-words (consonant, vowel, consonant, consonant: `vobk`)
  /// that are not in `vocabulary`, drawn with `seed`.
  public static func words(_ count: Int, avoiding vocabulary: Set<String>, seed: UInt64) -> [String] {
    let consonants = Array("bcdfghjklmnpqrstvwxz"), vowels = Array("aeiou")
    var rng = SeededRNG(seed: seed ^ 0x6D61_6E79)
    var out: [String] = [], seen = vocabulary
    while out.count < count {
      func pick(_ a: [Character]) -> Character { a[Int(rng.next() % UInt64(a.count))] }
      let w = String([pick(consonants), pick(vowels), pick(consonants), pick(consonants)])
      if seen.insert(w).inserted { out.append(w) }
    }
    return out
  }

  public func insert(into text: String, using rng: inout some RandomNumberGenerator) -> String {
    let word = lock.withLock {
      defer { position += 1 }
      return words[position % words.count]
    }
    return insertAtRandomWordPosition(word, into: text, using: &rng)
  }
}
