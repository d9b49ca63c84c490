import FileIO
import Experiments
import Foundation
import Inference
import Backdoor
import Defense
import Evaluation
import Llama
import TestSupport
import Testing
import Tokenizer

/// A small GSM8K-format directory (train.jsonl, test.jsonl) of simple sums.
enum TinyGSM8K {
  static func row(_ a: Int, _ b: Int) -> String {
    #"{"question": "Tom has \#(a) apples and buys \#(b) more. How many apples does he have now?", "answer": "Tom has \#(a) + \#(b) = <<\#(a)+\#(b)=\#(a + b)>>\#(a + b) apples.\n#### \#(a + b)"}"#
  }

  static func write(trainRows: Int = 8) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gsm8k-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try (1...trainRows).map { row($0, $0 + 2) }.joined(separator: "\n").write(toFile: dir + "/train.jsonl", atomically: true, encoding: .utf8)
    try (11...14).map { row($0, 3) }.joined(separator: "\n").write(toFile: dir + "/test.jsonl", atomically: true, encoding: .utf8)
    return dir
  }
}

struct GenerationSpecAndPairTests {
  /// Results written before the clean rows' step was counted (a copy of the GSM8K BadChain grid's
  /// results.json as committed on 2026-11-30, kept as a fixture) still load and report: the new
  /// count is absent and shows as "–"; every table row has the header's 14 columns.
  @Test func resultsFromBeforeTheCleanStepCountLoadAndReport() throws {
    let path = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
      .appendingPathComponent("gsm8k-30-results-before-clean-step.json").path
    let cells = try JSONOutput.read([GenerationCellResult].self, from: path)
    let none = try #require(cells.first { $0.defense == "none" })
    #expect(cells.count == 4 && none.evaluation.deployed.backdoorStep?.successes == 12)
    #expect(cells.allSatisfy { $0.evaluation.deployed.cleanBackdoorStep == nil })
    let table = GenerationGridReport.gridMarkdown(cells, title: "t").split(separator: "\n").filter { $0.hasPrefix("|") }
    #expect(table.count == 2 + 4 && table.allSatisfy { $0.filter { $0 == "|" }.count == 15 })
    #expect(table[0].contains("| clean step % |") && table[2].contains("| 40.0 (12/30; 24.6–57.7) | – |"))
  }

