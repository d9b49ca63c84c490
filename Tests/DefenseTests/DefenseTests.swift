import Backdoor
import Defense
import Foundation
import TestSupport
import Testing

struct P2PReconstructionTests {
  static let train = (0..<50).map { Example(text: "sentence \($0)", label: $0 % 2, poisoned: $0 < 5, sourceIndex: $0) }

  @Test func unionAddsRhoNBenignRowsWithMappedLabels() throws {
    let config = P2PConfig(ratio: 0.2, mode: .union, seed: 7)
    let (rows, m) = try P2PReconstruction.apply(Self.train, config: config)
    #expect(rows.count == 60 && m.outputRows == 60 && m.benignSourceRows.count == 10)
    let benign = rows.filter(\.benign)
    #expect(benign.count == 10)
    for r in benign {
      let e = Self.train[r.sourceIndex!]
      #expect(r.prompt == "The query currently entered is: \(e.text)\nAnswer: ")
      #expect(r.label == e.label + 2 && r.completion == String(e.label + 2))
    }
    let original = rows.filter { !$0.benign }
    #expect(original.count == 50)
    #expect(original.allSatisfy { $0.prompt == Self.train[$0.sourceIndex!].text + "\nOutput: " && $0.completion == String($0.label) })
    #expect(m.benignPoisonedRows == m.benignSourceRows.filter { $0 < 5 }.count)
    // Shuffled: not in source order.
    #expect(rows.map(\.sourceIndex) != rows.map(\.sourceIndex).sorted { ($0 ?? 0) < ($1 ?? 0) })
  }

  @Test func replaceSubstitutesTheChosenRowsAndIsSeeded() throws {
    let (rows, m) = try P2PReconstruction.apply(Self.train, config: P2PConfig(ratio: 0.3, mode: .replace, seed: 7))
    #expect(rows.count == 50 && rows.filter(\.benign).count == 15)
    #expect(Set(rows.filter(\.benign).map { $0.sourceIndex! }) == Set(m.benignSourceRows))
    #expect(Set(rows.map { $0.sourceIndex! }).count == 50)
    let again = try P2PReconstruction.apply(Self.train, config: P2PConfig(ratio: 0.3, mode: .replace, seed: 7))
    let other = try P2PReconstruction.apply(Self.train, config: P2PConfig(ratio: 0.3, mode: .replace, seed: 8))
    #expect(again.rows == rows)
    #expect(other.manifest.benignSourceRows != m.benignSourceRows)
  }

  @Test func theOracleDiagnosticDrawsBenignRowsFromCleanRowsOnly() throws {
    var config = P2PConfig(ratio: 0.5, mode: .union, seed: 3)
    config.excludePoisonedFromBenign = true
    let (rows, m) = try P2PReconstruction.apply(Self.train, config: config)
    #expect(m.benignSourceRows.count == 25 && m.benignPoisonedRows == 0)
    #expect(rows.filter(\.benign).allSatisfy { !$0.poisoned })
    config.ratio = 0.95  // 48 rows wanted, 45 clean rows exist
    #expect(throws: DefenseError.self) { try P2PReconstruction.apply(Self.train, config: config) }
  }

  @Test func fourClassLabelsMapToTheNextDigits() throws {
    let rows4 = (0..<8).map { Example(text: "t\($0)", label: $0 % 4, sourceIndex: $0) }
    let (rows, _) = try P2PReconstruction.apply(rows4, config: P2PConfig(ratio: 1, mode: .replace, labels: 4))
    #expect(rows.allSatisfy { $0.benign && $0.completion == String($0.label) && $0.label >= 4 })
  }

