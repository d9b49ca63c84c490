import Backdoor
import Defense
import Foundation
import TensorCore
import Testing

/// ONION's and STRIP's computations on hand-made cases (the paper's and OpenBackdoor's rules).
struct OnionCoreTests {
  @Test func variantsLeaveOutEachWordAndOneWordInputsAreKept() {
    #expect(Onion.words(" a  b\tc ") == ["a", "b", "c"])
    #expect(Onion.variants(["a", "b", "c"]) == ["a b c", "b c", "a c", "a b"])
    #expect(Onion.variants(["alone"]).isEmpty)
  }

  @Test func suspicionIsTheWholePerplexityMinusEachWordLeftOut() {
    #expect(abs(Onion.perplexity([Float](repeating: 1, count: 3)) - exp(1)) < 1e-9)
    #expect(Onion.perplexity([Float]()) == 1)
    // Whole 10; without a: 9, without b: 4, without c: 10.
    let scores = Onion.suspicion(perplexities: [10, 9, 4, 10])
    #expect(scores == [1, 6, 0])
    // The word whose removal lowers perplexity most (b) is the one above the threshold.
    #expect(Onion.filtered(["a", "b", "c"], scores: scores, threshold: 2) == "a c")
    #expect(Onion.filtered(["a", "b", "c"], scores: scores, threshold: 6) == "a c")  // at the threshold: removed
    #expect(Onion.filtered(["a", "b", "c"], scores: scores, threshold: 6.5) == "a b c")
    #expect(Onion.filtered(["a", "b", "c"], scores: scores, threshold: .infinity) == "a b c")
  }

  @Test func theThresholdIsTheLowestCandidateWithinTheDevAccuracyBudget() {
    // 0, and the quantiles of 1…10 at index round(q * 9): 5% -> 1 (0.45 rounds to 0), 10% -> 2 (0.9),
    // 20% -> 3 (1.8), 30% -> 4 (2.7), 40% -> 5 (3.6), 50% -> 6 (4.5), 60% -> 6, 70% -> 7, 80% -> 8, 90% -> 9, 95/98/99% -> 10.
    #expect(Onion.candidates([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, .infinity])
    #expect(Onion.candidates([]) == [0, .infinity])
    let accuracy: [Double: Double] = [1: 0.80, 2: 0.885, 3: 0.90]
    let chosen = Onion.choose([3, 1, 2, .infinity], reference: 0.9, maxDrop: 0.02) { accuracy[$0]! }
    #expect(chosen.threshold == 2 && chosen.devAccuracy == 0.885)
    let none = Onion.choose([1, 2, .infinity], reference: 0.95, maxDrop: 0.02) { accuracy[$0]! }
    #expect(none.threshold == .infinity && none.devAccuracy == 0.95)
  }

  @Test func badSettingsAreNamed() {
    #expect(throws: BaselineError.invalidSetting(key: "onion.max_dev_accuracy_drop", value: "1.5", expected: "a fraction in [0, 1)")) {
      try Onion.Config(maxDevAccuracyDrop: 1.5).validate()
    }
    #expect(throws: BaselineError.self) { try Strip.Config(repeats: 0).validate() }
    #expect(throws: BaselineError.self) { try BaselineDefense(kind: .strip, strip: Strip.Config(frr: 1), seed: 1).validate() }
  }
}

struct StripCoreTests {
  @Test func termsAndTfIdfRankingFollowTheSmoothIdf() {
    #expect(Strip.terms("It's a GREAT film, 10/10!") == ["it", "great", "film", "10", "10"])
    // N = 2; df: good 1, film 2, bad 1; idf = ln(3 / (1 + df)) + 1: good, bad 1.405, film 1.
    // Doc 0: good 2 x 1.405 = 2.81, film 1; doc 1: bad 1.405, film 1.
    #expect(Strip.rankedTerms(["good good film", "bad film"]) == [["good", "film"], ["bad", "film"]])
    // Ties are broken by the word: equal counts and idf.
    #expect(Strip.rankedTerms(["bb aa"]) == [["aa", "bb"]])
  }

  @Test func entropyIsInBitsOverTheSoftmax() {
    #expect(abs(Strip.entropy(logits: [0, 0]) - 1) < 1e-12)
    #expect(abs(Strip.entropy(logits: [3, 3, 3, 3]) - 2) < 1e-12)
    #expect(Strip.entropy(logits: [0, 100]) < 1e-6)
    // p = (1/(1+e), e/(1+e)): H = -(p0 log2 p0 + p1 log2 p1).
    let p1 = exp(1.0) / (1 + exp(1.0)), p0 = 1 - p1
    #expect(abs(Strip.entropy(logits: [0, 1]) - -(p0 * log2(p0) + p1 * log2(p1))) < 1e-6)
  }

