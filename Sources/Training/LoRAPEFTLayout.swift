import Llama

/// Conversion between our flat LoRA layout and PEFT's tensors: names
/// (`base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`) and the q/k row order.
///
/// GGUF stores q/k rows permuted per head so that interleaved-pair RoPE is correct (llama.cpp's
/// `convert_hf_to_gguf.py`, `LlamaModel.permute`): within a head of dimension D, HF row
/// `half·D/2 + i` is GGUF row `2i + half`. Our B matrices of q and k follow the GGUF order like
/// the base weights; PEFT's follow HF's. A matrices act on inputs and need no permutation.
public enum LoRAMatrix: String, Sendable, CaseIterable { case a = "A", b = "B" }

extension LoRAParameters {
  /// PEFT's tensor name for a slot's A or B matrix.
  public static func peftName(layer: Int, target: LoRATarget, matrix: LoRAMatrix) -> String {
    "base_model.model.model.layers.\(layer).\(target.moduleName).lora_\(matrix.rawValue).weight"
  }

  /// Shape of the PEFT tensor: A (rank, in), B (out, rank).
  public func peftShape(_ slot: LoRASlot, _ matrix: LoRAMatrix) -> [Int] {
    matrix == .a ? [config.rank, slot.inFeatures] : [slot.outFeatures, config.rank]
  }

  /// Heads over which q/k rows are permuted (nil for other targets).
  func permutedHeads(_ t: LoRATarget, _ model: LlamaConfig) -> (heads: Int, dim: Int)? {
    switch t {
    case .q: return (model.headCount, model.headDim)
    case .k: return (model.kvHeadCount, model.headDim)
    default: return nil
    }
  }

  /// GGUF row of HF row `row` for heads of dimension `dim`.
  static func ggufRow(_ row: Int, dim: Int) -> Int {
    let h = row / dim, j = row % dim, half = j / (dim / 2), i = j % (dim / 2)
    return h * dim + 2 * i + half
  }

  /// Buffer (values or gradients) of this layout.
  public enum Storage: Sendable { case values, gradients }

  /// Writes a PEFT-ordered matrix (row-major, shape `peftShape`) into a slot.
  public func importMatrix(_ data: [Float], slot: LoRASlot, matrix: LoRAMatrix, model: LlamaConfig, into storage: Storage = .values) {
    let dst = (storage == .values ? values : gradients).pointer + (matrix == .a ? slot.aOffset : slot.bOffset)
    let r = config.rank
    if matrix == .b, let p = permutedHeads(slot.target, model) {
      for row in 0..<slot.outFeatures {
        let g = Self.ggufRow(row, dim: p.dim)
        for c in 0..<r { dst[g * r + c] = data[row * r + c] }
      }
    } else {
      for i in 0..<data.count { dst[i] = data[i] }
    }
  }

  /// Reads a slot's matrix in PEFT order (row-major, shape `peftShape`).
  public func exportMatrix(slot: LoRASlot, matrix: LoRAMatrix, model: LlamaConfig, from storage: Storage = .values) -> [Float] {
    let src = (storage == .values ? values : gradients).pointer + (matrix == .a ? slot.aOffset : slot.bOffset)
    let r = config.rank
    let count = matrix == .a ? r * slot.inFeatures : slot.outFeatures * r
    if matrix == .b, let p = permutedHeads(slot.target, model) {
      var out = [Float](repeating: 0, count: count)
      for row in 0..<slot.outFeatures {
        let g = Self.ggufRow(row, dim: p.dim)
        for c in 0..<r { out[row * r + c] = src[g * r + c] }
      }
      return out
    }
    return Array(UnsafeBufferPointer(start: src, count: count))
  }
}
