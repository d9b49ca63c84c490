import Checkpoint
import Inference
import FileIO
import Backdoor
import Defense
import Evaluation
import Foundation
import Llama
import TensorCore
import Training

/// Runs P2P's probe screen (`P2PConfig.probeScreen`) on a model: fine-tunes a plain prompt-based
/// probe classifier on the training set as it is (in `directory`, resumable like any training),
/// reads its hidden state and label-word logits at the answer position of every training row and
/// the base model's mean sentence representation of each row, and judges them with
/// `ProbeScreen`. The result, with the seconds the screen took (the probe's training not counted),
/// is cached in `directory/screen.json`.
public enum ProbeScreening {
  public static let resultFile = "screen.json"

  public static func run(_ train: [Example], config: P2PConfig, modelName: String, bundle: ModelBundle,
                         training: TrainingConfig, directory: String,
                         progress: @escaping (ExperimentEvent) -> Void = { _ in }) throws -> ProbeScreenResult {
    let fm = FileManager.default
    let cache = directory + "/" + resultFile
    try checkDataStamp(train, directory: directory)
    if fm.fileExists(atPath: cache) {
      let r = try JSONOutput.read(ProbeScreenResult.self, from: cache)
      if r.splits.reduce(0, { $0 + $1.rows.count }) == train.count { return r }
    }
    let template = config.originalPrompt
    if !(fm.fileExists(atPath: directory + "/training_summary.json") && fm.fileExists(atPath: directory + "/" + PEFTAdapter.weightsFile)) {
      // The probe is the undefended classifier with the cell's own training settings.
      progress(.phase("training the probe classifier on \(train.count) rows (probe screen)"))
      _ = try ClassifierTraining.train(bundle: bundle, pairs: try ClassifierTraining.plainPairs(train, template: template),
                                       spec: .plain(template), config: training, directory: directory,
                                       resume: fm.fileExists(atPath: directory + "/checkpoint")) { progress(.training($0)) }
    }
    let clock = ContinuousClock(), start = clock.now
    let (base, features, scores) = try inputs(train, template: template, modelName: modelName, bundle: bundle,
                                              probeDirectory: directory, progress: progress)
    var result = try ProbeScreen.judge(features: features, scores: scores, baseFeatures: base, labels: train.map(\.label),
                                       seed: config.seed)
    result.seconds = (clock.now - start).seconds
    try JSONOutput.write(result, to: cache)
    return result
  }

  /// The relative spectral screen (`P2PConfig.spectralScreen`, `RelativeSpectral`) on the base
  /// model's mean sentence states of the training rows, judged against `reference`'s label shares;
  /// no probe is trained. Cached, with the seconds it took, in `directory/screen.json` (the folder
  /// stamped with the rows like a probe's).
  public static func runSpectral(_ train: [Example], config: P2PConfig, reference: LabelReference, bundle: ModelBundle, directory: String,
                                 progress: @escaping (ExperimentEvent) -> Void = { _ in }) throws -> ProbeScreenResult {
    let cache = directory + "/" + resultFile
    try checkDataStamp(train, directory: directory)
    // A cache another version of the screen or another reference wrote is recomputed.
    if FileManager.default.fileExists(atPath: cache), let r = try? JSONOutput.read(ProbeScreenResult.self, from: cache), r.spectral != nil,
       r.reference == reference {
      return r
    }
    let clock = ContinuousClock(), start = clock.now
    let base = try meanStates(train.map(\.text), bundle: bundle) {
      progress(.evaluating("base-model representations of the training rows", $0, train.count))
    }
    // What the screen read, for audits and offline studies (row-major float32, rows × width).
    var bytes = Data(capacity: base.count * (base.first?.count ?? 0) * 4)
    for row in base { row.withUnsafeBufferPointer { bytes.append(Data(buffer: $0)) } }
    try bytes.write(to: URL(fileURLWithPath: directory + "/base.f32"), options: .atomic)
    progress(.phase("spectral screen: judging \(train.count) rows"))
    var result = try RelativeSpectral.screen(features: base, labels: train.map(\.label), classes: config.labels, reference: reference,
                                             seed: config.seed)
    result.seconds = (clock.now - start).seconds
    try JSONOutput.write(result, to: cache)
    return result
  }

