import Backdoor
import Defense
import FileIO
import Foundation
import Llama
import Training

/// The P2P pipeline of one training set, the one both `p2p defend` and the grid run: the stages
/// that need the model (zero-shot agreement scores, the probe screen), then the reconstruction
/// (`P2PReconstruction`: screens, benign-row selection, covers, the safe label space), whose rows
/// and manifest it writes to `directory` (`train.jsonl`, `manifest.json`; `agreement.json` and
/// `probe/` for those stages).
public struct Defender {
  public var config: P2PConfig
  /// Label names for the zero-shot prompt of agreement selection.
  public var labelNames: [String]?
  /// The model (name or path) the probe is trained from.
  public var modelName: String
  /// The probe's training settings.
  public var training: TrainingConfig
  public var directory: String
  /// A finished undefended model trained on the same rows, which the probe screen may adopt as its probe.
  public var undefendedTwin: String?
  /// The label shares the spectral screen compares the training set's with (`LabelReference`:
  /// the dataset's dev split); nil: uniform shares.
  public var reference: LabelReference?
  /// A second try's (`SafeSpaceRetry`): the first try's folder, whose spectral screen results (the
  /// same rows, the same base model) are reused instead of computed again.
  public var firstTry: String?

  public init(config: P2PConfig, labelNames: [String]?, modelName: String, training: TrainingConfig, directory: String,
              undefendedTwin: String? = nil, reference: LabelReference? = nil, firstTry: String? = nil) {
    self.config = config; self.labelNames = labelNames; self.modelName = modelName; self.training = training
    self.directory = directory; self.undefendedTwin = undefendedTwin; self.reference = reference; self.firstTry = firstTry
  }

  /// The label shares the spectral screen compares with: the dev split's when the dataset has dev
  /// rows, else those of the clean test split (the labelled rows a user holds out; only their label
  /// counts are read), else nil (equal shares). Equal shares would flag the majority label of a
  /// naturally skewed set, so any labelled split the attacker did not touch is better.
  public static func reference(dev: [Example]?, test: [Example]? = nil, labels: Int) throws -> LabelReference? {
    if let dev, !dev.isEmpty { return try LabelReference.counted(dev.map(\.label), classes: labels, source: "dev split") }
    if let test, !test.isEmpty {
      return try LabelReference.counted(test.map(\.label), classes: labels, source: "clean test split, no dev split")
    }
    return nil
  }

  /// What the pipeline produced.
  public struct Outcome {
    /// The configuration as run (agreement selection fills in its prompt).
    public var config: P2PConfig
    public var rows: [P2PRow]
    public var manifest: P2PManifest
    public var probe: ProbeScreenResult?
  }

  /// Runs the pipeline on `train`; `source` is recorded in the manifest as the rows' dataset.
  /// `model` is called only by the stages that need the model.
  public func run(_ train: [Example], model: () throws -> ModelBundle, source: String?,
                  progress: @escaping (ExperimentEvent) -> Void = { _ in }) throws -> Outcome {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    // The default pipeline chooses its screen from the rows before any stage runs: the words the
    // trigger-word screen flags go through the insertion test first, and those found to be natural
    // text are released.
    var config = self.config
    if config.automatic == true, config.releasedWords == nil, config.screenTriggers != true, config.probeScreen != true,
       config.spectralScreen != true {
      let flagged = TriggerScreen.suspiciousWords(train)
      if !flagged.isEmpty {
        progress(.phase("p2p: the word screen flags \(flagged.prefix(8).joined(separator: ", "))\(flagged.count > 8 ? ", …" : ""); testing whether they were inserted"))
        let evidence = try InsertionScreening.run(train, suspicious: flagged, bundle: model(),
                                                  path: directory + "/" + InsertionScreening.resultFile)
        config.releasedWords = evidence.filter { !$0.inserted }.flatMap(\.words).sorted()
      } else {
        config.releasedWords = []
      }
    }
    let requestedRatio = config.ratio
    config = config.resolvingAutomatic(train)
    if config.automatic == true {
      let released = config.releasedWords ?? []
      let note = released.isEmpty ? "" : " (released as natural text: \(released.prefix(8).joined(separator: ", ")))"
      progress(.phase(config.spectralScreen == true ? "p2p: no inserted trigger word\(note); running the relative spectral screen"
                                                 : "p2p: the word screen finds an inserted trigger word\(note); running the word screen and trigger cover"))
    }
    var margins: [Float]?
    if config.selectsByAgreement {
      let bundle = try model()
      config = try AgreementScoring.resolve(config, labelNames: labelNames, bundle: bundle)
      progress(.phase("scoring \(train.count) rows zero-shot for benign selection"))
      margins = try AgreementScoring.margins(train, config: config, bundle: bundle, cachePath: directory + "/agreement.json") {
        progress(.evaluating("zero-shot label agreement of the training rows", $0, train.count))
      }
    }
    var probe: ProbeScreenResult?
    if config.probeScreen == true {
      if let twin = undefendedTwin {
        // Only a shortcut: whatever goes wrong here, the probe is trained as usual.
        do {
          if try ProbeScreening.adoptProbe(train, config: config, trainedModel: twin + "/model",
                                           trainedOn: { try PoisonedDataset.read(from: twin + "/data").train }, directory: directory + "/probe") {
            progress(.phase("probe screen: the probe is the finished undefended cell's model (\(twin))"))
          }
        } catch {
          progress(.phase("probe screen: not taking \(twin)'s model as the probe (\(error)); training it"))
        }
      }
      probe = try ProbeScreening.run(train, config: config, modelName: modelName, bundle: model(), training: training,
                                     directory: directory + "/probe", progress: progress)
    }
    if config.spectralScreen == true {
      if let firstTry { try ProbeScreening.reuseSpectral(from: firstTry + "/spectral", into: directory + "/spectral") }
      probe = try ProbeScreening.runSpectral(train, config: config, reference: reference ?? .uniform(config.labels), bundle: model(),
                                             directory: directory + "/spectral", progress: progress)
      config = config.afterStatisticalScreen(flagged: probe?.flaggedRows.count ?? 0, requestedRatio: requestedRatio)
    }
    var (rows, manifest) = try P2PReconstruction.apply(train, config: config, margins: margins, probe: probe)
    manifest.dataset = source
    try P2PRowsFile.write(rows, to: directory + "/train.jsonl")
    try JSONOutput.writeManifest(manifest, kind: .classificationDefense, to: directory + "/manifest.json")
    return Outcome(config: config, rows: rows, manifest: manifest, probe: probe)
  }
}