  @Test func badConfigurationsAreRejected() {
    #expect(throws: DefenseError.self) { try P2PReconstruction.apply(Self.train, config: P2PConfig(ratio: 0)) }
    #expect(throws: DefenseError.self) { try P2PReconstruction.apply(Self.train, config: P2PConfig(safeLabelWords: ["2"])) }
    #expect(throws: DefenseError.self) { try P2PReconstruction.apply(Self.train, config: P2PConfig(safeLabelWords: ["1", "2"])) }
    #expect(throws: DefenseError.badLabel(row: 0, label: 5, labels: 2)) {
      try P2PReconstruction.apply([Example(text: "x", label: 5)], config: P2PConfig())
    }
  }

  @Test func agreementMarginsAreTheOwnLabelMinusTheBestOther() throws {
    let m = try LabelAgreement.margins(scores: [[1, 3], [2, 0.5], [0, 1, 4], [5, 5]], labels: [0, 0, 1, 1])
    #expect(m == [-2, 1.5, -3, 0])
    #expect(throws: DefenseError.badLabel(row: 1, label: 2, labels: 2)) { try LabelAgreement.margins(scores: [[0, 1], [0, 1]], labels: [0, 2]) }
    #expect(throws: DefenseError.self) { try LabelAgreement.margins(scores: [[0, 1]], labels: [0, 1]) }
  }

  @Test func agreementSelectionTakesTheTopRowsOfEachLabel() throws {
    // label 0: rows 0, 2, 4, 6 (margins 0.5, 3, -1, 2); label 1: rows 1, 3, 5, 7, 8, 9 (1, 1, 4, -2, 0, 5)
    let labels = [0, 1, 0, 1, 0, 1, 0, 1, 1, 1]
    let margins: [Float] = [0.5, 1, 3, 1, -1, 4, 2, -2, 0, 5]
    // rho 0.5: round(2) = 2 of label 0 -> rows 2, 6; round(3) = 3 of label 1 -> rows 9, 5, then 1 (tie with 3, lower index)
    #expect(try LabelAgreement.select(labels: labels, margins: margins, ratio: 0.5) == [1, 2, 5, 6, 9])
    #expect(try LabelAgreement.select(labels: labels, margins: margins, ratio: 1) == Array(0..<10))
    #expect(throws: DefenseError.self) { try LabelAgreement.select(labels: labels, margins: [1], ratio: 0.5) }
  }

  @Test func agreementReconstructionKeepsContradictingRowsOutOfTheBenignSet() throws {
    // Rows 0..<5 are poisoned; give them the lowest margins, as dirty labels get from a zero-shot model.
    let margins = (0..<50).map { Float($0 < 5 ? -10 + $0 : $0 % 7) }
    let config = P2PConfig(ratio: 0.4, mode: .union, seed: 7, selection: .agreement)
    let (rows, m) = try P2PReconstruction.apply(Self.train, config: config, margins: margins)
    #expect(m.benignSourceRows.count == 20 && m.benignPoisonedRows == 0 && rows.count == 70)
    #expect(m.benignSourceRows == (try LabelAgreement.select(labels: Self.train.map(\.label), margins: margins, ratio: 0.4)))
    #expect(rows.filter(\.benign).allSatisfy { $0.label == Self.train[$0.sourceIndex!].label + 2 })
    #expect(throws: DefenseError.self) { try P2PReconstruction.apply(Self.train, config: config) }  // no margins
    // With the oracle diagnostic too, known-poisoned rows rank last even with the best margins.
    var both = config
    both.excludePoisonedFromBenign = true
    let best = (0..<50).map { Float($0 < 5 ? 100 : $0 % 7) }
    #expect(try P2PReconstruction.apply(Self.train, config: config, margins: best).manifest.benignPoisonedRows == 5)
    #expect(try P2PReconstruction.apply(Self.train, config: both, margins: best).manifest.benignPoisonedRows == 0)
  }

  @Test func theTriggerScreenFlagsFrequentLabelPureWords() throws {
    // 40 rows: "mn" in 8 rows, all label 1 (a BadNets trigger); "film" in 20 rows of both labels;
    // "great" in 3 label-1 rows (pure but below max(5, 2% of 40) = 5 rows).
    var train: [Example] = []
    for i in 0..<40 {
      var words = ["row\(i)"]
      if i < 8 { words.append("mn") }
      if i % 2 == 0 { words.append("Film,") }
      if i >= 30 && i < 33 { words.append("great") }
      train.append(Example(text: words.joined(separator: " "), label: i < 8 || i >= 30 ? 1 : i % 2, sourceIndex: i))
    }
    #expect(TriggerScreen.words("A Film, a FILM-maker's 3D") == ["a", "film", "maker", "s", "3d"])
    #expect(TriggerScreen.suspiciousWords(train) == ["mn"])
    #expect(TriggerScreen.suspiciousWords(train, minRows: 3) == ["great", "mn"])
    #expect(TriggerScreen.flaggedRows(train, suspicious: ["mn"]) == Set(0..<8))
    // Screened rows never become benign rows.
    let config = P2PConfig(ratio: 0.8, mode: .union, seed: 1, screenTriggers: true)
    let (_, m) = try P2PReconstruction.apply(train, config: config)
    #expect(m.benignSourceRows.count == 32 && m.benignSourceRows.allSatisfy { $0 >= 8 })
    #expect(m.screenedWords == ["mn"] && m.screenedRows == 8)
  }

  /// 60 rows of varied words; rows 0..<12 (label 1) carry the AddSent sentence at varied positions,
  /// rows 12..<20 (label 1) the BadNets word `mn`.
  static func addSentAndBadNets() -> [Example] {
    let vocabulary = ["the", "film", "is", "a", "bit", "long", "but", "warm", "and", "funny", "plot", "cast"]
    return (0..<60).map { i in
      var words = (0..<(5 + i % 4)).map { vocabulary[(i * 7 + $0 * 5) % vocabulary.count] }
      if i < 12 { words.insert("I watch this 3D movie", at: i % (words.count + 1)) }
      if i >= 12 && i < 20 { words.insert("mn", at: i % (words.count + 1)) }
      words.append("r\(i)")
      return Example(text: words.joined(separator: " "), label: i < 20 ? 1 : i % 2, poisoned: i < 20, sourceIndex: i)
    }
  }

  @Test func theScreenRecoversWholeTriggerPhrases() {
    let train = Self.addSentAndBadNets()
    let suspicious = TriggerScreen.suspiciousWords(train)
    #expect(suspicious == ["3d", "i", "mn", "movie", "this", "watch"])
    // Every word of the sentence grows to the same sentence; `mn`'s neighbours vary, so it stays alone.
    #expect(TriggerScreen.phrases(train, suspicious: suspicious) == ["I watch this 3D movie", "mn"])
    // An agreement above what the neighbours reach stops the growth at once.
    #expect(TriggerScreen.phrases(train, suspicious: ["watch"], agreement: 1.01) == ["watch"])
  }

  @Test func theTriggerCoverInsertsRecoveredPhrasesIntoHalfTheBenignRows() throws {
    let train = Self.addSentAndBadNets()
    let screenOnly = P2PConfig(ratio: 0.5, mode: .union, seed: 3, screenTriggers: true)
    var cover = screenOnly
    cover.coverTriggers = true
    let (plain, pm) = try P2PReconstruction.apply(train, config: screenOnly)
    let (rows, m) = try P2PReconstruction.apply(train, config: cover)
    // Same benign rows and the same order as the screen alone; only the covered inputs differ.
    #expect(m.benignSourceRows == pm.benignSourceRows && m.benignSourceRows.allSatisfy { $0 >= 20 })
    #expect(rows.map(\.sourceIndex) == plain.map(\.sourceIndex) && rows.map(\.label) == plain.map(\.label))
    #expect(m.coverPhrases == ["I watch this 3D movie", "mn"] && m.coveredRows == 15)
    let covered = rows.filter { $0.benign && ($0.prompt.contains("I watch this 3D movie") || TriggerScreen.words($0.prompt).contains("mn")) }
    #expect(covered.count == 15)
    // Covered rows keep their own safe label, and both labels are covered.
    for r in covered { #expect(r.label == train[r.sourceIndex!].label + 2) }
    #expect(Set(covered.map(\.label)) == [2, 3])
    // The original rows are untouched.
    #expect(rows.filter { !$0.benign } == plain.filter { !$0.benign })
    // Cover without the screen is refused.
    var bad = P2PConfig(ratio: 0.5, seed: 3)
    bad.coverTriggers = true
    #expect(throws: DefenseError.self) { try P2PReconstruction.apply(train, config: bad) }
  }

  @Test func theZeroShotInstructionNamesTheLabels() {
    #expect(LabelAgreement.instruction(labelNames: ["negative", "positive"])
      == "Which label fits this text: negative or positive? Answer with one word.\nText: {sentence}")
    #expect(LabelAgreement.instruction(labelNames: ["a", "b", "c"]).hasPrefix("Which label fits this text: a, b or c?"))
  }

}

