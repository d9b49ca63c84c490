import Foundation

/// The baseline defenses a grid can run beside P2P (`defenses: [none, p2p, onion, strip]`), by
/// the stage of the pipeline they act at. Each kind's computation is a pure type here (`Onion`,
/// `Strip`); the parts that need a model run in Experiments and Evaluation.
public enum BaselineKind: String, Codable, Sendable, CaseIterable {
  /// ONION (Qi et al., EMNLP 2021): inference-time; words whose removal lowers the input's
  /// perplexity under the base model by more than a threshold are removed (`Onion`).
  case onion
  /// STRIP (Gao et al. 2019; OpenBackdoor's text variant): inference-time detection by the
  /// entropy of the predictions over perturbed copies of an input (`Strip`).
  case strip
  /// Quantization (BackdoorLLM's DefenseBox): the undefended model, adapter merged, evaluated with
  /// its block projections round-tripped through 4-bit Q4_0 (`LlamaModel.roundTripProjectionsQ4_0`).
  case quantize
  /// BKI (Chen & Dai 2021): training-time; the backdoor keyword found by each word's effect on the
  /// undefended model's representation, the rows holding it removed, the model trained again (`BKI`).
  case bki
  /// Clean fine-tuning (DefenseBox): the undefended adapter trained further on clean dev rows
  /// (`CleanFineTuning`; for generation tasks, `rows_per_label` clean rows in all).
  case finetune
  /// Pruning (DefenseBox; Fine-Pruning's neurons): the MLP neurons quietest on clean dev rows
  /// switched off in the undefended model (`NeuronPruning`).
  case prune
  /// CUBE (Cui et al., NeurIPS 2022): training-time; the undefended model's representations of the
  /// training rows clustered by density, each label's minority clusters removed, the model trained again (`CUBE`).
  case cube
  /// RAP (Yang et al., EMNLP 2021): inference-time detection by how little a trained perturbation
  /// word lowers the target's probability (`RAP`).
  case rap
  /// CleanGen (Li et al., EMNLP 2024), generation tasks: decoding checks the suspect model's
  /// tokens against the base model's probabilities and replaces suspicious ones (`CleanGen`).
  case cleangen

  /// When the defense acts: on the inputs at inference, or on the trained model's weights (the
  /// model is the undefended one in both).
  public enum Phase: String, Sendable { case inference, postTraining = "post-training", training }
  public var phase: Phase {
    switch self {
    case .onion, .strip, .rap, .cleangen: return .inference
    case .quantize, .finetune, .prune: return .postTraining
    case .bki, .cube: return .training
    }
  }

  /// Whether it rejects inputs (a detector, with FRR and FAR) rather than changing them.
  public var isDetector: Bool { self == .strip || self == .rap }
  /// The baselines of generation grids (the others are for classification).
  public var forGeneration: Bool { self == .cleangen || phase == .postTraining }
  public var forClassification: Bool { self != .cleangen }
}

/// A baseline defense with its hyper-parameters (defaults from the paper or OpenBackdoor, in one
/// place: `Onion.Config`, `Strip.Config`), as an experiment file or `p2p evaluate --defense` names it.
public struct BaselineDefense: Codable, Sendable, Equatable {
  public var kind: BaselineKind
  public var onion: Onion.Config?
  public var strip: Strip.Config?
  public var bki: BKI.Config?
  public var finetune: CleanFineTuning.Config?
  public var prune: NeuronPruning.Config?
  public var cube: CUBE.Config?
  public var rap: RAP.Config?
  public var cleangen: CleanGen.Config?
  /// Seeds the defense's own random choices (STRIP's perturbations).
  public var seed: UInt64

  public init(kind: BaselineKind, onion: Onion.Config? = nil, strip: Strip.Config? = nil, bki: BKI.Config? = nil,
              finetune: CleanFineTuning.Config? = nil, prune: NeuronPruning.Config? = nil, cube: CUBE.Config? = nil,
              rap: RAP.Config? = nil, cleangen: CleanGen.Config? = nil, seed: UInt64) {
    self.kind = kind; self.seed = seed
    self.onion = kind == .onion ? (onion ?? Onion.Config()) : nil
    self.strip = kind == .strip ? (strip ?? Strip.Config()) : nil
    self.bki = kind == .bki ? (bki ?? BKI.Config()) : nil
    self.finetune = kind == .finetune ? (finetune ?? CleanFineTuning.Config()) : nil
    self.prune = kind == .prune ? (prune ?? NeuronPruning.Config()) : nil
    self.cube = kind == .cube ? (cube ?? CUBE.Config()) : nil
    self.rap = kind == .rap ? (rap ?? RAP.Config()) : nil
    self.cleangen = kind == .cleangen ? (cleangen ?? CleanGen.Config()) : nil
  }

  /// The name in reports and cell keys ("onion", "strip").
  public var name: String { kind.rawValue }

  public func validate() throws(BaselineError) {
    try onion?.validate()
    try strip?.validate()
    try bki?.validate()
    try finetune?.validate()
    try prune?.validate()
    try cube?.validate()
    try rap?.validate()
    try cleangen?.validate()
  }
}

/// A baseline defense's setting out of range, named by its key.
public enum BaselineError: Error, Equatable, CustomStringConvertible, Sendable {
  case invalidSetting(key: String, value: String, expected: String)
  /// The defense needs clean labelled rows (to choose a threshold) and has none.
  case noCleanRows(defense: String, reason: String)

  public var description: String {
    switch self {
    case let .invalidSetting(key, value, expected): return "invalid \(key) '\(value)': expected \(expected)"
    case let .noCleanRows(defense, reason): return "\(defense) needs clean labelled rows: \(reason)"
    }
  }
}
