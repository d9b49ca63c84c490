import Backdoor
import Defense
import Experiments
import FileIO
import Foundation
import TestSupport
import Testing
import Training

/// Experiment files are decoded strictly and validated whole before anything runs.
struct StrictPlanTests {
  static func message(_ yaml: String) -> String? {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("strict-\(UUID().uuidString).yaml").path
    try? yaml.write(toFile: path, atomically: true, encoding: .utf8)
    do { _ = try ExperimentPlan.load(path); return nil } catch { return "\(error)" }
  }

  @Test func unknownKeysNameTheKeyLineAndClosestKey() throws {
    let epoch = try #require(Self.message("name: x\nattacks:\n  - {attack: badnets}\ntraining: {epoch: 5, lr: 1.0e-3}\n"))
    #expect(epoch.contains(".yaml:4") && epoch.contains("unknown key 'epoch'") && epoch.contains("did you mean 'epochs'"), "\(epoch)")
    let lr = try #require(Self.message("attacks:\n  - {attack: badnets}\ntraining:\n  epochs: 1\n  learning_rate: 0.001\n"))
    #expect(lr.contains(".yaml:5") && lr.contains("'learning_rate' in training"), "\(lr)")
    let trigger = try #require(Self.message("attacks:\n  - {attack: badnets, trigers: cf}\n"))
    #expect(trigger.contains(".yaml:2") && trigger.contains("did you mean 'trigger'"), "\(trigger)")
    let misplaced = try #require(Self.message("attacks:\n  - {attack: badnets}\nepochs: 3\n"))
    #expect(misplaced.contains("'epochs' belongs under 'training:'"), "\(misplaced)")
    let generation = try #require(Self.message("task: math\nattacks:\n  - {attack: badchain}\nmax_new_token: 32\n"))
    #expect(generation.contains("did you mean 'max_new_tokens'"), "\(generation)")
    // Anchors and aliases are refused before composing (found by fuzzing: nested aliases as a key).
    let laughs = (1...6).map { "z\($0): &a\($0) [" + Array(repeating: "*a\($0 - 1)", count: 10).joined(separator: ", ") + "]" }.joined(separator: "\n")
    let alias = try #require(Self.message("zz: &a0 [x, x]\n" + laughs + "\nattacks: [{attack: badnets, ? *a6 : 1}]\n"))
    #expect(alias.contains(".yaml:1") && alias.contains("anchors and aliases"), "\(alias)")
    // Quotes, comments and flow indicators hide no anchor (bypasses of a quote-aware scan).
    for bomb in ["z1: {q: it's, a: &a1 [x, x]}", "z1: {q: x 'y, a: &a1 [x, x]}", "name: a, 'x\nz1: &a1 [x, x]",
                 "z1: {q: \"a\n  b\", a: &a1 [x, x]}", "z1: {\"k\":&a1 [1, 1]}", "z1: {?&a1 k: 1}", "# c\rz1: &a1 [x, x]",
                 "name: \"Q &A\""] {
      let m = try #require(Self.message(bomb + "\nattacks: [{attack: badnets}]\n"), "\(bomb)")
      #expect(m.contains("anchors and aliases"), "\(bomb): \(m)")
    }
    #expect(Self.message("name: \"Q&A\" # a & b\nattacks:\n  - {attack: addsent, trigger: 'fish&chips'}\n") == nil)
    // A repeated key is named, without quoting the file (Yams' own message quotes all of it).
    let repeated = try #require(Self.message("name: a\ntask: math\nname: b\nattacks:\n  - {attack: badchain}\n"))
    #expect(repeated.contains("a mapping repeats the key(s) 'name'") && !repeated.contains("attacks"), "\(repeated)")
    // CRLF and a byte-order mark are the same file.
    #expect(Self.message("\u{FEFF}name: x\r\nattacks:\r\n  - {attack: badnets}\r\ntraining: {epochs: 1}\r\n") == nil)
  }

  @Test func emptyGridsAndBadTargetsFailAtLoad() throws {
    #expect(Self.message("attacks:\n  - {attack: badnets}\ndefenses: []\n")?.contains("at least one defense") == true)
    #expect(Self.message("attacks:\n  - {attack: badnets}\ndatasets: []\n")?.contains("at least one dataset") == true)
    #expect(Self.message("attacks:\n  - {attack: badnets, target: 99}\n")?.contains("a label of sst2 (0 or 1)") == true)
    #expect(Self.message("attacks:\n  - {attack: badnets, target: 4}\ndatasets: [agnews]\n")?.contains("0...3") == true)
    #expect(Self.message("attacks:\n  - {attack: badnets}\ndatasets: [nosuch]\n")?.contains("datasets 'nosuch'") == true)
    // Decoding errors name the key path, not Swift's types.
    let rate = try #require(Self.message("attacks:\n  - {attack: badnets, rate: lots}\n"))
    #expect(rate.contains("'attacks[0].rate' must be a number") && !rate.contains("DecodingError"), "\(rate)")
    // The paper's P2P has its own name.
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("strict-\(UUID().uuidString).yaml").path
    try "attacks:\n  - {attack: badnets}\ndefenses: [p2p-paper]\n".write(toFile: path, atomically: true, encoding: .utf8)
    let cells = try ExperimentPlan.load(path).cells()
    #expect(cells.count == 1 && cells[0].defense?.probeScreen == nil && cells[0].defense?.screenTriggers == nil && cells[0].key.contains("_p2p-0.2_"))
  }

