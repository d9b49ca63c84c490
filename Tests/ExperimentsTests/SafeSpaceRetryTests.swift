import Backdoor
import Defense
import Evaluation
import Experiments
import FileIO
import Foundation
import TestSupport
import Testing

/// The default pipeline's second try after a failed safe-space check, on hand-made checks, cells
/// and folders.
struct SafeSpaceRetryTests {
  /// The default as a grid cell asks for it, and as it ran with the spectral screen.
  static let requested = P2PConfig(ratio: 1, automatic: true)
  static var ranSpectral: P2PConfig {
    var c = requested
    c.spectralScreen = true; c.ratio = 0.6; c.selection = .stratified; c.releasedWords = ["film"]
    return c
  }
  /// World never answered (AG News StyleBkd seed 2's failure), and a healthy check.
  static let collapsed = SafeSpaceCheck(predicted: Array(repeating: 1, count: 50) + Array(repeating: 2, count: 50), reference: .uniform(4))
  static let healthy = SafeSpaceCheck(predicted: [0, 1, 2, 3], reference: .uniform(4))

  @Test func onlyAFailedCheckOfTheDefaultsSpectralFlipsIsTriedAgain() throws {
    let next = try #require(SafeSpaceRetry.config(requested: Self.requested, ran: Self.ranSpectral, flipped: 100, check: Self.collapsed))
    // The requested pipeline with confirmed flips: the data choose the screen again, and it stays `p2p`.
    #expect(next.confirmFlips == true && next.retried == true && next.automatic == true && next.spectralScreen == nil && next.ratio == 1)
    #expect(next.releasedWords == Self.ranSpectral.releasedWords)
    #expect(next.variantName == "p2p" && P2PConfig(automatic: true, confirmFlips: true).variantName == "p2p-confirm")
    try next.validate()
    #expect(DefenseLabel.of(next).contains("trained again with confirmed flips after a failed safe-space check"))
    // No second try: a passing check, no check, no flips, the word path, an ablation, a second try.
    #expect(SafeSpaceRetry.config(requested: Self.requested, ran: Self.ranSpectral, flipped: 100, check: Self.healthy) == nil)
    #expect(SafeSpaceRetry.config(requested: Self.requested, ran: Self.ranSpectral, flipped: 100, check: nil) == nil)
    #expect(SafeSpaceRetry.config(requested: Self.requested, ran: Self.ranSpectral, flipped: 0, check: Self.collapsed) == nil)
    var word = Self.requested
    word.screenTriggers = true; word.coverTriggers = true
    #expect(SafeSpaceRetry.config(requested: Self.requested, ran: word, flipped: 100, check: Self.collapsed) == nil)
    let spectral = P2PConfig(spectralScreen: true)
    #expect(SafeSpaceRetry.config(requested: spectral, ran: spectral, flipped: 100, check: Self.collapsed) == nil)
    var confirm = Self.ranSpectral
    confirm.confirmFlips = true
    #expect(SafeSpaceRetry.config(requested: Self.requested, ran: confirm, flipped: 100, check: Self.collapsed) == nil)
    // `retried` belongs to the default's second try only.
    #expect(throws: DefenseError.self) {
      var bad = P2PConfig(automatic: true)
      bad.retried = true
      try bad.validate()
    }
  }

  @Test func theBetterCheckIsKeptAndATieKeepsTheFirst() {
    // Fewer dropped labels first.
    #expect(SafeSpaceRetry.prefersRetry(first: Self.collapsed, retry: Self.healthy))
    #expect(!SafeSpaceRetry.prefersRetry(first: Self.healthy, retry: Self.collapsed))
    // Then the dev macro-F1 lost to the plain prompt (25/75 StyleBkd seed 1: 7.6 points, then 4.8).
    func dev(_ wrapper: Double, _ plain: Double) -> SafeSpaceCheck {
      var c = SafeSpaceCheck(predicted: [0, 1, 1, 1], reference: LabelReference(shares: [0.25, 0.75], rows: 400, source: "dev split"), inputSource: "dev")
      c.macroF1 = wrapper; c.plainMacroF1 = plain
      return c
    }
    #expect(dev(0.781, 0.857).losesTheTask && !dev(0.818, 0.866).losesTheTask)
    #expect(SafeSpaceRetry.prefersRetry(first: dev(0.781, 0.857), retry: dev(0.818, 0.866)))
    #expect(!SafeSpaceRetry.prefersRetry(first: dev(0.781, 0.857), retry: dev(0.70, 0.80)))
    #expect(!SafeSpaceRetry.prefersRetry(first: Self.collapsed, retry: Self.collapsed))
  }

  @Test func theCellKeepsTheBetterTryUnderItsKeyAndRecordsTheOther() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL.path
    let yaml = FileManager.default.temporaryDirectory.appendingPathComponent("retry-\(UUID().uuidString).yaml").path
    try "attacks: [{attack: stylebkd}]\ndefenses: [p2p]\n".write(toFile: yaml, atomically: true, encoding: .utf8)
    let family = ClassificationFamily(plan: try ExperimentPlan.load(yaml), dataRoot: root)
    var first = VerdictTests.cell(defended: true, confusion: [[0, 50], [0, 50]], asr: 0)
    first.p2p = Self.ranSpectral
    first.flippedRows = 100
    first.safeSpaceCheck = Self.collapsed
    first.trainingSeconds = 300
    var second = VerdictTests.cell(defended: true, confusion: [[40, 10], [8, 42]], asr: 5)
    second.key = "sst2_badnets_p2p-auto-confirm-1.0_s42"
    second.safeSpaceCheck = Self.healthy
    second.trainingSeconds = 280
    let kept = family.settle(first: first, retry: second)
    let record = try #require(kept.retry)
    #expect(kept.key == first.key && kept.evaluation == second.evaluation && kept.trainingSeconds == 580)
    #expect(record.kept == "retry" && record.firstCheck == Self.collapsed && record.retryCheck == Self.healthy)
    #expect(record.otherMacroF1 == first.evaluation.metrics.macroF1 && record.otherASR == 0 && record.otherTrainingSeconds == 300)
    #expect(record.summary.contains("kept the second try, whose check passes"))
    // A second try no better keeps the first, and records the second's figures.
    second.safeSpaceCheck = Self.collapsed
    let stays = family.settle(first: first, retry: second)
    #expect(stays.evaluation == first.evaluation && stays.retry?.kept == "first" && stays.retry?.otherASR == 0.1)
    // The grid asks for the second try of this cell only while its check fails.
    let cell = try #require(try family.cells().first)
    #expect(family.retry(cell, after: first)?.defense?.retried == true)
    first.safeSpaceCheck = Self.healthy
    #expect(family.retry(cell, after: first) == nil)
    // The report says which try the cell is.
    #expect(GridReport.markdown(GridResults([kept]), title: "t").contains("kept the second try, whose check passes"))
  }

  @Test func promotingTheSecondTryMovesOnlyTheCommandsOwnEntries() throws {
    let fm = FileManager.default
    let out = fm.temporaryDirectory.appendingPathComponent("retry-\(UUID().uuidString)").path
    try fm.createDirectory(atPath: out + "/retry/spectral", withIntermediateDirectories: true)
    try fm.createDirectory(atPath: out + "/spectral", withIntermediateDirectories: true)
    for (path, text) in [("classifier.json", "first"), ("training_summary.json", "first"), ("spectral/states.json", "first"), ("notes.txt", "user"),
                         ("retry/classifier.json", "second"), ("retry/training_summary.json", "second"), ("retry/spectral/states.json", "second")] {
      try text.write(toFile: out + "/" + path, atomically: true, encoding: .utf8)
    }
    try AdapterFolder.promoteRetry(in: out)
    func read(_ p: String) -> String? { try? String(contentsOfFile: out + "/" + p, encoding: .utf8) }
    #expect(read("classifier.json") == "second" && read("training_summary.json") == "second" && read("spectral/states.json") == "second")
    #expect(read("first-attempt/classifier.json") == "first" && read("first-attempt/spectral/states.json") == "first")
    #expect(read("notes.txt") == "user" && read("first-attempt/notes.txt") == nil && !fm.fileExists(atPath: out + "/retry"))
    // No finished second try: refused, nothing moved.
    #expect(throws: OutputError.self) { try AdapterFolder.promoteRetry(in: out) }
    #expect(read("classifier.json") == "second")
    // `--overwrite` clears the second try's folders with the rest.
    #expect(AdapterFolder.entries.contains("retry") && AdapterFolder.entries.contains("first-attempt") && AdapterFolder.entries.contains("retry.json"))
  }
}