  /// Copies a finished spectral screen's folder (`runSpectral`'s cache, its data stamp and the
  /// states it read) to `target` when `target` does not exist yet; `runSpectral` there then checks
  /// the stamp and the reference before it takes the cached result.
  public static func reuseSpectral(from source: String, into target: String) throws {
    let fm = FileManager.default
    guard !fm.fileExists(atPath: target), fm.fileExists(atPath: source + "/" + resultFile) else { return }
    try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    do { try fm.copyItem(atPath: source, toPath: target) } catch {
      throw ExperimentError.badFile(path: target, reason: "cannot copy the first try's spectral screen from \(source): \(error.localizedDescription)")
    }
  }

  /// What the screen judges, for each training row: the base model's mean sentence state (`bundle`,
  /// the base model), and the state and label-word logits at the answer position of `template`
  /// under the probe adapter in `probeDirectory` (merged into a second copy of `modelName`).
  public static func inputs(_ train: [Example], template: PromptTemplate, modelName: String, bundle: ModelBundle,
                            probeDirectory: String, progress: @escaping (ExperimentEvent) -> Void = { _ in })
    throws -> (base: [[Float]], features: [[Float]], scores: [[Float]]) {
    let base = try meanStates(train.map(\.text), bundle: bundle) {
      progress(.evaluating("base-model representations of the training rows", $0, train.count))
    }
    // A second copy of the weights takes the probe's adapter; the caller's stays the base model.
    let probe = try ModelSource.load(modelName)
    try PEFTAdapter.load(from: probeDirectory, model: probe.model.config).merge(into: probe.model)
    let (features, scores) = try answerStates(train.map { template.prompt(for: $0.text) }, bundle: probe,
                                              labelIDs: try template.labelTokenIDs { probe.tokenizer.encode($0) }) {
      progress(.evaluating("probe hidden states of the training rows", $0, train.count))
    }
    return (base, features, scores)
  }

  /// The files of a finished training that the screen reads, the summary last (with the weights
  /// it marks a finished probe, so an interrupted copy reads as an unfinished one).
  static let adoptedFiles = [PEFTAdapter.configFile, PEFTAdapter.weightsFile, ClassifierSpec.fileName, "training_summary.json"]

  /// Takes a finished undefended model (`trainedModel`, an adapter folder, trained on the rows
  /// `trainedOn` returns) as the probe in `directory` when it is the probe `run` would train: the
  /// same rows in the same order (data stamp) under the same prompt template. The caller vouches
  /// for the same training settings and seed. Returns whether it did; a probe folder with a
  /// finished, cached or partly trained probe of its own (any `checkpoint*` entry) is left alone,
  /// and then `trainedOn` is not called.
  public static func adoptProbe(_ train: [Example], config: P2PConfig, trainedModel: String, trainedOn: () throws -> [Example],
                                directory: String) throws -> Bool {
    let fm = FileManager.default
    try checkDataStamp(train, directory: directory)
    let own = (try? fm.contentsOfDirectory(atPath: directory)) ?? []
    if own.contains(where: { $0 == "training_summary.json" || $0 == resultFile || $0.hasPrefix("checkpoint") }) { return false }
    guard fm.fileExists(atPath: trainedModel + "/training_summary.json"),
          try ClassifierSpec.load(from: trainedModel)?.classifiesLike(.plain(config.originalPrompt)) == true,
          DataStamp(try trainedOn()) == DataStamp(train) else { return false }
    for file in adoptedFiles {
      let from = trainedModel + "/" + file
      guard let bytes = fm.contents(atPath: from) else { throw ExperimentError.badFile(path: from, reason: "no such file (a finished training writes it)") }
      try bytes.write(to: URL(fileURLWithPath: directory + "/" + file), options: .atomic)
    }
    return true
  }

  public static let dataStampFile = "probe_data.json"

