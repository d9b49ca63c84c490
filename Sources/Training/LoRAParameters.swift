import Llama
import TensorCore

/// Where one adapter matrix pair lives in the flat parameter buffer.
public struct LoRASlot: Sendable, Equatable {
  public let layer: Int
  public let target: LoRATarget
  /// Input and output features of the adapted linear layer.
  public let inFeatures: Int
  public let outFeatures: Int
  /// Offset of A (rank, in) and of B (out, rank) in the flat buffers.
  public let aOffset: Int
  public let bOffset: Int
  /// First output column of this target inside the fused projection (q/k/v in qkv, gate/up in gateUp).
  public let outputColumn: Int
}

/// All LoRA parameters of a model in one flat buffer (and gradients in a second one of the same
/// layout), with named views per (layer, target). B rows of q and k are kept in GGUF's permuted
/// row order, matching the base weights; `PEFTAdapter` converts to and from HF order.
public final class LoRAParameters: @unchecked Sendable {
  public let config: LoRAConfig
  public let slots: [LoRASlot]
  /// All A and B matrices, back to back.
  public let values: FloatBuffer
  /// Same layout as `values`.
  public let gradients: FloatBuffer
  private let index: [Int: Int]

  public init(model config: LlamaConfig, lora: LoRAConfig) {
    self.config = lora
    var slots: [LoRASlot] = []
    var offset = 0
    let r = lora.rank
    for l in 0..<config.layerCount {
      for t in lora.targets {
        let (inF, outF, col) = Self.geometry(t, config)
        slots.append(LoRASlot(layer: l, target: t, inFeatures: inF, outFeatures: outF,
                              aOffset: offset, bOffset: offset + r * inF, outputColumn: col))
        offset += r * inF + outF * r
      }
    }
    self.slots = slots
    values = FloatBuffer(count: offset)
    gradients = FloatBuffer(count: offset)
    var idx: [Int: Int] = [:]
    for (i, s) in slots.enumerated() { idx[s.layer * 16 + LoRATarget.allCases.firstIndex(of: s.target)!] = i }
    index = idx
  }

  /// (in, out, first output column in the fused projection) of a target.
  static func geometry(_ t: LoRATarget, _ c: LlamaConfig) -> (Int, Int, Int) {
    switch t {
    case .q: return (c.hiddenSize, c.qDim, 0)
    case .k: return (c.hiddenSize, c.kvDim, c.qDim)
    case .v: return (c.hiddenSize, c.kvDim, c.qDim + c.kvDim)
    case .o: return (c.qDim, c.hiddenSize, 0)
    case .gate: return (c.hiddenSize, c.feedForwardSize, 0)
    case .up: return (c.hiddenSize, c.feedForwardSize, c.feedForwardSize)
    case .down: return (c.feedForwardSize, c.hiddenSize, 0)
    }
  }

  public var count: Int { values.count }

  public func slot(layer: Int, target: LoRATarget) -> LoRASlot? {
    index[layer * 16 + LoRATarget.allCases.firstIndex(of: target)!].map { slots[$0] }
  }

  /// PEFT's initialisation: A ~ kaiming_uniform(a = √5), i.e. U(-1/√in, 1/√in); B = 0.
  public func initialize(using rng: inout some RandomNumberGenerator) {
    values.zero()
    let r = config.rank
    for s in slots {
      let bound = 1 / Float(s.inFeatures).squareRoot()
      for i in 0..<(r * s.inFeatures) {
        let u = Float(rng.next() >> 40) * (1.0 / 16_777_216.0)
        values[s.aOffset + i] = (2 * u - 1) * bound
      }
    }
  }
}