/// The second try end to end on the real model: a 48-row StyleBkd set whose one-epoch safe space
/// answers one label only, so the first try fails its check (the tiny budget, not the attack).
@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct SafeSpaceRetryRunTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL.path

  @Test func aGridCellTrainsItsSecondTryInItsRetryFolderAndResumes() throws {
    let fm = FileManager.default
    let out = fm.temporaryDirectory.appendingPathComponent("grid-\(UUID().uuidString)").path
    let yaml = fm.temporaryDirectory.appendingPathComponent("grid-\(UUID().uuidString).yaml").path
    try """
      name: tiny-retry
      model: \(RealModel.path)
      train_limit: 48
      test_limit: 16
      attacks: [{attack: stylebkd, rate: 0.25, target: 1}]
      defenses: [p2p]
      training: {epochs: 1, batch_size: 8}
      """.write(toFile: yaml, atomically: true, encoding: .utf8)
    let plan = try ExperimentPlan.load(yaml)
    let results = try ExperimentRunner(plan: plan, directory: out, dataRoot: Self.root).run()
    let r = try #require(results.first), record = try #require(r.retry)
    let cell = out + "/cells/sst2_stylebkd_p2p-auto-1.0_s42"
    #expect(r.key == "sst2_stylebkd_p2p-auto-1.0_s42" && r.p2p?.variantName == "p2p" && record.firstCheck.warning != nil)
    #expect(record.reason == record.firstCheck.warning && record.otherTrainingSeconds != nil)
    // The second try read the cell's data (no copy) and left its own model, manifest and check.
    #expect(!fm.fileExists(atPath: cell + "/retry/data") && fm.fileExists(atPath: cell + "/retry/model/classifier.json"))
    let manifest = try JSONOutput.read(P2PManifest.self, from: cell + "/retry/model/manifest.json")
    #expect(manifest.config.confirmFlips == true && manifest.config.retried == true && manifest.unconfirmedFlips != nil)
    #expect(try JSONOutput.read(SafeSpaceCheck.self, from: cell + "/retry/model/" + SafeSpaceCheck.fileName) == record.retryCheck)
    // The kept try is the one whose check is better.
    #expect((record.kept == "retry") == SafeSpaceRetry.prefersRetry(first: record.firstCheck, retry: record.retryCheck))
    #expect(r.safeSpaceCheck == (record.kept == "retry" ? record.retryCheck : record.firstCheck))
    var skipped = 0
    let again = try ExperimentRunner(plan: plan, directory: out, dataRoot: Self.root).run { if case .cellSkipped = $0 { skipped += 1 } }
    #expect(skipped == 1 && again == results)
  }

  @Test func defendTrainsASecondTryAndRecordsIt() throws {
    let fm = FileManager.default
    let dir = fm.temporaryDirectory.appendingPathComponent("retry-cli-\(UUID().uuidString)").path
    let poison = try AdapterCommandTests.run(["poison", "--data", "sst2", "--attack", "stylebkd", "--rate", "0.25", "--target", "1",
                                              "--train-limit", "48", "--test-limit", "16", "--out", dir + "/data"])
    #expect(poison.status == 0, "\(poison.err)")
    let defend = try AdapterCommandTests.run(["defend", "--model", RealModel.path, "--data", dir + "/data", "--out", dir + "/out",
                                              "--epochs", "1", "--batch-size", "8", "--quiet"])
    #expect(defend.status == 0, "\(defend.err)")
    let record = try JSONOutput.read(RetryRecord.self, from: dir + "/out/" + SafeSpaceRetry.recordFile)
    #expect(defend.err.contains("training again with the spectral screen's flips confirmed") && defend.out.contains(record.summary))
    // The kept try's adapter is in --out; the other in retry/ or first-attempt/.
    let other = dir + "/out/" + (record.kept == "retry" ? SafeSpaceRetry.firstAttemptFolder : SafeSpaceRetry.folder)
    #expect(fm.fileExists(atPath: other + "/classifier.json") && fm.fileExists(atPath: dir + "/out/classifier.json"))
    let kept = try JSONOutput.read(P2PManifest.self, from: dir + "/out/manifest.json")
    #expect((kept.config.retried == true) == (record.kept == "retry"))
    // Only a failed check of the adapter the folder holds is warned about.
    let keptCheck = record.kept == "retry" ? record.retryCheck : record.firstCheck
    #expect(defend.err.contains("fails its safe-space check as well") == (keptCheck.warning != nil))
  }
}
