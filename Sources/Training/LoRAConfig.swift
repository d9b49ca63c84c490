import Foundation

/// A linear layer of a Llama block that can carry a LoRA adapter (PEFT's module names).
public enum LoRATarget: String, Codable, Sendable, CaseIterable, Comparable {
  case q, k, v, o, gate, up, down

  /// PEFT / transformers module name, e.g. `self_attn.q_proj`.
  public var moduleName: String {
    switch self {
    case .q: return "self_attn.q_proj"
    case .k: return "self_attn.k_proj"
    case .v: return "self_attn.v_proj"
    case .o: return "self_attn.o_proj"
    case .gate: return "mlp.gate_proj"
    case .up: return "mlp.up_proj"
    case .down: return "mlp.down_proj"
    }
  }

  /// The short module name used in PEFT's `target_modules` (`q_proj`, ...).
  public var shortName: String { String(moduleName.split(separator: ".").last!) }

  public init?(shortName: String) {
    guard let t = LoRATarget.allCases.first(where: { $0.shortName == shortName || $0.rawValue == shortName }) else { return nil }
    self = t
  }

  public static func < (a: LoRATarget, b: LoRATarget) -> Bool {
    allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
  }

  /// Parses "q,v" or "q_proj,v_proj" or "all".
  public static func parseList(_ text: String) throws(TrainingError) -> [LoRATarget] {
    if text == "all" { return allCases }
    var out: [LoRATarget] = []
    for part in text.split(separator: ",") {
      let name = part.trimmingCharacters(in: .whitespaces)
      guard let t = LoRATarget(shortName: name) else {
        throw .invalidValue(key: "lora-targets", value: name, expected: "q, k, v, o, gate, up, down (or q_proj, ...), or all")
      }
      if !out.contains(t) { out.append(t) }
    }
    guard !out.isEmpty else { throw .invalidValue(key: "lora-targets", value: text, expected: "at least one target") }
    return out.sorted()
  }
}

/// LoRA hyper-parameters (Hu et al., 2021; PEFT semantics): ΔW = (alpha / rank) · B·A with A
/// (rank, in) Kaiming-uniform and B (out, rank) zero at initialisation, dropout on the input of A.
public struct LoRAConfig: Codable, Sendable, Equatable {
  public var rank: Int = 8
  public var alpha: Float = 16
  public var dropout: Float = 0
  public var targets: [LoRATarget] = [.q, .v]

  public init(rank: Int = 8, alpha: Float = 16, dropout: Float = 0, targets: [LoRATarget] = [.q, .v]) {
    self.rank = rank; self.alpha = alpha; self.dropout = dropout; self.targets = targets.sorted()
  }

  public var scaling: Float { alpha / Float(rank) }

  public func validate() throws(TrainingError) {
    if rank < 1 || rank > 4096 { throw .invalidValue(key: "lora-rank", value: "\(rank)", expected: "1...4096") }
    if !(alpha > 0) || !alpha.isFinite { throw .invalidValue(key: "lora-alpha", value: "\(alpha)", expected: "> 0") }
    if !(dropout >= 0 && dropout < 1) { throw .invalidValue(key: "lora-dropout", value: "\(dropout)", expected: "in [0, 1)") }
    if targets.isEmpty { throw .invalidValue(key: "lora-targets", value: "", expected: "at least one target") }
    // A repeated target would map two adapters onto one projection (found by fuzzing PEFT configs).
    if Set(targets).count != targets.count {
      throw .invalidValue(key: "lora-targets", value: targets.map(\.rawValue).joined(separator: ","), expected: "each target at most once")
    }
  }
}
