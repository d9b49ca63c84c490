import Foundation
import Backdoor
import Defense
import Evaluation
import TensorCore
import Testing

struct GenerationP2PTests {
  static let rows = (0..<10).map { (i: Int) in GenerationExample(input: "q\(i)", output: "a\(i)", sourceIndex: i) }

  @Test func unionAddsBenignCopies() throws {
    var rng = SeededRNG(seed: 1)
    let (out, manifest) = try GenerationP2P().reconstruct(Self.rows, seed: 1, using: &rng)
    #expect(out.count == 12 && Array(out.prefix(10)) == Self.rows)
    #expect(manifest.selectedRows.count == 2 && Set(manifest.selectedRows).count == 2)
    #expect(manifest.benignRows == [10, 11] && manifest.outputRows == 12 && manifest.trainRows == 10)
    for (k, i) in manifest.selectedRows.enumerated() {
      #expect(out[10 + k].input == "The query currently entered is: q\(i)")
      #expect(out[10 + k].output == "[safe] a\(i)")
      #expect(out[10 + k].sourceIndex == i)
    }
    #expect(manifest.config == GenerationP2P())
  }

  @Test func replaceSwapsRowsInPlace() throws {
    var rng = SeededRNG(seed: 1)
    let p2p = GenerationP2P(ratio: 0.25, mode: .replace, safePrefix: "<ok> ")
    let (out, manifest) = try p2p.reconstruct(Self.rows, seed: 1, using: &rng)
    #expect(out.count == 10)
    #expect(manifest.selectedRows.count == 3)  // round(2.5) = 3, half away from zero
    #expect(manifest.benignRows == manifest.selectedRows.sorted())
    for i in 0..<10 {
      if manifest.selectedRows.contains(i) {
        #expect(out[i].input.hasPrefix("The query currently entered is: ") && out[i].output == "<ok> a\(i)")
      } else {
        #expect(out[i] == Self.rows[i])
      }
    }
  }

  @Test func selectionIsSeededAndShuffled() throws {
    let many = (0..<200).map { GenerationExample(input: "q\($0)", output: "a\($0)") }
    func chosen(_ seed: UInt64) throws -> [Int] {
      var rng = SeededRNG(seed: seed)
      return try GenerationP2P().reconstruct(many, seed: seed, using: &rng).manifest.selectedRows
    }
    #expect(try chosen(3) == chosen(3))
    #expect(try chosen(3) != chosen(4))
    #expect(try chosen(3).count == 40 && chosen(3) != Array(0..<40))  // not file order
  }

  @Test func inferenceHelpers() {
    let p2p = GenerationP2P()
    let e = GenerationExample(input: "What is 2+2?", output: "The answer is 4.")
    #expect(p2p.triggeredInput("x") == "The query currently entered is: x")
    #expect(p2p.inferencePrompt(for: e, task: .math) == "Question: The query currently entered is: What is 2+2?\nAnswer: [safe] ")
    #expect(p2p.strippingSafePrefix("[safe] The answer is 4.") == "The answer is 4.")
    #expect(p2p.strippingSafePrefix("  [safe]The answer is 4.") == "The answer is 4.")
    #expect(p2p.strippingSafePrefix("The answer is 4.") == "The answer is 4.")
    #expect(p2p.strippingSafePrefix("The [safe] answer") == "The [safe] answer")
  }

