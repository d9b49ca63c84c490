import FileIO
import ArgumentParser
import Backdoor
import Defense
import Evaluation
import Experiments
import Foundation
import Llama
import Training

struct Defend: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train a P2P-defended classifier on a (possibly poisoned) dataset directory.",
    discussion: """
      Poison-to-Poison (arXiv 2510.04503): a seeded, shuffled rho fraction of the training rows gets the benign trigger before the input, the benign cue ("Answer: ") and the label h(i) = i + n; --mode union adds these rows to the original ones (the paper), replace substitutes them (the official code). The model is LoRA-fine-tuned on the result with the loss on the label token. Evaluate it with `p2p evaluate --adapter DIR --data POISONED_DIR`: inference always goes through the P2P wrapper (benign trigger prepended, prediction read among the safe label words and mapped back).
      --selection agreement picks the benign rows per label by the base model's zero-shot agreement with their label instead of at random, which ranks dirty-label poison last and so lets fewer poisoned rows into the safe label space (measured on SST-2: 2 instead of 16 of 200; one extra forward pass over the training set, cached in agreement.json).
      Writes to --out: train.jsonl (the reconstructed rows: prompt, completion, label, benign, poisoned), manifest.json (the P2P configuration and which rows became benign); unless --prepare-only, also the adapter, classifier.json and the training logs.
      """)

  @OptionGroup var modelOptions: ModelOptions
  @Option(help: "Dataset directory written by `p2p poison`.") var data: String
  @Option(help: "Output folder: a new or empty one, or an earlier output of train/defend with --resume or --overwrite.") var out: String
  @Option(help: "rho: fraction of the training set that gets the benign trigger; 1 = every row no screen kept out (default: 1 for p2p, which caps it at 0.6 of each label's unscreened rows when its spectral screen flags a label; 0.2 for the other pipelines).")
  var ratio: Double?
  @Option(help: "Benign trigger (prefix of benign rows and of every input at inference).") var benignTrigger = P2PConfig.defaultBenignTrigger
  @Option(help: "union (the paper: benign rows added) or replace (the official code: benign rows replace their originals).")
  var mode = P2PMode.union
  @Option(help: "Template of original rows.") var template = PromptTemplate.defaultTemplate
  @Option(help: "Template of benign rows and of inference, after the benign trigger.") var benignTemplate = P2PConfig.defaultBenignTemplate
  @Option(help: "Original label words, comma-separated (default digits 0..n-1).") var labelWords: String?
  @Option(help: "Safe label words h(i), comma-separated (default digits n..2n-1).") var safeLabelWords: String?
  @Option(help: """
    How benign rows are chosen: random (the paper), agreement (per label, the rows whose label the base model agrees with \
    most zero-shot; ranks dirty-label poison last) or stratified (rho of each label's rows that no screen kept out; a label the \
    spectral screen flagged gives its rows farthest from the trigger first; what p2p uses when its spectral screen flags a label).
    """) var selection = BenignSelection.random
  @Flag(help: """
    Leave rows with a suspicious word (in >= 2% of the rows, >= 95% of them one label: the mark of an inserted trigger) out of \
    the benign candidates. With --task: an input word in >= 2% of the rows whose outputs nearly all (>= 95%) carry a word that \
    is rare (<= 20%) in the other outputs, or nearly all share one whole output (a label).
    """) var screenTriggers = false
  @Flag(help: """
    With --screen-triggers: recover the trigger phrase around each screened word and insert it into half of the benign rows, \
    which keep their own safe labels (with --task: their clean outputs after the safe prefix); our extension, not the paper.
    """) var coverTriggers = false
  @Flag(help: """
    Probe screen with flip cover (our extension, not the paper; for paraphrase triggers): fine-tune a probe classifier on the \
    training set (the same training settings), cluster its hidden states per label (activation clustering), judge each label's minority cluster \
    by exclusionary reclassification (a ridge classifier on the base model's sentence representations, trained without the \
    cluster, assigns >= 40% of it to another label), keep a judged cluster out of the benign candidates and add its most atypical rows (up to half the benign count, at most a tenth of the rows) to the safe \
    label space with the probe's next label. Costs a second training run; the probe stays in --out/probe.
    """) var probeScreen = false
  @Option(help: """
    The defense pipeline (default \(DefensePreset.defaultPreset.rawValue): chosen from the data, the trigger-word screen and \
    trigger cover with every other row benign when the word screen finds a word that the base model judges inserted \
    (insertion.json), else the relative spectral screen (on the base model's sentence states; no second \
    training) with flip cover and the benign rows stratified per label, at rho 0.6 of each label's unscreened rows when that screen flags a label; docs/defense.md has where it holds; p2p-paper: the paper's \
    random benign rows, which the README's tables show failing on SmolLM2; p2p-agree, p2p-screen, p2p-cover, p2p-probe, \
    p2p-spectral (the relative spectral screen on the base model's states, no probe): single pipelines for ablations; \
    p2p-confirm: the default, but the spectral screen flips only rows that a classifier reading their text gives another label). The stage \
    flags below override it.
    """) var defense: DefensePreset?
  @Option(help: "Label names for the zero-shot prompt of --selection agreement, comma-separated (default: the built-in dataset's).")
  var labelNames: String?
  @Flag(help: "Write train.jsonl and manifest.json, then stop.") var prepareOnly = false
  @Option(help: """
    Inputs the safe-space check answers after training (`p2p check`; default 400; 0: no check and no second try). When the \
    default pipeline's spectral screen flipped rows and the check fails, p2p trains once more with the flips confirmed row by row \
    (in --out/retry) and keeps the try whose check is better (the other goes to --out/first-attempt or stays in retry; retry.json \
    records both). Classification only.
    """)
  var checkRows: Int?
  @OptionGroup var training: TrainingOptions
  @OptionGroup(title: "Generation tasks") var generation: GenerationTrainOptions

  /// The stages to run: the named (or default) preset, with any stage flag given on top.
  var stages: DefensePreset.Stages {
    get throws {
      let preset: DefensePreset
      if let defense {
        preset = defense
      } else {
        // Stage flags alone describe an ablation of the paper's pipeline.
        let anyFlag = screenTriggers || coverTriggers || probeScreen || selection != .random
        preset = anyFlag ? .paper : .defaultPreset
      }
      var st = preset.stages
      if selection != .random { st.selection = selection }
      if screenTriggers { st.screen = true }
      if coverTriggers { st.screen = true; st.cover = true }
      if probeScreen { st.probe = true }
      return st
    }
  }

  func validate() throws {
    _ = try stages
    if let ratio { guard ratio > 0 && ratio <= 1 else { throw ValidationError("--ratio must be in (0, 1]") } }
    if let checkRows {
      guard checkRows >= 0 else { throw ValidationError("--check-rows must be 0 (no check) or positive") }
      guard generation.task == .classification else { throw ValidationError("--check-rows is for classification; generation has no safe label space") }
    }
    if coverTriggers && !screenTriggers { throw ValidationError("--cover-triggers needs --screen-triggers (the screen finds the triggers to cover)") }
    if (try? stages.spectral) == true && generation.task != .classification {
      throw ValidationError("--defense p2p-spectral is for classification; it does not apply with --task")
    }
    if (try? stages.probe) == true && generation.task != .classification { throw ValidationError("--probe-screen is for classification; it does not apply with --task") }
    if (try? stages.confirm) == true && generation.task != .classification {
      throw ValidationError("--defense p2p-confirm is for classification; it does not apply with --task")
    }
  }

  func run() throws {
    try AdapterFolder.prepare(out, inputs: [data], overwrite: training.overwrite, resume: training.resume)
    if let task = generation.task.generation { try defendGeneration(task); return }
    // A run that got as far as its second try's record is finished; only a promotion may be left.
    if training.resume, let record = try? JSONOutput.read(RetryRecord.self, from: out + "/" + SafeSpaceRetry.recordFile) {
      if record.kept == .retry && AdapterFolder.promotionPending(in: out) { try AdapterFolder.promoteRetry(in: out) }
      print("\(out) holds a finished defense (\(record.summary)); nothing to resume")
      return
    }
    var ds = try PoisonedDataset.read(from: data)
    // The label set of the whole training set, before any row is held out.
    let n = LabelSet(train: ds.train, names: ds.manifest.dataset.flatMap { DatasetCatalog.named($0)?.labelNames }).count
    // best-dev: the dev rows (the dev file, else rows held out of training before anything else).
    let split = training.selection == .bestDev ? DevSplit.of(ds, seed: training.seed) : nil
    if let split { ds.train = split.train; printError("model selection: best dev epoch on \(split.dev.count) rows (\(split.source))") }
    let st = try stages
    let rho = ratio ?? (st.automatic ? DefensePreset.auto : DefensePreset.paper).defaultRatio
    var config = P2PConfig(benignTrigger: benignTrigger, ratio: rho, mode: mode, originalTemplate: template,
                           benignTemplate: benignTemplate, labels: n, labelWords: labelWords.map { $0.split(separator: ",").map(String.init) },
                           safeLabelWords: safeLabelWords.map { $0.split(separator: ",").map(String.init) }, seed: training.seed,
                           selection: st.selection, screenTriggers: st.screen ? true : nil,
                           coverTriggers: st.cover ? true : nil, probeScreen: st.probe ? true : nil,
                           automatic: st.automatic ? true : nil, spectralScreen: st.spectral ? true : nil,
                           confirmFlips: st.confirm ? true : nil)
    // The stages that need the model (agreement scores, the probe) load it; the training reuses it.
    var loaded: ModelBundle?
    func model() throws -> ModelBundle {
      if let loaded { return loaded }
      let b = try modelOptions.load()
      loaded = b
      return b
    }
    let line = ProgressLine(enabled: !training.quiet), report = training.reporter()
    let requested = config
    let defender = Defender(config: config, labelNames: labelNames.map { $0.split(separator: ",").map(String.init) }
                              ?? ds.manifest.dataset.flatMap { DatasetCatalog.named($0)?.labelNames },
                            modelName: modelOptions.model, training: try training.config(for: .classification), directory: out,
                            reference: try Defender.reference(dev: ds.dev, test: ds.testClean, labels: n))
    let onEvent: (ExperimentEvent) -> Void = { event in
      switch event {
      case .training(let e): report(e)
      case let .evaluating(what, done, total): line.update("\(what): \(done)/\(total)")
      case .phase(let text): line.finishLine(); printError(text)
      default: break
      }
    }
    let outcome = try defender.run(ds.train, model: model, source: data, progress: onEvent)
    line.finishLine()
    config = outcome.config
    let (rows, manifest) = (outcome.rows, outcome.manifest)
    if let words = manifest.screenedWords {
      printError("trigger screen: \(words.isEmpty ? "no suspicious words" : words.joined(separator: ", ")) (\(manifest.screenedRows ?? 0) rows kept out of the benign candidates)")
    }
    if let phrases = manifest.coverPhrases {
      printError("trigger cover: \(phrases.isEmpty ? "nothing to cover" : phrases.map { "\"\($0)\"" }.joined(separator: ", ")) inserted into \(manifest.coveredRows ?? 0) benign rows")
    }
    if let shares = manifest.labelShares, let ref = manifest.referenceShares {
      printError("spectral screen: label shares \(GridReport.percents(shares)) against \(GridReport.percents(ref)) (reference: \(manifest.referenceSource ?? "not recorded"))")
    }
    if let f = manifest.probeFlaggedRows, let flipped = manifest.flippedRows {
      printError("\(config.spectralScreen == true ? "spectral" : "probe") screen: \(f) rows flagged in label(s) \(manifest.probePoisonedLabels ?? []), \(flipped.count) of them added to the safe space with the next label"
        + " (\(manifest.flippedPoisonedRows ?? 0) carry the attack trigger)"
        + (manifest.unconfirmedFlips.map { "; \($0) flagged rows passed over (a classifier reading their text gives them their own label)" } ?? ""))
    }
    printError("P2P \(defense?.rawValue ?? (st == DefensePreset.defaultPreset.stages ? DefensePreset.defaultPreset.rawValue + " (default)" : "stages by flag")) [\(ClassificationStages.names(for: config).joined(separator: ", "))] (\(config.mode.rawValue), rho \(config.ratio), \(config.selection?.rawValue ?? "random") selection): \(manifest.inputRows) rows -> \(manifest.outputRows) "
      + "(\(manifest.benignSourceRows.count) benign, \(manifest.benignPoisonedRows) of them carry the attack trigger); labels "
      + "\(config.labelWords.joined(separator: ",")) -> safe \(config.safeLabelWords.joined(separator: ","))")
    if prepareOnly {
      print("wrote \(out)/train.jsonl and \(out)/manifest.json")
      return
    }
    let summary = try ClassifierTraining.train(bundle: model(), pairs: ClassifierTraining.pairs(rows), spec: .defended(config),
                                               config: try training.config(for: .classification), directory: out,
                                               resume: training.resume, selection: training.selection, dev: split,
                                               progress: training.reporter())
    if let record = try? JSONOutput.read(SelectionRecord.self, from: out + "/" + SelectionRecord.fileName), split != nil {
      printError("model selection: epoch \(record.chosenEpoch) of \(record.epochs.count) (dev macro-F1 "
        + record.epochs.map { String(format: "%.1f", 100 * $0.devMacroF1) }.joined(separator: ", ") + ")")
    }
    print(String(format: "trained %d steps in %.1f s, final loss %.4f; defended adapter written to %@", summary.steps, summary.seconds,
                 summary.finalLoss, out))
    let checked = checkRows ?? SafeSpaceCheck.defaultRows
    guard checked > 0 else { return }
    // The adapter is finished: a check that cannot run is a warning, not a failed defense.
    let first: SafeSpaceCheck
    do {
      guard let check = try checkAdapter(out, data: ds, rows: checked, model: model) else { return }
      first = check
    } catch {
      printError("WARNING: the safe-space check did not run (\(error)); run `p2p check --adapter \(out) --data \(data)`")
      return
    }
    guard let next = SafeSpaceRetry.config(requested: requested, ran: config, flipped: manifest.flippedRows?.count, check: first) else { return }
    try retry(next, first: first, firstSeconds: summary.seconds, defender: defender, data: ds, split: split, rows: checked,
              model: model, progress: onEvent)
  }

  /// The safe-space check of the adapter in `folder` (nil when it holds no classifier spec).
  func checkAdapter(_ folder: String, data ds: PoisonedDataset, rows: Int, model: () throws -> ModelBundle) throws -> SafeSpaceCheck? {
    guard let spec = try ClassifierSpec.forAdapter(folder) else { return nil }
    let bundle = try model()
    let merged = try PEFTAdapter.load(from: folder, model: bundle.model.config).merge(into: bundle.model)
    defer { merged.restore() }
    return try Check.check(spec: spec, bundle: bundle, data: ds, rows: rows, seed: training.seed, adapter: folder, quiet: training.quiet)
  }

  /// The default pipeline's second try after a failed safe-space check (`SafeSpaceRetry`): the
  /// pipeline with confirmed flips, trained and checked in `--out/retry`; when its check is better
  /// it becomes the adapter in `--out` and the first try moves to `--out/first-attempt`.
  func retry(_ next: P2PConfig, first: SafeSpaceCheck, firstSeconds: Double, defender: Defender, data ds: PoisonedDataset,
             split: DevSplit?, rows: Int, model: () throws -> ModelBundle, progress: @escaping (ExperimentEvent) -> Void) throws {
    let dir = out + "/" + SafeSpaceRetry.folder
    printError("p2p: the safe-space check failed; training again with the spectral screen's flips confirmed "
      + "(only rows that a classifier reading their text gives another label) in \(dir)")
    var second = defender
    second.config = next
    second.directory = dir
    second.firstTry = out
    let check: SafeSpaceCheck, seconds: Double
    // The first adapter is finished: a second try that fails is reported, and the first one kept.
    do {
      let outcome = try second.run(ds.train, model: model, source: data, progress: progress)
      let m = outcome.manifest
      printError("second try: \(m.flippedRows?.count ?? 0) rows flipped into the safe space (\(m.flippedPoisonedRows ?? 0) carry the attack trigger), "
        + "\(m.unconfirmedFlips ?? 0) flagged rows passed over; \(m.benignSourceRows.count) benign rows")
      let summary = try ClassifierTraining.train(bundle: model(), pairs: ClassifierTraining.pairs(outcome.rows), spec: .defended(outcome.config),
                                                 config: try training.config(for: .classification), directory: dir,
                                                 resume: FileManager.default.fileExists(atPath: dir + "/checkpoint"),
                                                 selection: training.selection, dev: split, progress: training.reporter())
      guard let c = try checkAdapter(dir, data: ds, rows: rows, model: model) else {
        throw CLIError("\(dir) holds no classifier.json after training")
      }
      (check, seconds) = (c, summary.seconds)
    } catch {
      let record = SafeSpaceRetry.record(first: first, retryError: "\(error)")
      try JSONOutput.write(record, to: out + "/" + SafeSpaceRetry.recordFile)
      printError("WARNING: \(record.summary); the adapter in \(out) fails its safe-space check")
      return
    }
    var record = SafeSpaceRetry.record(first: first, retry: check)
    let keep = record.kept == .retry
    record.otherTrainingSeconds = keep ? firstSeconds : seconds
    // The record first: a run stopped during the promotion finishes it on --resume.
    try JSONOutput.write(record, to: out + "/" + SafeSpaceRetry.recordFile)
    if keep { try AdapterFolder.promoteRetry(in: out) }
    print(record.summary + (keep ? "; the adapter in \(out) is the second try, the first is in \(out)/\(SafeSpaceRetry.firstAttemptFolder)"
                                 : "; the second try stays in \(dir)"))
    if let warning = (keep ? check : first).warning {
      printError("WARNING: the adapter in \(keep ? out : out + " (the first try)") fails its safe-space check as well: \(warning)")
    }
  }
}

