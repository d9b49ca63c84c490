import GGUF
import TensorCore

/// The weights of a model's layers as they were, to put back bit for bit (`restore`).
public struct LayerSnapshot: @unchecked Sendable {
  let saved: [(Linear, Linear.Snapshot)]
  public func restore() { for (layer, s) in saved { layer.restore(s) } }
}

extension LlamaModel {
  /// Replaces the weights of every block projection (q, k, v, o, gate, up, down) in place by their
  /// Q4_0 round trip (`Quantize.roundTripQ4_0`): each output row's input weights in blocks of 32,
  /// as a Q4_0 GGUF file stores them. Embeddings, the LM head and the norms stay as they are (as
  /// 4-bit quantizers commonly keep them). The result puts the weights back (`restore`).
  public func roundTripProjectionsQ4_0() throws(ModelError) -> LayerSnapshot {
    for block in weights.blocks {
      for layer in [block.qkv, block.output, block.gateUp, block.down] where layer.inFeatures % 32 != 0 {
        throw .badConfiguration(key: "input dimension of a projection", value: "\(layer.inFeatures)", expected: "a multiple of 32 for Q4_0 blocks")
      }
    }
    var saved: [(Linear, Linear.Snapshot)] = []
    for block in weights.blocks {
      for layer in [block.qkv, block.output, block.gateUp, block.down] {
        saved.append((layer, layer.snapshot()))
        let n = layer.inFeatures, m = layer.outFeatures, w = layer.weight.pointer
        var row = [Float](repeating: 0, count: n)
        for o in 0..<m {
          switch layer.layout {
          case .outIn:  // W (out, in): the row is contiguous
            Quantize.roundTripQ4_0(UnsafeMutableBufferPointer(start: w + o * n, count: n))
          case .inOut:  // Wᵀ (in, out): the row is column o
            for i in 0..<n { row[i] = w[i * m + o] }
            row.withUnsafeMutableBufferPointer { Quantize.roundTripQ4_0($0) }
            for i in 0..<n { w[i * m + o] = row[i] }
          }
        }
        layer.weightsDidChange()
      }
    }
    return LayerSnapshot(saved: saved)
  }
}

extension LlamaModel {
  /// Switches off MLP neurons: for each layer, the down projection's input column of every neuron
  /// in `neurons[layer]` is set to zero, so the neuron no longer contributes. The result puts the
  /// weights back (`restore`).
  public func pruneMLPNeurons(_ neurons: [[Int]]) -> LayerSnapshot {
    precondition(neurons.count == weights.blocks.count, "one list of neurons per layer")
    var saved: [(Linear, Linear.Snapshot)] = []
    for (block, list) in zip(weights.blocks, neurons) where !list.isEmpty {
      let down = block.down, w = down.weight.pointer, f = down.inFeatures, c = down.outFeatures
      saved.append((down, down.snapshot()))
      for j in list {
        precondition(j >= 0 && j < f, "neuron \(j) outside 0..<\(f)")
        switch down.layout {
        case .outIn: for o in 0..<c { w[o * f + j] = 0 }  // W (C, F): column j
        case .inOut: (w + j * c).update(repeating: 0, count: c)  // Wᵀ (F, C): row j
        }
      }
      down.weightsDidChange()
    }
    return LayerSnapshot(saved: saved)
  }
}