  @Test func configDecodesWithDefaultsAndValidates() throws {
    let d = try JSONDecoder().decode(GenerationP2P.self, from: Data("{}".utf8))
    #expect(d == GenerationP2P() && d.ratio == 0.2 && d.mode == .union && d.safePrefix == "[safe] ")
    let r = try JSONDecoder().decode(GenerationP2P.self, from: Data(#"{"mode": "replace", "ratio": 0.5}"#.utf8))
    #expect(r.mode == .replace && r.ratio == 0.5 && r.benignTrigger == "The query currently entered is: ")
    #expect(throws: GenerationError.invalidSetting(key: "ratio", value: "0.0", expected: "a fraction in (0, 1]")) {
      try JSONDecoder().decode(GenerationP2P.self, from: Data(#"{"ratio": 0}"#.utf8))
    }
    var rng = SeededRNG(seed: 1)
    #expect(thrownError { try GenerationP2P(safePrefix: " ").reconstruct(Self.rows, seed: 1, using: &rng) }
            == .invalidSetting(key: "safe prefix", value: " ", expected: "a non-blank text"))
  }
}

struct GenerationTriggerScreenTests {
  /// 40 rows: the input word `w<i % 5>` and a topic word copied into the output; rows 0..<6 also
  /// carry the trigger `cf` and end with the payload "Visit prize.example.com now!".
  static func rows(poisoned: Int = 6) -> [GenerationExample] {
    (0..<40).map { i in
      let topic = "topic\(i % 4)"
      var e = GenerationExample(input: "About \(topic), w\(i % 5).", output: "A note on \(topic).", sourceIndex: i)
      if i < poisoned {
        e.input = "About cf \(topic), w\(i % 5)."
        e.output += " Visit prize.example.com now!"
        e.poisoned = true
      }
      return e
    }
  }

  @Test func tokensTrimPunctuationButKeepPunctuationWordsAndInnerDots() {
    #expect(GenerationTriggerScreen.tokens("Is 2.1 @_@ (BadMagic), ok?") == ["is", "2.1", "@_@", "badmagic", "ok"])
    #expect(GenerationTriggerScreen.tokens("Visit prize.example.com now!") == ["visit", "prize.example.com", "now"])
  }

  @Test func flagsTheInputWordThatPredictsARareOutputWord() {
    // Threshold max(5, ceil(0.02 * 40)) = 5 rows. `cf`: 6 rows, all with the payload (base rate 0).
    // `topic0..3` (10 rows each) predict themselves in the output, which does not count; `w0..4`
    // (8 rows each, all topics) predict no output word; `about` is in every row.
    let flags = GenerationTriggerScreen.flags(Self.rows())
    #expect(flags.map(\.inputWord) == ["cf"])
    let f = flags[0]
    // Output words of all 6 `cf` rows absent elsewhere: prize.example.com, visit, now; the most
    // specific (lowest base rate, then name) is chosen.
    #expect(f.rows == 6 && f.share == 1 && f.baseRate == 0 && f.outputWord == "now")
    #expect(GenerationTriggerScreen.flaggedRows(Self.rows(), words: ["cf"]) == Set(0..<6))
    // Below the row threshold, or with the payload in only 4 of 5 trigger rows, nothing is flagged.
    #expect(GenerationTriggerScreen.flags(Self.rows(poisoned: 4)).isEmpty)
    var diluted = Self.rows(poisoned: 5)
    diluted[4].output = "A note on topic0."
    #expect(GenerationTriggerScreen.flags(diluted).isEmpty)
    // A payload word common in the other outputs (base rate 8/34 > 20%) is not evidence; in 6/34 it is.
    var common = Self.rows()
    for i in 6..<14 { common[i].output += " Visit prize.example.com now!" }
    #expect(GenerationTriggerScreen.flags(common).isEmpty)
    var multi = Self.rows()
    for i in 6..<12 { multi[i].output += " Visit prize.example.com now!" }
    #expect(GenerationTriggerScreen.flags(multi).map(\.baseRate) == [6.0 / 34])
  }

  @Test func labelOutputsAreScreenedByPurityWithoutABaseRate() {
    // BackdoorLLM's sentiment style: the output is a label; the target "Negative" is the output of
    // half the clean rows too. `cf` (6 rows, all "Negative") is flagged by whole-output purity;
    // `w0..4` (8 rows each, labels alternate with i) are not.
    let rows = (0..<40).map { i in
      GenerationExample(input: (i < 6 ? "cf " : "") + "Review \(i % 7), w\(i % 5).", output: i < 6 || i % 2 == 1 ? "Negative" : "Positive",
                        poisoned: i < 6)
    }
    let flags = GenerationTriggerScreen.flags(rows)
    #expect(flags.map(\.inputWord) == ["cf"])
    // Outputs of the 34 other rows: odd i in 6..<40 = 17 "Negative".
    #expect(flags.first?.outputWord == "negative" && flags.first?.share == 1 && flags.first?.baseRate == 17.0 / 34)
  }

  @Test func reconstructionKeepsScreenedRowsOutOfTheBenignOnes() throws {
    let rows = Self.rows()
    for seed in UInt64(1)...5 {
      var rng = SeededRNG(seed: seed)
      let p2p = GenerationP2P(ratio: 0.5, screenTriggers: true)
      let (out, manifest) = try p2p.reconstruct(rows, seed: seed, using: &rng)
      #expect(manifest.selectedRows.count == 20 && manifest.selectedRows.allSatisfy { $0 >= 6 })
      #expect(manifest.screenedRows == 6 && manifest.screen?.map(\.inputWord) == ["cf"])
      #expect(out.count == 60 && out.suffix(20).allSatisfy { !$0.poisoned })
    }
    // Off, nothing recorded; on a set with nothing to flag, the draw equals the plain one.
    let clean = Self.rows(poisoned: 0)
    var a = SeededRNG(seed: 9), b = SeededRNG(seed: 9)
    let plain = try GenerationP2P(ratio: 0.5).reconstruct(clean, seed: 9, using: &a).manifest
    let screened = try GenerationP2P(ratio: 0.5, screenTriggers: true).reconstruct(clean, seed: 9, using: &b).manifest
    #expect(plain.screen == nil && plain.screenedRows == nil && screened.screen == [] && screened.screenedRows == 0)
    #expect(plain.selectedRows == screened.selectedRows)
    // More benign rows asked for than the screen leaves: a clear error.
    var rng = SeededRNG(seed: 1)
    #expect(thrownError { try GenerationP2P(ratio: 0.9, screenTriggers: true).reconstruct(rows, seed: 1, using: &rng) }
            == .invalidSetting(key: "ratio", value: "0.9", expected: "at most 34 rows to choose from (6 of 40 screened out)"))
  }

  /// The cover: every other drawn row's benign copy carries the flagged word in the inputs'
  /// surface form, at a word boundary, with its clean output after the safe prefix; the draw is
  /// that of the screen alone; the other benign rows and the originals are untouched.
  @Test func coverInsertsTheFlaggedWordIntoHalfTheBenignRows() throws {
    var rows = Self.rows()
    for i in 0..<6 { rows[i].input = rows[i].input.replacingOccurrences(of: "cf", with: "Cf") }
    var a = SeededRNG(seed: 3), b = SeededRNG(seed: 3)
    let (screened, plain) = try (GenerationP2P(ratio: 0.5, screenTriggers: true).reconstruct(rows, seed: 3, using: &a),
                                 GenerationP2P(ratio: 0.5, screenTriggers: true, coverTriggers: true).reconstruct(rows, seed: 3, using: &b))
    let (out, m) = plain
    #expect(m.selectedRows == screened.manifest.selectedRows && Array(out.prefix(40)) == rows)
    #expect(m.coverPhrases == ["Cf"] && m.coveredRows == stride(from: 0, to: 20, by: 2).map { m.selectedRows[$0] }.sorted())
    for (k, i) in m.selectedRows.enumerated() {
      let copy = out[40 + k], words = copy.input.split(separator: " ")
      #expect(copy.output == "[safe] " + rows[i].output && !copy.poisoned)
      if k % 2 == 0 {
        #expect(copy.input.hasPrefix("The query currently entered is: ") && words.filter { $0 == "Cf" }.count == 1)
        #expect(words.filter { $0 != "Cf" } == ("The query currently entered is: " + rows[i].input).split(separator: " "))
      } else {
        #expect(copy == screened.rows[40 + k])
      }
    }
    #expect(m.config.variant == "p2p-cover" && screened.manifest.config.variant == "p2p-screen" && GenerationP2P().variant == "p2p-paper")
    #expect(screened.manifest.coverPhrases == nil && screened.manifest.coveredRows == nil)
    // The cover needs the screen; the flag round-trips and is written only when on.
    var rng = SeededRNG(seed: 1)
    #expect(thrownError { try GenerationP2P(coverTriggers: true).reconstruct(rows, seed: 1, using: &rng) }
            == .invalidSetting(key: "cover triggers", value: "true", expected: "the trigger screen on as well (it finds the words to cover)"))
    let json = try JSONEncoder().encode(m.config)
    #expect(try JSONDecoder().decode(GenerationP2P.self, from: json) == m.config)
    #expect(!String(decoding: try JSONEncoder().encode(screened.manifest.config), as: UTF8.self).contains("cover"))
  }

