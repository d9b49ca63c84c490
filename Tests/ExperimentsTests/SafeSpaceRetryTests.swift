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
    // Answering a label word for most inputs comes first: a try that answers 2 of 6 inputs, one
    // of each label, loses to one that answers all of them and drops label 1.
    let silent = SafeSpaceCheck(predicted: [0, 1, -1, -1, -1, -1], reference: .uniform(2))
    let dropping = SafeSpaceCheck(predicted: [0, 0, 0, 0, 0, 0], reference: .uniform(2))
    #expect(silent.droppedLabels.isEmpty && silent.mostlyUnanswered && dropping.droppedLabels == [1])
    #expect(!SafeSpaceRetry.prefersRetry(first: dropping, retry: silent) && SafeSpaceRetry.prefersRetry(first: silent, retry: dropping))
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
    #expect(record.kept == .retry && record.firstCheck == Self.collapsed && record.retryCheck == Self.healthy)
    #expect(record.otherMacroF1 == first.evaluation.metrics.macroF1 && record.otherASR == 0 && record.otherTrainingSeconds == 300)
    #expect(record.summary.contains("kept the second try, whose check passes"))
    // A second try no better keeps the first, and records the second's figures.
    second.safeSpaceCheck = Self.collapsed
    let stays = family.settle(first: first, retry: second)
    #expect(stays.evaluation == first.evaluation && stays.retry?.kept == .first && stays.retry?.otherASR == 0.1)
    // A second try that threw keeps the first and says why.
    struct Diverged: Error, CustomStringConvertible { var description: String { "loss is NaN at step 3" } }
    let failed = family.settle(first: first, retryError: Diverged())
    #expect(failed.evaluation == first.evaluation && failed.retry?.kept == .first && failed.retry?.retryCheck == nil)
    #expect(failed.retry?.summary.contains("the second try failed (loss is NaN at step 3); kept the first try") == true)
    // A second try without a check cannot be judged: the first is kept, and the record says why.
    second.safeSpaceCheck = nil
    let unchecked = family.settle(first: first, retry: second)
    #expect(unchecked.evaluation == first.evaluation && unchecked.retry?.kept == .first
      && unchecked.retry?.retryError?.contains("safe-space check") == true)
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
    #expect(!AdapterFolder.promotionPending(in: out))
    // Called again on a finished promotion it moves nothing.
    try AdapterFolder.promoteRetry(in: out)
    #expect(read("classifier.json") == "second" && read("first-attempt/classifier.json") == "first")
    // No finished second try (no training summary in retry/): refused, nothing moved.
    let unfinished = fm.temporaryDirectory.appendingPathComponent("retry-\(UUID().uuidString)").path
    try fm.createDirectory(atPath: unfinished + "/retry", withIntermediateDirectories: true)
    try "first".write(toFile: unfinished + "/classifier.json", atomically: true, encoding: .utf8)
    try "second".write(toFile: unfinished + "/retry/classifier.json", atomically: true, encoding: .utf8)
    #expect(throws: OutputError.self) { try AdapterFolder.promoteRetry(in: unfinished) }
    #expect((try? String(contentsOfFile: unfinished + "/classifier.json", encoding: .utf8)) == "first"
      && !fm.fileExists(atPath: unfinished + "/first-attempt"))
    // A promotion stopped in either phase is finished by calling it again.
    for stop in ["first", "second"] {
      let dir = fm.temporaryDirectory.appendingPathComponent("retry-\(UUID().uuidString)").path
      try fm.createDirectory(atPath: dir + "/retry", withIntermediateDirectories: true)
      try fm.createDirectory(atPath: dir + "/first-attempt", withIntermediateDirectories: true)
      for (path, text) in [("classifier.json", "first"), ("training_log.json", "first"), ("retry/classifier.json", "second"),
                           ("retry/training_summary.json", "second"), ("retry/training_log.json", "second")] {
        try text.write(toFile: dir + "/" + path, atomically: true, encoding: .utf8)
      }
      // Stopped in the first phase after classifier.json moved; in the second after the marker
      // and training_summary.json moved.
      try fm.moveItem(atPath: dir + "/classifier.json", toPath: dir + "/first-attempt/classifier.json")
      if stop == "second" {
        try fm.moveItem(atPath: dir + "/training_log.json", toPath: dir + "/first-attempt/training_log.json")
        try "".write(toFile: dir + "/first-attempt/.first-try-moved", atomically: true, encoding: .utf8)
        try fm.moveItem(atPath: dir + "/retry/training_summary.json", toPath: dir + "/training_summary.json")
      }
      #expect(AdapterFolder.promotionPending(in: dir))
      try AdapterFolder.promoteRetry(in: dir)
      let text = { (p: String) in try? String(contentsOfFile: dir + "/" + p, encoding: .utf8) }
      #expect(text("classifier.json") == "second" && text("training_summary.json") == "second" && text("training_log.json") == "second")
      #expect(text("first-attempt/classifier.json") == "first" && text("first-attempt/training_log.json") == "first")
      #expect(!fm.fileExists(atPath: dir + "/retry") && !AdapterFolder.promotionPending(in: dir))
    }
    // Nothing is overwritten: an entry already in first-attempt/ (not left by a promotion) stops it.
    let clash = fm.temporaryDirectory.appendingPathComponent("retry-\(UUID().uuidString)").path
    try fm.createDirectory(atPath: clash + "/retry", withIntermediateDirectories: true)
    try fm.createDirectory(atPath: clash + "/first-attempt", withIntermediateDirectories: true)
    for path in ["classifier.json", "first-attempt/classifier.json", "retry/training_summary.json"] {
      try path.write(toFile: clash + "/" + path, atomically: true, encoding: .utf8)
    }
    #expect(throws: OutputError.self) { try AdapterFolder.promoteRetry(in: clash) }
    #expect((try? String(contentsOfFile: clash + "/first-attempt/classifier.json", encoding: .utf8)) == "first-attempt/classifier.json")
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
    // The base model reads the training rows once: the second try reuses the first's spectral screen.
    var baseReads = 0
    let results = try ExperimentRunner(plan: plan, directory: out, dataRoot: Self.root).run {
      if case let .evaluating(what, done, total) = $0, what.hasPrefix("base-model representations"), done == total { baseReads += 1 }
    }
    #expect(baseReads == 1)
    let r = try #require(results.first)
    let record = try #require(r.retry, "this test needs a 48-row, one-epoch run whose first check fails (it did on 2026-12-06); did the tiny run's safe space learn both labels?")
    let cell = out + "/cells/sst2_stylebkd_p2p-auto-1.0_s42"
    #expect(r.key == "sst2_stylebkd_p2p-auto-1.0_s42" && r.p2p?.variantName == "p2p" && record.firstCheck.warning != nil)
    #expect(record.reason == record.firstCheck.warning && record.retryError == nil)
    // The second try read the cell's data (no copy) and left its own model, manifest and check.
    #expect(!fm.fileExists(atPath: cell + "/retry/data") && fm.fileExists(atPath: cell + "/retry/model/classifier.json"))
    let manifest = try JSONOutput.read(P2PManifest.self, from: cell + "/retry/model/manifest.json")
    #expect(manifest.config.confirmFlips == true && manifest.config.retried == true && manifest.unconfirmedFlips != nil)
    let retryCheck = try #require(record.retryCheck)
    #expect(try JSONOutput.read(SafeSpaceCheck.self, from: cell + "/retry/model/" + SafeSpaceCheck.fileName) == retryCheck)
    #expect(r.safeSpaceCheck == (record.kept == .retry ? retryCheck : record.firstCheck))
    var skipped = 0
    let again = try ExperimentRunner(plan: plan, directory: out, dataRoot: Self.root).run { if case .cellSkipped = $0 { skipped += 1 } }
    #expect(skipped == 1 && again == results)
    // A cell stopped after its second try trained (no result.json yet) trains nothing again: both
    // tries reuse their models and give the same figures.
    try fm.removeItem(atPath: cell + "/result.json")
    var trained = 0
    let resumed = try ExperimentRunner(plan: plan, directory: out, dataRoot: Self.root).run { if case .training = $0 { trained += 1 } }
    #expect(trained == 0 && resumed.first?.evaluation.metrics == r.evaluation.metrics && resumed.first?.retry?.kept == record.kept)
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
    let retryCheck = try #require(record.retryCheck, "the second try finished: \(record.retryError ?? "")")
    #expect(defend.err.contains("training again with the spectral screen's flips confirmed") && defend.out.contains(record.summary))
    // The kept try's adapter is in --out; the other in retry/ or first-attempt/.
    let other = dir + "/out/" + (record.kept == .retry ? SafeSpaceRetry.firstAttemptFolder : SafeSpaceRetry.folder)
    #expect(fm.fileExists(atPath: other + "/classifier.json") && fm.fileExists(atPath: dir + "/out/classifier.json"))
    let kept = try JSONOutput.read(P2PManifest.self, from: dir + "/out/manifest.json")
    #expect((kept.config.retried == true) == (record.kept == .retry))
    // Only a failed check of the adapter the folder holds is warned about.
    let keptCheck = record.kept == .retry ? retryCheck : record.firstCheck
    #expect(defend.err.contains("fails its safe-space check as well") == (keptCheck.warning != nil))
    // --resume on the finished folder changes nothing.
    let manifest = fm.contents(atPath: dir + "/out/manifest.json"), adapter = fm.contents(atPath: dir + "/out/adapter_model.safetensors")
    let resumed = try AdapterCommandTests.run(["defend", "--model", RealModel.path, "--data", dir + "/data", "--out", dir + "/out",
                                               "--epochs", "1", "--batch-size", "8", "--quiet", "--resume"])
    #expect(resumed.status == 0 && resumed.out.contains("holds a finished defense"), "\(resumed.err)")
    #expect(fm.contents(atPath: dir + "/out/manifest.json") == manifest && fm.contents(atPath: dir + "/out/adapter_model.safetensors") == adapter)
  }
}