  @Test func fingerprintsListWhatChanged() throws {
    var t = TrainingConfig()
    t.epochs = 2
    let old = try CellFingerprint(settings: [("training", t), ("seed", UInt64(42))], files: ["model": "aa", "data:sst2/train.tsv": "bb"])
    t.epochs = 5
    let new = try CellFingerprint(settings: [("training", t), ("seed", UInt64(42))], files: ["model": "aa", "data:sst2/train.tsv": "cc"])
    #expect(new.changes(from: old) == ["training.epochs: 2 -> 5", "data:sst2/train.tsv: content changed (sha256 bb -> cc)"])
    #expect(old.changes(from: old).isEmpty)
    // A group added to fingerprints later counts as its earlier value when the stored one lacks it.
    let before = try CellFingerprint(settings: [("seed", UInt64(42))], files: [:])
    #expect(try CellFingerprint(settings: [("seed", UInt64(42)), ("selection", "last")], files: [:]).changes(from: before).isEmpty)
    #expect(try CellFingerprint(settings: [("seed", UInt64(42)), ("selection", "best-dev")], files: [:]).changes(from: before)
      == ["selection: not recorded when the cell ran (then always the default) -> selection best-dev"])
    #expect(try CellFingerprint(settings: [("seed", UInt64(42)), ("ablation", true)], files: [:]).changes(from: before).isEmpty)
    #expect(try CellFingerprint(settings: [("seed", UInt64(42)), ("ablation", false)], files: [:]).changes(from: before).count == 1)
    #expect(try CellFingerprint(settings: [("seed", UInt64(42)), ("newgroup", 3)], files: [:]).changes(from: before)
      == ["newgroup: not recorded when the cell ran (no default) -> newgroup 3"])
    // The screens' rules revision: a cell that recorded none, or another, is not reused.
    let rules = try CellFingerprint(settings: [("seed", UInt64(42)), ("rules", 2)], files: [:])
    #expect(rules.changes(from: before) == ["rules: not recorded when the cell ran (the screens' rules were not versioned then, so its screens, "
                                            + "benign rows and flips may be another revision's) -> rules 2"])
    #expect(rules.changes(from: try CellFingerprint(settings: [("seed", UInt64(42)), ("rules", 1)], files: [:])) == ["rules: 1 -> 2"])
  }

  @Test func cellsWhoseDecisionsFollowTheScreensRulesFingerprintTheirRevision() throws {
    let yaml = FileManager.default.temporaryDirectory.appendingPathComponent("rules-\(UUID().uuidString).yaml").path
    try "name: rules\nmodel: \(RealModel.path)\nattacks: [{attack: badnets}]\ndefenses: [none, p2p, p2p-paper, p2p-cover, p2p-spectral, onion]\n"
      .write(toFile: yaml, atomically: true, encoding: .utf8)
    let plan = try ExperimentPlan.load(yaml)
    let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL.path
    let family = ClassificationFamily(plan: plan, dataRoot: data), hashes = FileHashes()
    var recorded: [String: String?] = [:]
    for cell in try plan.cells(dataRoot: data) {
      recorded[cell.defenseLabel] = try family.fingerprint(cell, modelPath: RealModel.path, hashes: hashes).settings["rules"]
    }
    let revision = "\(ScreenRules.revision)"
    #expect(recorded.values.filter { $0 == revision }.count == 3 && recorded.values.filter { $0 == nil }.count == 3, "\(recorded)")
    #expect(recorded["none"] == .some(nil) && recorded["onion"] == .some(nil))
  }
}

