import Inference
import FileIO
import ArgumentParser
import Backdoor
import Defense
import Evaluation
import Experiments
import Foundation
import Llama
import Training

struct Evaluate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Clean accuracy and attack success rate of a classifier on a poisoned dataset directory.",
    discussion: """
      CA is measured on test-clean.jsonl, ASR on test-poison.jsonl (triggered non-target rows predicted as the target), with counts, Wilson 95% intervals and the confusion table. A P2P adapter (classifier.json written by `defend`) is evaluated through the P2P wrapper, as deployed, with the diagnostics: ASR for the safe target only and for original-or-safe target, and the ablation without the wrapper. Without --adapter the base model is evaluated zero-shot.
      Writes evaluation.json and evaluation.md to --out (default: the adapter directory, or the current one) and prints the Markdown.
      """)

  @OptionGroup var modelOptions: ModelOptions
  @Option(help: "Dataset directory written by `p2p poison`.") var data: String
  @Option(help: "Adapter directory (from `train` or `defend`).") var adapter: String?
  @Option(help: "Template when the adapter has no classifier.json (or zero-shot).") var template = PromptTemplate.defaultTemplate
  @Option(help: "Label words when the adapter has no classifier.json, comma-separated.") var labelWords: String?
  @Flag(help: "P2P only: the official code's whole-vocabulary argmax instead of restricted scoring.") var unrestricted = false
  @Option(help: "A baseline defense in front of an undefended adapter: onion (words removed by the base model's perplexity), strip (inputs rejected by prediction entropy over perturbed copies), quantize (the merged model's projections through 4-bit Q4_0), prune (the MLP neurons quietest on clean dev rows switched off) or rap (inputs rejected when a trained perturbation word barely lowers the target's probability). With --task: cleangen (the base model checks each decoded token), quantize or prune.")
  var defense: BaselineKind?
  @Option(help: "ONION: a fixed suspicion-score threshold (default: chosen on clean dev rows, at most 2 points of dev accuracy lost).") var threshold: Double?
  @Option(help: "STRIP and RAP: the false rejection rate allowed on clean dev rows.") var frr = Strip.Config().frr
  @Option(help: "STRIP: perturbed copies per input.") var repeats = Strip.Config().repeats
  @Option(help: "Pruning: the share of each layer's MLP neurons switched off.") var pruneShare = NeuronPruning.Config().share
  @Option(help: "Clean dev rows the baseline's threshold is chosen on (the dev split, else the clean test split).") var devRows = Onion.Config.defaultDevRows
  @Option(help: "Seed of the baseline's random choices (STRIP's perturbations).") var seed: UInt64 = 42
  @Option(help: "Where evaluation.json and evaluation.md go.") var out: String?
  @Flag(help: "No progress line.") var quiet = false
  @OptionGroup(title: "Generation tasks") var generation: GenerationEvaluateOptions

  func run() throws {
    try EvaluationFolder.check(out ?? adapter ?? FileManager.default.currentDirectoryPath)
    if let task = generation.task.generation { try evaluateGeneration(task); return }
    let ds = try PoisonedDataset.read(from: data)
    var spec = try adapter.flatMap { try ClassifierSpec.forAdapter($0) }
      ?? .plain(try ClassificationOptions.template(template, labelWords: labelWords, train: ds.train))
    if unrestricted {
      guard spec.kind == .p2p else { throw CLIError("--unrestricted applies to P2P adapters only") }
      spec.p2p?.unrestricted = true
    }
    let baseline = try defense.map { kind -> BaselineDefense in
      guard kind != .cleangen else { throw CLIError("--defense cleangen decodes text: use it with --task math|summarization|instruction (or defenses: [none, cleangen] in a generation experiment file)") }
      guard kind.phase != .training && kind != .finetune else {
        throw CLIError("--defense \(kind.rawValue) trains a model, which evaluate does not: run it in an experiment file (defenses: [none, \(kind.rawValue)])")
      }
      guard spec.kind == .plain else { throw CLIError("--defense \(kind.rawValue) runs in front of an undefended classifier; \(adapter ?? "the adapter") is P2P-defended") }
      let d = BaselineDefense(kind: kind, onion: Onion.Config(threshold: threshold, devRows: devRows),
                              strip: Strip.Config(repeats: repeats, frr: frr, devRows: devRows),
                              prune: NeuronPruning.Config(share: pruneShare, devRows: devRows),
                              rap: RAP.Config(frr: frr, devRows: devRows), seed: seed)
      try d.validate()
      return d
    }
    let bundle = try modelOptions.load()
    let bar = ProgressLine(enabled: !quiet)
    // ONION's language model is the base model: its perplexities are read before the adapter is merged.
    var onionScores: OnionScores?
    if let b = baseline, b.kind == .onion {
      let dev = BaselineEvaluation.devRows(ds, limit: devRows).rows
      onionScores = try OnionScoring.scores(dev.map(\.text) + ds.testClean.map(\.text) + ds.testPoison.map(\.text), bundle: bundle) {
        bar.update("ONION perplexities: \($0)/\($1)")
      }
    }
    if let adapter {
      do { try PEFTAdapter.load(from: adapter, model: bundle.model.config).merge(into: bundle.model) } catch {
        throw CLIError("cannot load the adapter in '\(adapter)': \(error)")
      }
    }
    let update: (String, Int, Int) -> Void = { what, done, total in bar.update("\(what): \(done)/\(total)") }
    let result: ClassificationResult
    switch baseline?.kind {
    case nil: result = try ClassificationEvaluation.run(scorer: PromptScorer(bundle), spec: spec, data: ds, progress: update)
    case .onion?:
      result = try BaselineEvaluation.onion(scorer: PromptScorer(bundle), spec: spec, data: ds, defense: baseline!, scores: onionScores!, progress: update)
    case .strip?: result = try BaselineEvaluation.strip(scorer: PromptScorer(bundle), spec: spec, data: ds, defense: baseline!, progress: update)
    case .quantize?: result = try ClassificationFamily.quantized(bundle, spec: spec, data: ds, defense: baseline!, progress: update)
    case .rap?: result = try RAPDefense.evaluate(bundle, spec: spec, data: ds, defense: baseline!, progress: update)
    case .prune?: result = try ClassificationFamily.pruned(bundle, spec: spec, data: ds, defense: baseline!, progress: update)
    case .bki?, .cube?, .finetune?, .cleangen?: throw CLIError("unreachable: \(baseline!.name) is refused above")
    }
    bar.finishLine()
    let dir = out ?? adapter ?? FileManager.default.currentDirectoryPath
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let title = "Evaluation of \(adapter ?? "the base model (zero-shot)") on \(data)"
    let md = ReportWriter.markdown(result, title: title)
    try JSONOutput.write(result, to: dir + "/evaluation.json")
    try JSONOutput.write(text: md, to: dir + "/evaluation.md")
    print(md)
    printError("wrote \(dir)/evaluation.json and \(dir)/evaluation.md")
  }
}