  @Test func theThresholdKeepsTheFalseRejectionRateOnDevRows() {
    // Sorted [1, 2, 3, 4, 5], index floor(5 * 0.2) = 1: 2; only the entropy below it is flagged.
    #expect(Strip.threshold(cleanEntropies: [5, 1, 4, 2, 3], frr: 0.2) == 2)
    #expect(Strip.threshold(cleanEntropies: [5, 1, 4, 2, 3], frr: 0) == 1)
    #expect(Strip.flags([1.5, 2, 3], threshold: 2) == [true, false, false])
  }

  @Test func aPerturbedCopyReplacesSomeWordsWithTheDonorsTopWords() {
    let text = "one two three four five six"
    var a = SeededRNG(seed: 7), b = SeededRNG(seed: 7)
    let copy = Strip.perturb(text, donors: [["x", "y", "z"]], swapRatio: 0.5, using: &a)
    #expect(copy == Strip.perturb(text, donors: [["x", "y", "z"]], swapRatio: 0.5, using: &b))  // seeded
    let before = text.split(separator: " "), after = copy.split(separator: " ")
    #expect(after.count == 6)
    // m = floor(6 x 0.5) = 3 draws (with repetition): at most 3 positions change, each to a donor word.
    let changed = zip(before, after).filter { $0 != $1 }
    #expect(!changed.isEmpty && changed.count <= 3 && changed.allSatisfy { ["x", "y", "z"].contains(String($0.1)) })
    // Nothing to replace with, or too short to replace anything: unchanged.
    #expect(Strip.perturb(text, donors: [[]], swapRatio: 0.5, using: &a) == text)
    #expect(Strip.perturb("one", donors: [["x"]], swapRatio: 0.5, using: &a) == "one")
  }
}

struct BKICoreTests {
  @Test func aWordsEffectIsTheLargestChangeOfTheRepresentation() {
    #expect(BKI.effects(whole: [0, 0, 1], without: [[1, -2, 1], [0.5, 0, 1.25]]) == [2, 0.5])
    let top = BKI.topWords(["a", "b", "c"], effects: [1, 3, 3], k: 2)
    #expect(top.map(\.word) == ["b", "c"] && top.map(\.effect) == [3, 3])
    #expect(BKI.topWords(["a"], effects: [1], k: 5).count == 1)
  }

  @Test func theKeywordHasTheHighestLogCountTimesMeanEffect() {
    // mn: 2 rows, mean 3 -> log10(2) x 3 = 0.90; good: 2 rows, mean 2 -> 0.60; bad: 1 row -> log10(1) = 0.
    let perRow: [[(word: String, effect: Double)]] = [[("mn", 4), ("good", 1)], [("mn", 2), ("bad", 1)], [("good", 3)]]
    let scores = BKI.scores(perRow)
    #expect(scores.map(\.word) == ["mn", "good", "bad"])
    #expect(abs(scores[0].score - log10(2) * 3) < 1e-12 && scores[0].count == 2 && scores[2].score == 0)
    #expect(BKI.flagged(perRow, keyword: "mn") == [true, true, false])
    #expect(throws: BaselineError.self) { try BKI.Config(topWords: 0).validate() }
  }
}

struct CleanFineTuningTests {
  @Test func theCleanRowsAreTheFirstOfEachLabelOfTheDevSplit() throws {
    let dev = [0, 1, 1, 0, 1, 0, 0].enumerated().map { Example(text: "r\($0.offset)", label: $0.element) }
    #expect(try CleanFineTuning.rows(dev: dev, labels: 2, perLabel: 2).map(\.text) == ["r0", "r1", "r2", "r3"])
    // Fewer rows than asked: all of them (label 1 has 3).
    #expect(try CleanFineTuning.rows(dev: dev, labels: 2, perLabel: 4).map(\.text) == ["r0", "r1", "r2", "r3", "r4", "r5", "r6"])
    #expect(throws: BaselineError.noCleanRows(defense: "finetune", reason: "the dev split has no row of label 2")) {
      try CleanFineTuning.rows(dev: dev, labels: 3, perLabel: 4)
    }
    #expect(throws: BaselineError.self) { try CleanFineTuning.rows(dev: nil, labels: 2, perLabel: 1) }
    #expect(throws: BaselineError.self) { try CleanFineTuning.Config(epochs: 0).validate() }
  }
}

