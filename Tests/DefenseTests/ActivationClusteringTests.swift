import Defense
import TensorCore
import Testing

struct ActivationClusteringTests {
  @Test func projectionRecoversTheDominantDirection() {
    // Points along (1, 2, 0) with a small spread along (0, 0, 1): the first principal
    // component is ±(1, 2, 0)/√5, so the projection is ±t·√5 (up to the centring).
    var rng = SeededRNG(seed: 3)
    let ts: [Float] = (0..<40).map { Float($0) / 4 - 5 }
    let x = ts.enumerated().map { (i, t) in [t, 2 * t, i % 2 == 0 ? 0.1 : -0.1] }
    let p = ActivationClustering.project(x, components: 1, using: &rng)
    let mean = ts.reduce(0, +) / Float(ts.count)
    let sign: Float = p[0][0] * (ts[0] - mean) > 0 ? 1 : -1
    for (i, t) in ts.enumerated() {
      #expect(abs(p[i][0] - sign * (t - mean) * Float(5).squareRoot()) < 1e-3)
    }
  }

  @Test func twoMeansSeparatesTwoBlobs() {
    var rng = SeededRNG(seed: 1)
    let a = (0..<30).map { _ in [rng.nextFloat() - 0.5, rng.nextFloat() - 0.5] }
    let b = (0..<10).map { _ in [rng.nextFloat() + 5, rng.nextFloat() + 5] }
    let assign = ActivationClustering.twoMeans(a + b, using: &rng)
    #expect(Set(assign[0..<30]).count == 1 && Set(assign[30...]).count == 1 && assign[0] != assign[30])
  }

  @Test func silhouetteMatchesAHandComputedCase() {
    // Clusters {0, 1} and {10, 11}: s(0) = (10.5 − 1)/10.5, s(1) = (9.5 − 1)/9.5, and symmetric.
    let f: [[Float]] = [[0], [1], [10], [11]]
    let expected = ((9.5 / 10.5) + (8.5 / 9.5)) / 2
    #expect(abs(ActivationClustering.silhouette(f, assign: [0, 0, 1, 1]) - expected) < 1e-6)
    #expect(ActivationClustering.silhouette(f, assign: [0, 0, 0, 0]) == 0)
  }

  @Test func splitsFindTheSmallClusterOfEachLabel() {
    // Label 1: 24 rows near the origin and 8 far away (the "poison"); label 0: one blob.
    var rng = SeededRNG(seed: 5)
    var features: [[Float]] = [], labels: [Int] = []
    for i in 0..<60 {
      let label = i < 28 ? 0 : 1
      let far = label == 1 && i >= 52
      features.append((0..<6).map { _ in rng.nextFloat() - 0.5 + (far ? 4 : 0) })
      labels.append(label)
    }
    let splits = ActivationClustering.splits(features: features, labels: labels, components: 3, using: &rng)
    #expect(splits.map(\.label) == [0, 1])
    #expect(Set(splits[1].smallCluster) == Set(52..<60))
    #expect(abs(splits[1].relativeSize - 0.25) < 1e-9)
    #expect(splits[1].silhouette > 0.6)
    #expect(splits[0].silhouette < splits[1].silhouette)
    #expect(splits[0].rows == Array(0..<28))
  }
}