/// Output folders of train/defend and evaluate.
struct AdapterFolderTests {
  static func folder(_ files: [String]) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("adapter-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for f in files { try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/" + f)) }
    return dir
  }

  @Test func anEarlierTrainingNeedsResumeOrOverwriteAndOverwriteRemovesOnlyItsFiles() throws {
    let dir = try Self.folder(["adapter_config.json", "training_summary.json", "my-notes.txt"])
    #expect(throws: OutputError.self) { try AdapterFolder.prepare(dir, inputs: [], overwrite: false, resume: false) }
    try AdapterFolder.prepare(dir, inputs: [], overwrite: false, resume: true)
    #expect(FileManager.default.fileExists(atPath: dir + "/training_summary.json"))
    try AdapterFolder.prepare(dir, inputs: [], overwrite: true, resume: false)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["my-notes.txt"])
    let foreign = try Self.folder(["thesis.tex"])
    #expect(throws: OutputError.self) { try AdapterFolder.prepare(foreign, inputs: [], overwrite: true, resume: false) }
    #expect(throws: OutputError.self) { try AdapterFolder.prepare(dir, inputs: [dir + "/data"], overwrite: true, resume: false) }
  }

  @Test func aDownloadedPEFTAdapterOrAForeignPlanIsNotOurs() throws {
    // adapter_config.json + weights alone are any PEFT adapter (e.g. from the Hugging Face hub).
    let hf = try Self.folder(["adapter_config.json", "adapter_model.safetensors"])
    #expect(throws: OutputError.self) { try AdapterFolder.prepare(hf, inputs: [], overwrite: true, resume: false) }
    #expect(Set(try FileManager.default.contentsOfDirectory(atPath: hf)) == ["adapter_config.json", "adapter_model.safetensors"])
    // A plan.json that is not an experiment plan does not make a grid folder.
    let other = try Self.folder([])
    try Data("{\"resource_changes\": []}".utf8).write(to: URL(fileURLWithPath: other + "/plan.json"))
    #expect(throws: OutputError.self) { try OutputFolder.check(other, kind: GridFolder.outputKind, replace: true) }
    try Data("{\"attacks\": [{\"attack\": \"badnets\"}]}".utf8).write(to: URL(fileURLWithPath: other + "/plan.json"))
    #expect(try OutputFolder.check(other, kind: GridFolder.outputKind, replace: true) == .own)
  }

  @Test func evaluationFilesReplaceOnlyEarlierEvaluations() throws {
    let dir = try Self.folder([])
    try EvaluationFolder.check(dir)
    try Data("{\"seconds\": 1}".utf8).write(to: URL(fileURLWithPath: dir + "/evaluation.json"))
    #expect(throws: OutputError.self) { try EvaluationFolder.check(dir) }
    try Data("{\"poisoning\": {}, \"metrics\": {}}".utf8).write(to: URL(fileURLWithPath: dir + "/evaluation.json"))
    try EvaluationFolder.check(dir)
    #expect(throws: OutputError.self) { try EvaluationFolder.check(dir + "/evaluation.json") }
  }
}