struct NeuronPruningTests {
  @Test func theQuietestShareOfEachLayerIsChosen() {
    // Layer 0: activities 3, 1, 2, 0 -> the two quietest are neurons 3 and 1; layer 1: ties go to the lower index.
    #expect(NeuronPruning.quietest([[3, 1, 2, 0], [5, 5, 5, 5]], share: 0.5) == [[1, 3], [0, 1]])
    #expect(NeuronPruning.quietest([[1, 2, 3]], share: 0.2) == [[0]])  // round(0.6) = 1
    #expect(throws: BaselineError.self) { try NeuronPruning.Config(share: 1).validate() }
  }
}

/// The Swift HDBSCAN against scikit-learn's on seeded point sets (`scripts/fixtures/hdbscan_fixture.py`).
struct HDBSCANTests {
  struct Fixture: Decodable {
    struct Case: Decodable {
      var name: String; var minClusterSize: Int; var minSamples: Int?; var points: [[Double]]; var labels: [Int]
      /// Per point, every label scikit-learn gave it over permutations of the points (ties between equal merge heights).
      var allowed: [[Int]]
    }
    var cases: [Case]
  }

  /// Whether two labellings are the same up to renumbering the clusters (noise stays -1).
  static func sameClustering(_ a: [Int], _ b: [Int]) -> Bool {
    guard a.count == b.count else { return false }
    var map: [Int: Int] = [:], back: [Int: Int] = [:]
    for (x, y) in zip(a, b) {
      if (x < 0) != (y < 0) { return false }
      if x < 0 { continue }
      if let m = map[x], m != y { return false }
      if let m = back[y], m != x { return false }
      map[x] = y; back[y] = x
    }
    return true
  }

  /// Whether `ours` is scikit-learn's clustering up to renumbering, each point taking one of its
  /// allowed labels: the renumbering is fixed by the points with one allowed label.
  static func matches(_ ours: [Int], allowed: [[Int]]) -> Bool {
    guard ours.count == allowed.count else { return false }
    var map: [Int: Int] = [-1: -1]
    for (o, a) in zip(ours, allowed) where a.count == 1 {
      if let m = map[o], m != a[0] { return false }
      map[o] = a[0]
    }
    guard Set(map.values).count == map.count else { return false }
    return zip(ours, allowed).allSatisfy { o, a in map[o].map(a.contains) ?? false }
  }

  @Test func labelsMatchScikitLearn() throws {
    let url = try #require(Bundle.module.url(forResource: "hdbscan", withExtension: "json", subdirectory: "Fixtures"))
    let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    #expect(fixture.cases.count == 8)
    // Ties decide 2 points of one case only: the rest must match exactly.
    #expect(fixture.cases.reduce(0) { $0 + $1.allowed.filter { $0.count > 1 }.count } == 2)
    for c in fixture.cases {
      let ours = HDBSCAN.fit(c.points, minClusterSize: c.minClusterSize, minSamples: c.minSamples)
      #expect(Self.matches(ours, allowed: c.allowed),
              "\(c.name) (\(c.minClusterSize), \(c.minSamples.map(String.init) ?? "-")): \(Set(ours).count) labels, noise \(ours.filter { $0 < 0 }.count); scikit-learn \(Set(c.labels).count), noise \(c.labels.filter { $0 < 0 }.count)")
    }
  }

  @Test func twoSeparatedGroupsAreTwoClusters() {
    // Two tight groups of 6 on a line, far apart: two clusters, no noise.
    let left: [[Double]] = (0..<6).map { i in [Double(i) * 0.1] }
    let right: [[Double]] = (0..<6).map { i in [100 + Double(i) * 0.1] }
    let x = left + right
    #expect(Self.sameClustering(HDBSCAN.fit(x, minClusterSize: 3), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]))
    #expect(HDBSCAN.fit([[1]], minClusterSize: 3) == [-1])
    // Exact duplicates (merges at distance 0, lambda = inf) inside a group that splits again: the
    // three tight groups are found (scikit-learn 1.9 gives these three clusters: infinite stability wins).
    let dup: [[Double]] = [[Double]](repeating: [0], count: 5) + [[Double]](repeating: [1], count: 5) + [[Double]](repeating: [50], count: 5)
    #expect(Self.sameClustering(HDBSCAN.fit(dup, minClusterSize: 3), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]))
    #expect(CUBE.minSamples(CUBE.Config(), rows: 40) == 4 && CUBE.minSamples(CUBE.Config(), rows: 5000) == 100)
  }
}

