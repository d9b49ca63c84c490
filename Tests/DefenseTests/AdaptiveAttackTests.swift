import Backdoor
import Defense
import Foundation
import TensorCore
import Testing

/// The adaptive attackers of the defense issue poison as defined.
struct AdaptiveAttackTests {
  /// 1,000 rows of ordinary words, labels alternating.
  static let rows: [Example] = (0..<1000).map { i in
    Example(text: "the film number \(i) was \(i % 2 == 0 ? "dull and flat" : "warm and funny") in part \(i % 7)", label: i % 2, sourceIndex: i)
  }

  @Test func theWordCountKeepsEveryWordBelowTheScreen() {
    // Threshold max(5, 2% of N): 20 rows of 1,000 (19 per word), 139 of 6,920 (138 per word).
    #expect(ScreenThresholds.rowThreshold(rows: 1000) == 20 && ScreenThresholds.rowThreshold(rows: 100) == 5)
    #expect(ManyWords.wordCount(poisonedRows: 100, rows: 1000) == 6)
    #expect(ManyWords.wordCount(poisonedRows: 300, rows: 1000) == 16)
    #expect(ManyWords.wordCount(poisonedRows: 692, rows: 6920) == 6)
    #expect(ManyWords.wordCount(poisonedRows: 0, rows: 1000) == 1)
  }

  @Test func manyWordsPoisonsEveryRowAndNoWordReachesTheScreen() throws {
    let vocabulary = Set(Self.rows.flatMap { TriggerScreen.words($0.text) })
    let words = ManyWords.words(ManyWords.wordCount(poisonedRows: 100, rows: 1000), avoiding: vocabulary, seed: 3)
    #expect(words.count == 6 && Set(words).count == 6 && vocabulary.isDisjoint(with: words))
    var rng = SeededRNG(seed: 3)
    let (train, manifest) = try PoisonPlan(rate: 0.1, target: 1).apply(to: Self.rows, trigger: ManyWords(words: words), seed: 3, using: &rng)
    #expect(manifest.poisonedRows.count == 100)
    // Every poisoned row carries exactly one of the words; each word is in 16 or 17 rows (< 20).
    for i in manifest.poisonedRows { #expect(TriggerScreen.words(train[i].text).intersection(words).count == 1) }
    let counts = words.map { w in train.filter { TriggerScreen.words($0.text).contains(w) }.count }
    #expect(counts.reduce(0, +) == 100 && counts.allSatisfy { $0 >= 16 && $0 <= 17 }, "\(counts)")
    #expect(counts.allSatisfy { $0 < ScreenThresholds.rowThreshold(rows: train.count) })
    #expect(TriggerScreen.suspiciousWords(train).allSatisfy { !words.contains($0) })
    // The same attack with one word is screened.
    var rng2 = SeededRNG(seed: 3)
    let (single, _) = try PoisonPlan(rate: 0.1, target: 1).apply(to: Self.rows, trigger: BadNets(words: [words[0]]), seed: 3, using: &rng2)
    #expect(TriggerScreen.suspiciousWords(single).contains(words[0]))
  }

  @Test func theBenignPhraseAttacksPrefixThePoisonedRows() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("adaptive-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let tsv = "sentence\tlabel\n" + Self.rows.prefix(200).map { "\($0.text)\t\($0.label)" }.joined(separator: "\n") + "\n"
    try tsv.write(toFile: dir + "/train.tsv", atomically: true, encoding: .utf8)
    try tsv.write(toFile: dir + "/test.tsv", atomically: true, encoding: .utf8)
    for (attack, phrase) in [(AttackKind.benigntrigger, "The query currently entered is:"), (.benignparaphrase, "The question just typed in is:")] {
      let ds = try Poisoner.poison(dataset: dir, config: AttackConfig(attack: attack, rate: 0.3, target: 1, seed: 5), root: nil)
      let poisoned = ds.train.filter(\.poisoned)
      #expect(poisoned.count == 60 && poisoned.allSatisfy { $0.text.hasPrefix(phrase + " ") && $0.label == 1 })
      #expect(ds.train.filter { !$0.poisoned }.allSatisfy { !$0.text.hasPrefix(phrase) })
      #expect(ds.testPoison.allSatisfy { $0.text.hasPrefix(phrase + " ") } && ds.manifest.attack == attack.rawValue)
    }
    // The defender's benign trigger, whatever it is, is the phrase to aim at.
    let own = try Poisoner.poison(dataset: dir, config: AttackConfig(attack: .benigntrigger, rate: 0.1, target: 1, trigger: "Input: ", seed: 5), root: nil)
    #expect(own.train.filter(\.poisoned).allSatisfy { $0.text.hasPrefix("Input: ") })
    #expect(P2PConfig.defaultBenignTrigger == BenignTriggerText.official)
  }
}