extension Evaluate {
  /// The generation path: greedy decoding of the clean and triggered rows, through the wrapper for a P2P adapter.
  func evaluateGeneration(_ task: GenerationTask) throws {
    let e = self
    let ds = try GenerationDataset.read(from: e.data)
    var spec = try e.adapter.flatMap { try GenerationSpec.forAdapter($0) } ?? .plain(task)
    guard spec.task == task else { throw CLIError("the adapter's generator.json is for \(spec.task.rawValue), not --task \(task.rawValue)") }
    if let m = e.generation.maxNewTokens { spec.maxNewTokens = m }
    let bundle = try e.modelOptions.load()
    if let adapter = e.adapter {
      do { try PEFTAdapter.load(from: adapter, model: bundle.model.config).merge(into: bundle.model) } catch {
        throw CLIError("cannot load the adapter in '\(adapter)': \(error)")
      }
    }
    let bar = ProgressLine(enabled: !e.quiet)
    var generator: any TextGenerator = ModelGenerator(bundle)
    var snapshot: LayerSnapshot?
    defer { snapshot?.restore() }
    switch e.defense {
    case nil: break
    case .cleangen?:
      guard spec.p2p == nil else { throw CLIError("--defense cleangen decodes with an undefended adapter; this one is P2P-defended") }
      generator = CleanGenGenerator(suspect: bundle, reference: try e.modelOptions.load(), config: CleanGen.Config())
    case .quantize?: snapshot = try bundle.model.roundTripProjectionsQ4_0()
    case .prune?:
      let defense = BaselineDefense(kind: .prune, prune: NeuronPruning.Config(share: e.pruneShare, devRows: e.devRows), seed: 42)
      try defense.validate()
      let (s, note) = try GenerationFamily.prune(bundle, data: ds, task: task, defense: defense) { _ in }
      snapshot = s
      printError("pruning: " + note)
    case let other?:
      throw CLIError("--defense \(other.rawValue) is not a generation defense of evaluate; generation tasks take cleangen, quantize or prune (finetune runs in an experiment file)")
    }
    let (result, records) = try GenerationEvaluation.run(
      generator: generator, spec: spec, data: ds,
      ablation: !e.generation.noAblation) { what, done, total in bar.update("\(what): \(done)/\(total)") }
    bar.finishLine()
    let dir = e.out ?? e.adapter ?? FileManager.default.currentDirectoryPath
    let title = "Evaluation of \(e.adapter ?? "the base model (zero-shot)") on \(e.data)"
    try GenerationEvaluation.write(result, records: records, title: title, to: dir)
    print(GenerationReport.markdown(result, title: title))
    if let g = generator as? CleanGenGenerator {
      printError("CleanGen (alpha \(g.config.alpha), horizon \(g.config.horizon)): \(g.replacedTokens) of \(g.decodedTokens) decoded tokens replaced by the base model's")
    }
    printError("wrote \(dir)/evaluation.json, \(dir)/evaluation.md and \(dir)/generations.jsonl")
  }

}