struct CUBEFilterTests {
  @Test func eachLabelKeepsItsLargestClusterAndClustersOfAtLeastHalf() {
    // Label 1 (6 rows): clusters 0 (4 rows) and 1 (2 < 3): rows 4, 5 go. Label 0 (3 rows): cluster 2
    // (2 rows) is kept, the noise row (1 < 1.5) goes.
    let labels = [1, 1, 1, 1, 1, 1, 0, 0, 0], clusters = [0, 0, 0, 0, 1, 1, -1, 2, 2]
    #expect(CUBE.dropped(labels: labels, clusters: clusters) == [false, false, false, false, true, true, true, false, false])
    // Two clusters of 3 in a label of 6: the second is not under half, so nothing goes.
    #expect(CUBE.dropped(labels: [1, 1, 1, 1, 1, 1], clusters: [0, 0, 0, 1, 1, 1]) == [Bool](repeating: false, count: 6))
    // One cluster per label: nothing goes.
    #expect(CUBE.dropped(labels: [0, 1], clusters: [-1, -1]) == [false, false])
    #expect(throws: BaselineError.self) { try CUBE.Config(minClusterSize: 1).validate() }
  }
}

struct RAPCoreTests {
  @Test func theHingeLossPushesTheDropIntoItsRange() {
    let config = RAP.Config()  // drop wanted in [0.1, 0.3]
    // d = pRap - p: -0.05 (too small a drop: loss 0.05, gradient +1/3), -0.2 (in range: 0), -0.5 (too large: loss 0.2, gradient -1/3).
    let (loss, grad) = RAP.loss(pClean: [0.9, 0.9, 0.9], pRap: [0.85, 0.7, 0.4], config: config)
    #expect(abs(loss - (0.05 + 0.2) / 3) < 1e-12)
    #expect(abs(grad[0] - 1.0 / 3) < 1e-12 && grad[1] == 0 && abs(grad[2] + 1.0 / 3) < 1e-12)
  }

  @Test func theLogitGradientIsTheSoftmaxDerivative() {
    let logits: [Float] = [0.3, -1.2, 2.0]
    let g = RAP.logitGradient(logits: logits, target: 2, dp: 1)
    // Central differences of p_2 in each logit.
    for j in 0..<3 {
      var up = logits, down = logits
      up[j] += 1e-3; down[j] -= 1e-3
      let numeric = (RAP.probabilities(up)[2] - RAP.probabilities(down)[2]) / 2e-3
      #expect(abs(Double(g[j]) - numeric) < 1e-5, "logit \(j)")
    }
  }

  @Test func aStepKeepsTheEmbeddingsNormAndPercentilesInterpolate() {
    var e: [Float] = [3, 4]
    RAP.step(&e, gradient: [1, 0], learningRate: 1, norm: 5)  // (2, 4) scaled to norm 5
    #expect(abs(Double(e[0]) - 2 * 5 / 20.0.squareRoot()) < 1e-5 && abs(Double(e[1]) - 4 * 5 / 20.0.squareRoot()) < 1e-5)
    // numpy.percentile([1, 2, 3, 4], q): position q/100 · 3, linear between neighbours.
    #expect(RAP.percentile([4, 1, 3, 2], 0.5) == 2.5)
    #expect(abs(RAP.percentile([4, 1, 3, 2], 0.01) - 1.03) < 1e-12)
    #expect(RAP.percentile([], 0.5).isNaN)
    #expect(RAP.insert("cf", into: "a film") == "cf a film")
    #expect(throws: BaselineError.self) { try RAP.Config(minDrop: 0.3, maxDrop: 0.1).validate() }
  }
}

struct CleanGenCoreTests {
  @Test func theFirstTokenOverAlphaTimesTheReferenceIsSuspicious() {
    // Ratios 2, 30, 50 with alpha 20: the second token (index 1) is the first suspicious one.
    #expect(CleanGen.firstSuspicious(suspect: [0.4, 0.6, 0.5], reference: [0.2, 0.02, 0.01], alpha: 20) == 1)
    #expect(CleanGen.firstSuspicious(suspect: [0.4, 0.6], reference: [0.2, 0.3], alpha: 20) == nil)
    #expect(throws: BaselineError.self) { try CleanGen.Config(alpha: 1).validate() }
  }
}