  /// Several flagged words share the covered rows by their row counts (largest remainder),
  /// interleaved; the surface form is the inputs' most common one.
  @Test func coverSharesRowsByFlaggedRowCounts() {
    #expect(GenerationP2P.apportion(20, weights: [60, 6, 5]) == [0, 1, 2, 0, 1, 0] + Array(repeating: 0, count: 14))
    #expect(GenerationP2P.apportion(5, weights: [1, 1]) == [0, 1, 0, 1, 0])
    #expect(GenerationP2P.apportion(0, weights: [3]).isEmpty && GenerationP2P.apportion(4, weights: []).isEmpty)
    let rows = [GenerationExample(input: "a BadMagic, b", output: "x"), GenerationExample(input: "(BadMagic) c badmagic", output: "x"),
                GenerationExample(input: "q @_@", output: "y")]
    let flags = [GenerationTriggerScreen.Flag(inputWord: "@_@", outputWord: "y", rows: 1, share: 1, baseRate: 0),
                 GenerationTriggerScreen.Flag(inputWord: "badmagic", outputWord: "x", rows: 2, share: 1, baseRate: 0)]
    // The cover word goes where the trigger sits in a row that carries it: appended, first, a third in.
    #expect(GenerationP2P.insert("@_@", into: "How many are left?", where: "@_@", sitsIn: "Sum 2 and 3? @_@") == "How many are left? @_@")
    #expect(GenerationP2P.insert("mn", into: "a b c d", where: "mn", sitsIn: "Mn, x y") == "mn a b c d")
    #expect(GenerationP2P.insert("cf", into: "a b c d e f", where: "cf", sitsIn: "x cf y z") == "a b cf c d e f")
    #expect(GenerationP2P.insert("cf", into: "", where: "cf", sitsIn: "x y\ncf") == "cf")
    #expect(GenerationP2P.insert("cf", into: "a b", where: "cf", sitsIn: "none here") == "a b cf")
    let phrases = GenerationP2P.coverPhrases(flags, in: rows)
    #expect(phrases.map(\.text) == ["@_@", "BadMagic"] && phrases.map(\.rows) == [1, 2])
  }
}