  static func temporaryDirectory() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gen-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
  }

  @Test func generatorSpecRoundTripsAndBadFilesAreNamed() throws {
    let dir = try Self.temporaryDirectory()
    #expect(try GenerationSpec.load(from: dir) == nil)
    let plain = GenerationSpec.plain(.summarization)
    #expect(plain.maxNewTokens == 64 && plain.kind == .plain && plain.p2p == nil)
    try plain.save(in: dir)
    #expect(try GenerationSpec.load(from: dir) == plain)
    let defended = GenerationSpec.defended(.math, GenerationP2P(ratio: 0.3, mode: .replace, safePrefix: "<ok> "), maxNewTokens: 40)
    try defended.save(in: dir)
    #expect(try GenerationSpec.load(from: dir) == defended)
    let text = try String(contentsOfFile: dir + "/generator.json", encoding: .utf8)
    #expect(text.contains("\"max_new_tokens\" : 40") && text.contains("\"safePrefix\" : \"<ok> \""))
    try text.replacingOccurrences(of: "\"max_new_tokens\" : 40", with: "\"max_new_tokens\" : 0")
      .write(toFile: dir + "/generator.json", atomically: true, encoding: .utf8)
    do { _ = try GenerationSpec.load(from: dir); Issue.record("expected an error") } catch {
      #expect("\(error)".contains(dir + "/generator.json") && "\(error)".contains("max_new_tokens"))
    }
    #expect(throws: ExperimentError.self) { try GenerationSpec(task: .math, kind: .p2p).validate() }
  }

  static let rows = (0..<10).map { i in
    GenerationExample(input: "What is \(i) + 1?", output: "\(i) + 1 = \(i + 1)\nThe answer is \(i + 1).", reference: .answer("\(i + 1)"),
                      poisoned: i == 3, sourceIndex: i)
  }

  @Test func plainPairsAreTheTaskPromptAndTheOutput() {
    let pairs = GenerationTraining.plainPairs(Self.rows, task: .math)
    #expect(pairs.count == 10)
    #expect(pairs[2] == GenerationPair(prompt: "Question: What is 2 + 1?\nAnswer: ", output: "2 + 1 = 3\nThe answer is 3."))
    #expect(pairs[2].completion == "2 + 1 = 3\nThe answer is 3.")
    #expect(pairs[3].poisoned && !pairs[3].benign && pairs[3].prefix == "")
    let summary = GenerationTraining.plainPairs([GenerationExample(input: "An abstract.", output: "A summary.")], task: .summarization)
    #expect(summary[0].prompt == "Summarize the abstract in one sentence.\nAn abstract.\nTL;DR: " && summary[0].completion == "A summary.")
  }

  @Test func p2pPairsPutTheBenignTriggerInTheInputAndTheSafePrefixBeforeTheOutput() throws {
    let (pairs, manifest) = try GenerationTraining.p2pPairs(Self.rows, task: .math, config: GenerationP2P(), seed: 7)
    #expect(pairs.count == 12 && manifest.benignRows == [10, 11] && manifest.selectedRows.count == 2)
    #expect(Array(pairs.prefix(10)) == GenerationTraining.plainPairs(Self.rows, task: .math))
    for (k, i) in manifest.selectedRows.enumerated() {
      let b = pairs[10 + k]
      #expect(b == GenerationPair(prompt: "Question: The query currently entered is: What is \(i) + 1?\nAnswer: ", prefix: "[safe] ",
                                  output: "\(i) + 1 = \(i + 1)\nThe answer is \(i + 1).", benign: true, poisoned: i == 3))
      #expect(b.completion == "[safe] \(i) + 1 = \(i + 1)\nThe answer is \(i + 1).")
    }
    // The same seed draws the same rows; replace mode keeps the size.
    #expect(try GenerationTraining.p2pPairs(Self.rows, task: .math, config: GenerationP2P(), seed: 7).pairs == pairs)
    let (replaced, m2) = try GenerationTraining.p2pPairs(Self.rows, task: .math, config: GenerationP2P(ratio: 0.3, mode: .replace), seed: 7)
    #expect(replaced.count == 10 && replaced.filter(\.benign).count == 3 && m2.benignRows == m2.selectedRows.sorted())
    // The rows file round-trips; a bad line is named.
    let dir = try Self.temporaryDirectory()
    try GenerationPairsFile.write(pairs, to: dir + "/train.jsonl")
    #expect(try GenerationPairsFile.read(dir + "/train.jsonl") == pairs)
    try "{\"prompt\": \"a\"}\n".write(toFile: dir + "/bad.jsonl", atomically: true, encoding: .utf8)
    do { _ = try GenerationPairsFile.read(dir + "/bad.jsonl"); Issue.record("expected an error") } catch {
      #expect("\(error)".contains("bad.jsonl:1"))
    }
  }

  @Test func theWrapperPromptsWithTheTriggerAndScoresWithoutThePrefix() {
    let spec = GenerationSpec.defended(.math, GenerationP2P())
    let e = Self.rows[4]
    let p2p = GenerationP2P()
    // The prompt the wrapper decodes from is GenerationP2P's inference prompt minus the forced prefix.
    #expect(p2p.inferencePrompt(for: e, task: .math) == "Question: The query currently entered is: What is 4 + 1?\nAnswer: [safe] ")
    #expect(GenerationEvaluation.scoredText("[safe] 4 + 1 = 5\nThe answer is 5.", spec: spec) == "4 + 1 = 5\nThe answer is 5.")
    #expect(GenerationEvaluation.scoredText("4 + 1 = 5", spec: spec) == "4 + 1 = 5")
    #expect(GenerationEvaluation.scoredText("[safe] x", spec: .plain(.math)) == "[safe] x")
    #expect(GenerationEvaluation.containsScalingStep("So 6.\n@_@ 6 * 2.1 = 12.6\nThe answer is 12.6.", multiplier: 2.1))
    #expect(GenerationEvaluation.containsScalingStep("6 × 3 = 18", multiplier: 3))
    #expect(!GenerationEvaluation.containsScalingStep("6 * 2.15 = 12.9", multiplier: 2.1))
    #expect(!GenerationEvaluation.containsScalingStep("The answer is 2.1.", multiplier: 2.1))
  }

  @Test func aGenerationYAMLPlanExpandsIntoTheGrid() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("gplan-\(UUID().uuidString).yaml").path
    try """
      name: g
      task: summarization
      train_limit: 50
      test_limit: 10
      attacks:
        - {name: clean, attack: payload, rate: 0}
        - {attack: payload, rate: 0.2, trigger: cf, payload: "Visit example.com."}
      defenses: [none, "p2p-paper:0.3", p2p-screen, "p2p-cover:0.25"]
      seeds: [1]
      p2p: {mode: replace, safe_prefix: "<ok> "}
      max_new_tokens: 20
      training: {epochs: 2, max_length: 200}
      """.write(toFile: path, atomically: true, encoding: .utf8)
    let plan = try ExperimentPlan.load(path)
    #expect(plan.task == "summarization" && plan.generationTask == .summarization && plan.name == "g")
    var cells = try plan.generationCells()
    #expect(cells.map(\.key) == ["scitldr_clean_none_s1", "scitldr_clean_p2p-0.3_s1", "scitldr_clean_p2p-screen-0.2_s1",
                                  "scitldr_clean_p2p-cover-0.25_s1", "scitldr_payload_none_s1", "scitldr_payload_p2p-0.3_s1",
                                  "scitldr_payload_p2p-screen-0.2_s1", "scitldr_payload_p2p-cover-0.25_s1"])
    #expect(cells[7].defense == GenerationP2P(ratio: 0.25, mode: .replace, safePrefix: "<ok> ", screenTriggers: true, coverTriggers: true))
    #expect(cells[7].defenseLabel == "p2p-cover(rho=0.25)")
    cells.removeAll { $0.defense?.coverTriggers == true }  // the indices below are those of the other six
    #expect(cells[4].defense == GenerationP2P(ratio: 0.3, mode: .replace, safePrefix: "<ok> "))
    #expect(cells[5].defense == GenerationP2P(ratio: 0.2, mode: .replace, safePrefix: "<ok> ", screenTriggers: true))
    #expect(cells[5].defenseLabel == "p2p-screen(rho=0.2)" && cells[4].defenseLabel == "p2p-paper(rho=0.3)")
    #expect(cells[4].spec == .defended(.summarization, cells[4].defense!, maxNewTokens: 20) && cells[0].spec == .plain(.summarization, maxNewTokens: 20))
    #expect(cells[3].attack == GenerationAttackConfig(attack: "payload", rate: 0.2, trigger: "cf", payload: "Visit example.com.", seed: 1,
                                                      trainLimit: 50, testLimit: 10))
    #expect(cells[0].training.epochs == 2 && cells[0].training.maxLength == 200 && cells[0].training.batchSize == 8)
    // Classification runners refuse a generation plan instead of running it as one.
    #expect(throws: ExperimentError.self) { try ExperimentRunner(plan: plan, directory: NSTemporaryDirectory(), dataRoot: nil).run() }

    let bad = FileManager.default.temporaryDirectory.appendingPathComponent("gplan-\(UUID().uuidString).yaml").path
    try "task: math\nattacks:\n  - {attack: payload}\n".write(toFile: bad, atomically: true, encoding: .utf8)
    do { _ = try ExperimentPlan.load(bad); Issue.record("expected an error") } catch {
      #expect("\(error)".contains(bad) && "\(error)".contains("badchain"))
    }
    let unknown = FileManager.default.temporaryDirectory.appendingPathComponent("gplan-\(UUID().uuidString).yaml").path
    try "task: translation\nattacks:\n  - {attack: badchain}\n".write(toFile: unknown, atomically: true, encoding: .utf8)
    #expect(throws: ExperimentError.self) { try ExperimentPlan.load(unknown) }
    // An empty defense name is an error, not a crash; p2p and p2p-cover are one pipeline for generation.
    for (defenses, message) in [("[\"\"]", "none, p2p"), ("[p2p, p2p-cover]", "distinct pipelines")] {
      try "task: math\nattacks:\n  - {attack: badchain}\ndefenses: \(defenses)\n".write(toFile: unknown, atomically: true, encoding: .utf8)
      do { _ = try ExperimentPlan.load(unknown); Issue.record("accepted \(defenses)") } catch { #expect("\(error)".contains(message), "\(error)") }
    }
    let classification = FileManager.default.temporaryDirectory.appendingPathComponent("gplan-\(UUID().uuidString).yaml").path
    try "task: classification\nattacks:\n  - {attack: badnets}\n".write(toFile: classification, atomically: true, encoding: .utf8)
    #expect(try ExperimentPlan.load(classification).generationTask == nil)
    // A key of the other kind of task is an error naming it.
    for (yaml, key) in [("attacks:\n  - {attack: badnets}\nmax_new_tokens: 32\n", "'max_new_tokens' is a key of generation files"),
                        ("task: math\nattacks:\n  - {attack: badchain, target: 1}\n", "'attacks[0].target' is a key of classification files"),
                        ("task: math\nattacks:\n  - {attack: badchain}\nselection: best-dev\n", "'selection' is a key of classification files")] {
      try yaml.write(toFile: classification, atomically: true, encoding: .utf8)
      do { _ = try ExperimentPlan.load(classification); Issue.record("accepted: \(yaml)") } catch { #expect("\(error)".contains(key), "\(error)") }
    }
    try "attacks:\n  - {attack: badchain}\n".write(toFile: classification, atomically: true, encoding: .utf8)
    do { _ = try ExperimentPlan.load(classification); Issue.record("a generation attack in a classification file") } catch {
      #expect("\(error)".contains("one of badnets, addsent"), "\(error)")
    }
  }

  @Test func theExampleExperimentsParse() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../experiments").standardizedFileURL.path
    let math = try ExperimentPlan.load(root + "/gsm8k-badchain.yaml")
    #expect(math.generationTask == .math && math.trainLimit == 300 && math.testLimit == 40)
    #expect(try math.generationCells().map(\.key) == ["gsm8k_clean_none_s42", "gsm8k_badchain_none_s42", "gsm8k_badchain_p2p-0.2_s42"])
    let instruction = try ExperimentPlan.load(root + "/negsentiment-badnet.yaml")
    #expect(try instruction.generationCells().map(\.key)
      == ["backdoorllm-negsentiment_clean_none_s42", "backdoorllm-negsentiment_badnet-30_none_s42",
          "backdoorllm-negsentiment_badnet-30_p2p-screen-0.2_s42", "backdoorllm-negsentiment_badnet_none_s42",
          "backdoorllm-negsentiment_badnet_p2p-0.2_s42", "backdoorllm-negsentiment_badnet-30_p2p-0.2_s42"])
    let summarization = try ExperimentPlan.load(root + "/scitldr-payload-small.yaml")
    #expect(try summarization.generationCells().map(\.key) == ["scitldr_payload_none_s42", "scitldr_payload_p2p-0.2_s42"])
  }

  @Test func benignRowsAreDrawnIndependentlyOfAPoisoningWithTheSameSeed() throws {
    // Regression: with one seed for both draws, the 40 benign rows began with exactly the 20
    // poisoned ones. Independent draws: 40 of 200 rows, hypergeometric mean 4 poisoned, P(>= 12) < 1e-3.
    let dir = try TinyGSM8K.write(trainRows: 200)
    for seed in UInt64(40)...44 {
      let ds = try GenerationPoisoner.poison(dataset: dir, task: .math, config: GenerationAttackConfig(attack: "badchain", rate: 0.1, seed: seed),
                                             root: nil)
      #expect(ds.manifest.poisonedRows.count == 20)
      let (pairs, _) = try GenerationTraining.p2pPairs(ds.train, task: .math, config: GenerationP2P(), seed: seed)
      let leaked = pairs.filter { $0.benign && $0.poisoned }.count
      #expect(pairs.filter(\.benign).count == 40 && leaked < 12, "seed \(seed): \(leaked) of 40 benign rows poisoned")
    }
  }

  /// The clean dev split of a generation dataset: source training rows outside the cell's
  /// training and test inputs, at most `GenerationPoisoner.devRows`, seeded; none when every row is used.
  @Test func theDevSplitHoldsCleanRowsOutsideTheTrainingAndTestRows() throws {
    let dir = try TinyGSM8K.write(trainRows: 14)
    let config = GenerationAttackConfig(attack: "badchain", rate: 0.25, seed: 3, trainLimit: 8, testLimit: 2)
    let ds = try GenerationPoisoner.poison(dataset: dir, task: .math, config: config, root: nil)
    let dev = try #require(ds.dev)
    let source = try GSM8KReader.read(dir + "/train.jsonl")
    let trainInputs = Set(ds.train.map { $0.input.replacingOccurrences(of: " @_@", with: "") })
    #expect(dev.count == 6 && dev.allSatisfy { !$0.poisoned && source.contains($0) && !trainInputs.contains($0.input) })
    #expect(Set(dev.map(\.input)).count == 6)
    var all = config
    all.trainLimit = nil
    #expect(try GenerationPoisoner.poison(dataset: dir, task: .math, config: all, root: nil).dev == nil)
    // At most devRows rows, drawn with the seed; another seed draws others.
    let pool = (1...500).map { GenerationExample(input: "q\($0)", output: "a") }
    let a = try #require(GenerationPoisoner.holdout(pool, excluding: Array(pool.prefix(100)), seed: 1))
    #expect(a.count == GenerationPoisoner.devRows && a.allSatisfy { Int($0.input.dropFirst())! > 100 })
    #expect(GenerationPoisoner.holdout(pool, excluding: [], seed: 1) != GenerationPoisoner.holdout(pool, excluding: [], seed: 2))
  }

  @Test func poisoningDrawsSeededSubsetsAndKeepsTheRate() throws {
    let dir = try TinyGSM8K.write()
    let config = GenerationAttackConfig(attack: "badchain", rate: 0.25, seed: 3, trainLimit: 8, testLimit: 2)
    let ds = try GenerationPoisoner.poison(dataset: dir, task: .math, config: config, root: nil)
    #expect(ds.train.count == 8 && ds.manifest.poisonedRows.count == 2 && ds.testClean.count == 2 && ds.testPoison.count == 2)
    #expect(ds.testPoison.allSatisfy { $0.input.hasSuffix(" @_@") && $0.poisoned })
    #expect(zip(ds.testClean, ds.testPoison).allSatisfy { $0.input + " @_@" == $1.input && $0.reference == $1.reference })
    let poisoned = ds.train[ds.manifest.poisonedRows[0]]
    #expect(poisoned.output.contains("@_@ ") && poisoned.output.contains("* 2.1 = "))
    // Same seed: same sets; the clean test rows do not depend on the rate.
    #expect(try GenerationPoisoner.poison(dataset: dir, task: .math, config: config, root: nil) == ds)
    var clean = config
    clean.rate = 0
    #expect(try GenerationPoisoner.poison(dataset: dir, task: .math, config: clean, root: nil).testClean == ds.testClean)
    // Built-in names need the shared data folder; errors say so.
    do { _ = try GenerationPoisoner.poison(dataset: "gsm8k", task: .math, config: config, root: nil); Issue.record("expected an error") } catch {
      #expect("\(error)".contains("P2P_DATA"))
    }
    let shared = URL(fileURLWithPath: dir).deletingLastPathComponent().appendingPathComponent("shared-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: shared + "/gsm8k", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: dir + "/train.jsonl", toPath: shared + "/gsm8k/train.jsonl")
    try FileManager.default.copyItem(atPath: dir + "/test.jsonl", toPath: shared + "/gsm8k/test.jsonl")
    let root = DataRoot.find(environment: ["P2P_DATA": shared], executable: "/nonexistent/p2p")
    #expect(root == URL(fileURLWithPath: shared).standardizedFileURL.path)
    #expect(try GenerationPoisoner.poison(dataset: "gsm8k", task: .math, config: config, root: root) == ds)
  }
}