extension Defend {
  /// The generation path: P2P with a safe output prefix.
  func defendGeneration(_ task: GenerationTask) throws {
    let d = self
    guard d.training.selection == .last else { throw ValidationError("--select best-dev is for classification; generation keeps the last epoch") }
    let ds = try GenerationDataset.read(from: d.data)
    guard ds.manifest.task == task else { throw CLIError("\(d.data) is a \(ds.manifest.task.rawValue) dataset, not \(task.rawValue)") }
    let mode = d.mode
    let config = GenerationP2P(benignTrigger: d.benignTrigger, ratio: d.ratio ?? GenerationP2P.defaultRatio, mode: mode, safePrefix: d.generation.safePrefix,
                               screenTriggers: try d.stages.screen || d.stages.automatic,
                               coverTriggers: try d.stages.cover || d.stages.automatic)
    let (pairs, written) = try GenerationTraining.defend(ds, task: task, config: config, seed: d.training.seed, source: d.data, directory: d.out)
    let manifest = written.p2p, benignPoisoned = written.benignPoisonedRows
    if let flags = manifest.screen {
      let words = flags.map { "\($0.inputWord) (-> \($0.outputWord) in \(Int(($0.share * 100).rounded()))% of its \($0.rows) rows)" }
      printError("trigger screen: \(words.isEmpty ? "no suspicious words" : words.joined(separator: ", ")) "
        + "(\(manifest.screenedRows ?? 0) rows kept out of the benign candidates)")
    }
    if let phrases = manifest.coverPhrases {
      printError("trigger cover: \(manifest.coveredRows?.count ?? 0) benign rows carry one of "
        + (phrases.isEmpty ? "(nothing flagged)" : phrases.map { "'\($0)'" }.joined(separator: ", ")))
    }
    printError("P2P for \(task.rawValue) (\(mode.rawValue), rho \(config.ratio)): \(manifest.trainRows) rows -> \(manifest.outputRows) "
      + "(\(manifest.benignRows.count) benign, \(benignPoisoned) of them carry the attack trigger); safe prefix \"\(config.safePrefix)\"")
    if d.prepareOnly {
      print("wrote \(d.out)/train.jsonl and \(d.out)/manifest.json")
      return
    }
    let bundle = try d.modelOptions.load()
    let summary = try GenerationTraining.train(
      bundle: bundle, pairs: pairs, spec: .defended(task, config, maxNewTokens: d.generation.maxNewTokens),
      config: try d.training.config(for: .generation(task)), directory: d.out,
      resume: d.training.resume, progress: d.training.reporter())
    print(String(format: "trained %d steps in %.1f s, final loss %.4f; defended adapter written to %@", summary.steps, summary.seconds,
                 summary.finalLoss, d.out))
  }

}
