import Backdoor

/// The named P2P pipelines a user picks with `p2p defend --defense NAME` (and, by the same names,
/// in experiment files): which stages run before the benign rows are built.
public enum DefensePreset: String, CaseIterable, Sendable {
  /// The default: the screen chosen from the data (`P2PConfig.automatic`): the trigger-word screen
  /// and trigger cover when the word screen finds a suspicious word, else the probe screen.
  case auto = "p2p"
  /// The paper's pipeline: benign rows drawn at random (arXiv 2510.04503 §3). On SmolLM2-135M
  /// it does not defend, because benign rows carry the trigger (README, results).
  case paper = "p2p-paper"
  /// Benign rows per label by the base model's zero-shot agreement (`BenignSelection.agreement`).
  case agree = "p2p-agree"
  /// Rows with a suspicious trigger word kept out of the benign candidates (`TriggerScreen`).
  case screen = "p2p-screen"
  /// The screen, and the recovered triggers inserted into half of the benign rows.
  case cover = "p2p-cover"
  /// A probe model's hidden states clustered per label; the poison-like rows flipped into the
  /// safe space (`ProbeScreen`; a second training run).
  case probe = "p2p-probe"
  /// The base model's sentence states ranked per label along the relative spectral direction;
  /// a judged label's rows towards the trigger's end kept out, the most extreme flipped into the
  /// safe space (`RelativeSpectral`; no probe).
  case spectral = "p2p-spectral"
  case confirm = "p2p-confirm"

  /// What `p2p defend` and experiment files run when no defense is named.
  public static let defaultPreset = DefensePreset.auto

  /// ρ when none is given: 1 for the default pipeline, the paper's 0.2 for the others.
  public var defaultRatio: Double { stages.automatic ? P2PConfig.defaultPipelineRatio : P2PConfig.defaultRatio }

  /// The stages of a pipeline.
  public struct Stages: Equatable, Sendable {
    public var selection: BenignSelection?
    public var screen = false
    public var cover = false
    public var probe = false
    public var automatic = false
    public var spectral = false
    public var confirm = false
  }

  public var stages: Stages {
    switch self {
    case .auto: return Stages(automatic: true)
    case .paper: return Stages()
    case .agree: return Stages(selection: .agreement)
    case .screen: return Stages(screen: true)
    case .cover: return Stages(screen: true, cover: true)
    case .probe: return Stages(probe: true)
    case .spectral: return Stages(spectral: true)
    case .confirm: return Stages(automatic: true, confirm: true)
    }
  }

  /// The classification stages the preset runs on `train`, in order (`ClassificationStages`);
  /// only the default's depend on the rows.
  public func stageNames(for train: [Example] = []) -> [String] {
    let st = stages
    let config = P2PConfig(selection: st.selection, screenTriggers: st.screen ? true : nil, coverTriggers: st.cover ? true : nil,
                           probeScreen: st.probe ? true : nil, automatic: st.automatic ? true : nil,
                           spectralScreen: st.spectral ? true : nil, confirmFlips: st.confirm ? true : nil)
    return ClassificationStages.names(for: config.resolvingAutomatic(train))
  }
}