/// A changed experiment file never reuses cells run with other settings: the run stops before
/// training and names the keys, or re-runs them with `rerunChanged`.
@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct StaleCellTests {
  @Test func changedSettingsOrDataStopTheRunOrRerunTheCell() throws {
    let fm = FileManager.default
    let root = fm.temporaryDirectory.appendingPathComponent("stale-root-\(UUID().uuidString)").path
    try fm.createDirectory(atPath: root, withIntermediateDirectories: true)
    try fm.copyItem(atPath: PoisonOutputRoot.path + "/sst2", toPath: root + "/sst2")
    let out = fm.temporaryDirectory.appendingPathComponent("stale-grid-\(UUID().uuidString)").path
    func plan(epochs: Int) throws -> ExperimentPlan {
      let yaml = fm.temporaryDirectory.appendingPathComponent("stale-\(UUID().uuidString).yaml").path
      try """
        name: stale
        model: \(RealModel.path)
        train_limit: 16
        test_limit: 8
        attacks: [{attack: badnets, rate: 0.25, target: 1}]
        defenses: [none]
        training: {epochs: \(epochs), batch_size: 8}
        """.write(toFile: yaml, atomically: true, encoding: .utf8)
      return try ExperimentPlan.load(yaml)
    }
    let first = try ExperimentRunner(plan: plan(epochs: 1), directory: out, dataRoot: root).run()
    #expect(first.count == 1 && first[0].training.epochs == 1)
    let key = first[0].key
    #expect(fm.fileExists(atPath: out + "/cells/\(key)/fingerprint.json"))
    // Same file: reused.
    var skipped = 0
    _ = try ExperimentRunner(plan: plan(epochs: 1), directory: out, dataRoot: root).run { if case .cellSkipped = $0 { skipped += 1 } }
    #expect(skipped == 1)
    // epochs changed: nothing runs, the error names the cell and the key.
    let result = fm.contents(atPath: out + "/cells/\(key)/result.json")
    do { _ = try ExperimentRunner(plan: plan(epochs: 2), directory: out, dataRoot: root).run(); Issue.record("stale cell reused") } catch let e as StaleCellsError {
      #expect(e.cells.map(\.key) == [key] && e.cells[0].changes == ["training.epochs: 1 -> 2"])
      #expect(e.description.contains("--rerun-changed"))
    }
    #expect(fm.contents(atPath: out + "/cells/\(key)/result.json") == result)
    // A cell without a fingerprint (an older version's, finished or started) is never reused silently.
    try fm.removeItem(atPath: out + "/cells/\(key)/fingerprint.json")
    do { _ = try ExperimentRunner(plan: plan(epochs: 1), directory: out, dataRoot: root).run(); Issue.record("unfingerprinted cell reused") } catch let e as StaleCellsError {
      #expect(e.cells[0].changes[0].hasPrefix("no readable fingerprint.json"))
    }
    try fm.removeItem(atPath: out + "/cells/\(key)/result.json")
    #expect(throws: StaleCellsError.self) { try ExperimentRunner(plan: plan(epochs: 1), directory: out, dataRoot: root).run() }
    try fm.removeItem(atPath: out + "/cells/\(key)")
    _ = try ExperimentRunner(plan: plan(epochs: 1), directory: out, dataRoot: root).run()
    let test = root + "/sst2/test.tsv"
    try (try String(contentsOfFile: test, encoding: .utf8) + "one more row\t1\n").write(toFile: test, atomically: true, encoding: .utf8)
    do { _ = try ExperimentRunner(plan: plan(epochs: 1), directory: out, dataRoot: root).run(); Issue.record("stale cell reused") } catch let e as StaleCellsError {
      #expect(e.cells[0].changes.count == 1 && e.cells[0].changes[0].hasPrefix("data:sst2/test.tsv: content changed"))
    }
    // --report-only does not report a changed cell under the new file either.
    #expect(throws: StaleCellsError.self) { try ExperimentRunner(plan: plan(epochs: 2), directory: out, dataRoot: root).writeReportsOnly() }
    // --rerun-changed: the cell runs again with the new settings.
    var changed = 0
    let again = try ExperimentRunner(plan: plan(epochs: 2), directory: out, dataRoot: root, rerunChanged: true).run {
      if case .cellChanged = $0 { changed += 1 }
    }
    #expect(changed == 1 && again[0].training.epochs == 2)
  }

  @Test func theGridIsValidatedBeforeTheFirstCell() throws {
    let fm = FileManager.default
    let out = fm.temporaryDirectory.appendingPathComponent("early-\(UUID().uuidString)").path
    let yaml = fm.temporaryDirectory.appendingPathComponent("early-\(UUID().uuidString).yaml").path
    // The second dataset has 4 labels: digits 4..7 are the safe words, fine; a missing model is not.
    try "model: /nonexistent/model.gguf\nattacks: [{attack: badnets, rate: 0.1, target: 1}]\ndefenses: [none]\n"
      .write(toFile: yaml, atomically: true, encoding: .utf8)
    #expect(throws: ExperimentError.self) { try ExperimentRunner(plan: ExperimentPlan.load(yaml), directory: out, dataRoot: PoisonOutputRoot.path).run() }
    #expect(!fm.fileExists(atPath: out + "/cells"))
    // A foreign non-empty folder is not a grid folder.
    try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
    try Data("x".utf8).write(to: URL(fileURLWithPath: out + "/thesis.tex"))
    try "model: \(RealModel.path)\nattacks: [{attack: badnets, rate: 0.1, target: 1}]\ndefenses: [none]\n".write(toFile: yaml, atomically: true, encoding: .utf8)
    #expect(throws: OutputError.self) { try ExperimentRunner(plan: ExperimentPlan.load(yaml), directory: out, dataRoot: PoisonOutputRoot.path).run() }
  }
}

enum PoisonOutputRoot {
  static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL.path
}

/// A grid folder holds one experiment: another experiment's run is not overwritten.
struct GridFolderTests {
  @Test func anotherExperimentsFolderIsRefused() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("grid-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try GridFolder.checkSameExperiment(dir, name: "b")  // no plan yet: a new folder
    try Data(#"{"name": "sst2-full", "attacks": []}"#.utf8).write(to: URL(fileURLWithPath: dir + "/plan.json"))
    #expect(GridFolder.recordedName(dir) == "sst2-full")
    try GridFolder.checkSameExperiment(dir, name: "sst2-full")
    do { try GridFolder.checkSameExperiment(dir, name: "sst2-full-default"); Issue.record("another experiment's folder accepted") } catch let e as ExperimentError {
      #expect(e.description.contains("holds the run of experiment 'sst2-full', not 'sst2-full-default'"))
    }
    try Data(#"{"attacks": []}"#.utf8).write(to: URL(fileURLWithPath: dir + "/plan.json"))
    try GridFolder.checkSameExperiment(dir, name: nil)
    #expect(throws: ExperimentError.self) { try GridFolder.checkSameExperiment(dir, name: "named") }
  }
}