  /// Which training set a probe folder belongs to: its row count and an FNV-1a hash of every
  /// row's text and label, in order.
  public struct DataStamp: Codable, Equatable, Sendable {
    public var rows: Int
    public var fingerprint: String
    public init(_ train: [Example]) {
      var h = FNV1a64()
      for e in train { h.add(e.text.utf8); h.add([0x1F]); h.add(String(e.label).utf8); h.add([0x1E]) }
      rows = train.count
      fingerprint = h.hex
    }
  }

  /// Refuses a probe folder (adapter, checkpoint or cached screen) left by different training
  /// data, so a reused output folder never screens with a stale probe; stamps a fresh folder.
  /// A folder from before the stamp is accepted as it is and stamped.
  public static func checkDataStamp(_ train: [Example], directory: String) throws {
    let stamp = DataStamp(train), path = directory + "/" + dataStampFile
    if FileManager.default.fileExists(atPath: path) {
      let old = try JSONOutput.read(DataStamp.self, from: path)
      guard old == stamp else {
        throw ExperimentError.badFile(
          path: path, reason: "this probe folder belongs to other training data (\(old.rows) rows, fingerprint \(old.fingerprint); "
            + "now \(stamp.rows) rows, \(stamp.fingerprint)); use a fresh output folder or delete \(directory)")
      }
      return
    }
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try JSONOutput.write(stamp, to: path)
  }

  /// Final-norm hidden states averaged over each text's tokens (rows × C), ~1024 tokens a pass.
  public static func meanStates(_ texts: [String], bundle: ModelBundle, progress: (Int) -> Void) throws -> [[Float]] {
    let model = bundle.model, c = model.config.hiddenSize
    var out: [[Float]] = []
    let ids = texts.map { bundle.tokenizer.encodeInput($0, parseSpecial: false) }
    try packedPasses(ids, what: "training row") { group in
      let h = try model.hiddenStates(group, lastOnly: false)
      for (s, seq) in group.enumerated() {
        var mean = [Float](repeating: 0, count: c)
        for r in h.rowStart[s]..<(h.rowStart[s] + seq.count) {
          let p = h.states.pointer + r * c
          for j in 0..<c { mean[j] += p[j] }
        }
        out.append(mean.map { $0 / Float(seq.count) })
      }
      progress(out.count)
    }
    return out
  }

  /// Final-norm hidden states at the last prompt position (rows × C) and the label words' logits
  /// there (rows × labels), ~1024 packed tokens a pass.
  public static func answerStates(_ prompts: [String], bundle: ModelBundle, labelIDs: [Int],
                                  progress: (Int) -> Void) throws -> (features: [[Float]], scores: [[Float]]) {
    let model = bundle.model, c = model.config.hiddenSize
    var features: [[Float]] = [], scores: [[Float]] = []
    try packedPasses(prompts.map { bundle.tokenizer.encodeInput($0) }, what: "probe prompt") { group in
      let h = try model.hiddenStates(group, lastOnly: true)
      let logits = model.projectLogits(h.states, rows: h.rows, rowStart: h.rowStart,
                                       request: LogitsRequest(positions: .last, tokens: labelIDs))
      for s in 0..<group.count {
        features.append(Array(UnsafeBufferPointer(start: h.states.pointer + s * c, count: c)))
        scores.append(Array(logits.row(s)))
      }
      progress(features.count)
    }
    return (features, scores)
  }

  /// Calls `pass` on consecutive groups of `sequences` of at most `PromptScorer.tokensPerPass`
  /// tokens together (a longer sequence alone), in order.
  static func packedPasses(_ sequences: [[Int]], what: String, _ pass: ([[Int]]) throws -> Void) throws {
    var group: [[Int]] = [], tokens = 0
    for (i, ids) in sequences.enumerated() {
      guard !ids.isEmpty else { throw ExperimentError.invalid(key: "\(what) \(i)", expected: "at least one token") }
      if tokens + ids.count > PromptScorer.tokensPerPass && !group.isEmpty {
        try pass(group)
        group = []; tokens = 0
      }
      group.append(ids); tokens += ids.count
    }
    if !group.isEmpty { try pass(group) }
  }
}