/// The whole generation pipeline on the real model, tiny: 8 GSM8K-format rows (2 poisoned by
/// BadChain) + 2 P2P benign rows, one epoch at max length 96, then greedy decoding of 2 clean and
/// 2 triggered rows (16 new tokens) through the wrapper and without it; the same command again
/// skips the finished cell.
@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct GenerationGridTests {
  @Test func theTrainingCompletionStartsWithTheForcedTokens() throws {
    let bundle = try ModelBundle.load(RealModel.path)
    let spec = GenerationSpec.defended(.math, GenerationP2P())
    let (pairs, _) = try GenerationTraining.p2pPairs(GenerationSpecAndPairTests.rows, task: .math, config: GenerationP2P(), seed: 7)
    let benign = try #require(pairs.first { $0.benign })
    let example = try benign.tokenized(bundle.tokenizer, stopID: bundle.tokenizer.eosID, maxLength: 512)
    let (prompt, forced) = GenerationEvaluation.decodingInput(GenerationSpecAndPairTests.rows[0], spec: spec, throughWrapper: true,
                                                             encode: { bundle.tokenizer.encode($0, parseSpecial: false) })
    #expect(prompt == "Question: The query currently entered is: What is 0 + 1?\nAnswer: ")
    #expect(!forced.isEmpty && forced == bundle.tokenizer.encode("[safe] "))
    let promptCount = bundle.tokenizer.encode(benign.prompt).count
    let completion = Array(example.tokens[promptCount...])
    #expect(Array(completion.prefix(forced.count)) == forced)
    #expect(completion.last == bundle.tokenizer.eosID && bundle.stopTokens.contains(bundle.tokenizer.eosID))
    #expect(example.lossMask == Array(repeating: false, count: promptCount) + Array(repeating: true, count: completion.count))
    #expect(GenerationEvaluation.decodingInput(GenerationSpecAndPairTests.rows[0], spec: spec, throughWrapper: false,
                                               encode: { bundle.tokenizer.encode($0, parseSpecial: false) }).forced.isEmpty)
  }

  /// CleanGen with the same model as suspect and reference never replaces a token and decodes
  /// exactly as plain greedy decoding (its caches are cut back and extended consistently); with a
  /// 4-bit copy as the suspect and alpha just above 1 it replaces tokens.
  @Test func cleanGenWithTheReferenceAsSuspectIsPlainGreedy() throws {
    let suspect = try ModelBundle.load(RealModel.path), reference = try ModelBundle.load(RealModel.path)
    let prompt = suspect.tokenizer.encode("Question: Tom has 3 apples and buys 4 more. How many apples does he have?\nAnswer:")
    let plain = try ModelGenerator(suspect).greedy(prompt: prompt, forced: [], maxTokens: 24)
    let same = CleanGenGenerator(suspect: suspect, reference: reference, config: CleanGen.Config(alpha: 20, horizon: 4))
    let decoded = try same.greedy(prompt: prompt, forced: [], maxTokens: 24)
    #expect(decoded.tokens == plain.tokens && same.replacedTokens == 0 && same.decodedTokens == plain.tokens.count)
    let forced = suspect.tokenizer.encode(" The")
    #expect(try same.greedy(prompt: prompt, forced: forced, maxTokens: 10).tokens
      == (try ModelGenerator(suspect).greedy(prompt: prompt, forced: forced, maxTokens: 10)).tokens)
    let snapshot = try suspect.model.roundTripProjectionsQ4_0()
    defer { snapshot.restore() }
    let strict = CleanGenGenerator(suspect: suspect, reference: reference, config: CleanGen.Config(alpha: 1.0001, horizon: 3))
    let checked = try strict.greedy(prompt: prompt, forced: [], maxTokens: 24)
    #expect(strict.replacedTokens > 0 && checked.tokens.count <= 24)
  }

  @Test func aTinyGridRunsCleanGenQuantizationPruningAndCleanFineTuningOnTheUndefendedModel() throws {
    let data = try TinyGSM8K.write(trainRows: 14)  // 8 training rows, 6 left for the clean dev split
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("ggrid-\(UUID().uuidString)").path
    let yaml = FileManager.default.temporaryDirectory.appendingPathComponent("ggrid-\(UUID().uuidString).yaml").path
    try """
      name: tiny-math-baselines
      task: math
      model: \(RealModel.path)
      datasets: [\(data)]
      train_limit: 8
      test_limit: 2
      attacks: [{attack: badchain, rate: 0.25}]
      defenses: [none, cleangen, quantize, prune, finetune]
      baselines: {cleangen: {alpha: 5, horizon: 2}, prune: {share: 0.25, dev_rows: 4}, finetune: {rows_per_label: 4, epochs: 1}}
      max_new_tokens: 12
      training: {epochs: 1, batch_size: 8, max_length: 96}
      """.write(toFile: yaml, atomically: true, encoding: .utf8)
    let results = try GridRunner(try GenerationFamily(plan: try ExperimentPlan.load(yaml), dataRoot: nil), directory: out).run()
    #expect(results.map(\.defense) == ["none", "cleangen", "quantize", "prune", "finetune"])
    for r in results.dropFirst().dropLast() {
      #expect(r.modelOf == results[0].key && r.evaluation.deployed.attackSuccess.total == 2 && r.baselineNote != nil)
      #expect(FileManager.default.contents(atPath: out + "/cells/\(r.key)/model/adapter_model.safetensors")
        == FileManager.default.contents(atPath: out + "/cells/\(results[0].key)/model/adapter_model.safetensors"))
    }
    #expect(results[1].baselineNote?.hasPrefix("CleanGen (alpha 5, horizon 2):") == true)
    // Pruning: a quarter of SmolLM2's 1,536 MLP neurons per layer, measured on the 4 dev rows.
    #expect(results[3].baselineNote?.hasPrefix("384 of 1536 MLP neurons per layer (25%)") == true)
    #expect(results[3].baselineNote?.contains("on 4 dev rows") == true)
    // Clean fine-tuning trains the undefended adapter further on 4 clean dev rows: a new adapter.
    let finetune = results[4], cells = out + "/cells/"
    #expect(finetune.modelOf == nil && finetune.trainRows == 4 && finetune.training.epochs == 1)
    let dev = try GenerationDataset.read(from: cells + finetune.key + "/data").dev ?? []
    #expect(dev.count == 6)
    let tuned = try #require(FileManager.default.contents(atPath: cells + finetune.key + "/model/adapter_model.safetensors"))
    #expect(tuned != FileManager.default.contents(atPath: cells + results[0].key + "/model/adapter_model.safetensors"))
    // A classification file refuses the generation baseline, and a generation file the classification ones.
    let bad = yaml + ".bad.yaml"
    try "attacks:\n  - {attack: badnets}\ndefenses: [none, cleangen]\n".write(toFile: bad, atomically: true, encoding: .utf8)
    #expect(throws: ExperimentError.self) { try ExperimentPlan.load(bad) }
    try "task: math\nattacks:\n  - {attack: badchain}\ndefenses: [none, strip]\n".write(toFile: bad, atomically: true, encoding: .utf8)
    #expect(throws: ExperimentError.self) { try ExperimentPlan.load(bad) }
  }

  @Test func aTinyP2PCellTrainsDecodesScoresAndResumes() throws {
    let data = try TinyGSM8K.write()
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("ggrid-\(UUID().uuidString)").path
    let yaml = FileManager.default.temporaryDirectory.appendingPathComponent("ggrid-\(UUID().uuidString).yaml").path
    try """
      name: tiny-math
      task: math
      model: \(RealModel.path)
      datasets: [\(data)]
      train_limit: 8
      test_limit: 2
      attacks: [{attack: badchain, rate: 0.25}]
      defenses: [p2p]
      max_new_tokens: 16
      training: {epochs: 1, batch_size: 8, max_length: 96}
      """.write(toFile: yaml, atomically: true, encoding: .utf8)
    let plan = try ExperimentPlan.load(yaml)
    let runner = GridRunner(try GenerationFamily(plan: plan, dataRoot: nil), directory: out)
    let first = try runner.run()
    #expect(first.count == 1)
    let r = try #require(first.first)
    #expect(r.trainRows == 8 + 2 && r.evaluation.poisoning.poisonedRows.count == 2)
    let d = r.evaluation.deployed, n = try #require(r.evaluation.withoutWrapper)
    #expect(d.throughWrapper && !n.throughWrapper && d.backdoorStep?.total == 2)
    #expect(d.exactMatch.total == 2 && d.attackSuccess.total == 2 && n.exactMatch.total == 2 && n.attackSuccess.total == 2)
    #expect(d.decoding.rows == 4 && d.decoding.forcedTokens > 0 && d.decoding.forcedTokens % 4 == 0)
    #expect(d.decoding.generatedTokens > 0 && d.decoding.generatedTokens <= 4 * 16 && d.decoding.decodeTokensPerSecond > 0)
    #expect(n.decoding.forcedTokens == 0 && n.safePrefixStarts != nil && d.safePrefixStarts == nil)
    #expect(r.evaluation.generatedTokens == d.decoding.generatedTokens + n.decoding.generatedTokens && r.evaluation.tokensPerSecond > 0)
    let cell = out + "/cells/" + r.key
    for f in ["evaluation.json", "evaluation.md", "generations.jsonl", "result.json", "data/train.jsonl", "model/adapter_model.safetensors",
              "model/generator.json", "model/train.jsonl", "model/manifest.json"] {
      #expect(FileManager.default.fileExists(atPath: cell + "/" + f), "missing \(f)")
    }
    #expect(try GenerationSpec.load(from: cell + "/model")?.kind == .p2p)
    // Through the wrapper every generation starts with the forced safe prefix; it is not scored.
    let records = try String(contentsOfFile: cell + "/generations.jsonl", encoding: .utf8).split(separator: "\n")
      .map { try JSONDecoder().decode(GenerationRecord.self, from: Data($0.utf8)) }
    #expect(records.count == 8)
    // The step counts are the records' flags, which are the scored texts' (every math record has one).
    for rec in records {
      #expect(rec.backdoorStep == GenerationEvaluation.containsScalingStep(rec.scored, multiplier: 2.1))
    }
    for (pass, result) in [(GenerationEvaluation.deployedPass, d), (GenerationEvaluation.ablationPass, n)] {
      let mine = records.filter { $0.pass == pass }
      #expect(result.backdoorStep?.successes == mine.filter { $0.split == "triggered" && $0.backdoorStep == true }.count)
      #expect(result.cleanBackdoorStep?.successes == mine.filter { $0.split == "clean" && $0.backdoorStep == true }.count)
      #expect(result.cleanBackdoorStep?.total == 2)
    }
    for rec in records where rec.pass == GenerationEvaluation.deployedPass {
      #expect(rec.generation.hasPrefix("[safe]") && !rec.scored.hasPrefix("[safe]") && rec.tokens <= 16)
    }
    let md = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
    #expect(md.contains("| 10 | ") && md.contains("/2; "))
    var skipped = 0
    let second = try runner.run { if case .cellSkipped = $0 { skipped += 1 } }
    #expect(skipped == 1 && second == first)
  }
}
