import Foundation
import TensorCore
import Testing
import Training

@Suite struct GradientClippingTests {
  /// A 3-4-12 example over two buffers: norm 13.
  @Test func clipsToMaxNormAcrossBuffers() {
    let a = FloatBuffer([3, 0]), b = FloatBuffer([4, 12, 0])
    let norm = GradientClipping.clip([a, b], maxNorm: 6.5)
    #expect(norm == 13)
    let scale = Float(6.5 / (13 + 1e-6))
    #expect(a.array == [3 * scale, 0])
    #expect(b.array == [4 * scale, 12 * scale, 0])
    #expect(abs(GradientClipping.globalNorm([a, b]) - 6.5) < 1e-5)
  }

  /// Below the limit the gradients are not touched (not even multiplied by 1).
  @Test func leavesSmallGradientsAlone() {
    let a = FloatBuffer([0.1, -0.2, 0.3])
    let before = a.array
    let norm = GradientClipping.clip([a], maxNorm: 1)
    #expect(abs(norm - (0.14 as Double).squareRoot()) < 1e-7)
    #expect(a.array == before)
    // At exactly maxNorm the coefficient max/(norm + 1e-6) is just below 1: PyTorch scales.
    let c = FloatBuffer([3, 4])
    GradientClipping.clip([c], maxNorm: 5)
    #expect(c[0] < 3 && c[0] > 3 - 1e-5)
  }

  /// Double accumulation: 1e6 values of 1e-3 (Float sums drift) and a SIMD-width tail.
  @Test func accurateNormOfManyValues() {
    let n = 1_000_003
    let a = FloatBuffer([Float](repeating: 1e-3, count: n))
    let expected = (Double(n) * Double(Float(1e-3)) * Double(Float(1e-3))).squareRoot()
    #expect(abs(GradientClipping.globalNorm([a]) - expected) / expected < 1e-12)
    let odd = FloatBuffer((0..<19).map { Float($0) })
    #expect(GradientClipping.globalNorm([odd]) == (0..<19).reduce(0.0) { $0 + Double($1 * $1) }.squareRoot())
    #expect(GradientClipping.globalNorm([FloatBuffer(count: 0)]) == 0)
  }

  /// A NaN or infinite gradient: the norm is reported, the buffers stay as they were.
  @Test func nonFiniteNormSkipsScaling() {
    let a = FloatBuffer([1, .infinity, 2]), b = FloatBuffer([.nan])
    #expect(GradientClipping.clip([a], maxNorm: 1) == .infinity)
    #expect(a.array == [1, .infinity, 2])
    #expect(GradientClipping.clip([b], maxNorm: 1).isNaN)
  }
}
