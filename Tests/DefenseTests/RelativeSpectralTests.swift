import Foundation
import Defense
import Backdoor
import TensorCore
import Testing

/// The relative spectral screen: its linear algebra against hand-computed cases, and the screen
/// on synthetic features with a trigger direction in one label.
struct RelativeSpectralTests {
  @Test func jacobiAndCholeskyMatchHandComputedCases() throws {
    // [[2, 1], [1, 2]]: eigenvalues 3 and 1, eigenvectors (1, 1)/√2 and (1, −1)/√2.
    let (values, vectors) = RelativeSpectral.jacobiEigen([2, 1, 1, 2], 2)
    let order = values.indices.sorted { values[$0] > values[$1] }
    #expect(abs(values[order[0]] - 3) < 1e-12 && abs(values[order[1]] - 1) < 1e-12)
    let v = [vectors[0 * 2 + order[0]], vectors[1 * 2 + order[0]]]
    #expect(abs(abs(v[0]) - 0.5.squareRoot()) < 1e-12 && abs(v[0] - v[1]) < 1e-12)
    // [[4, 2], [2, 3]] = L Lᵀ with L = [[2, 0], [1, √2]].
    let l = try #require(RelativeSpectral.cholesky([4, 2, 2, 3], 2))
    #expect(abs(l[0] - 2) < 1e-12 && l[1] == 0 && abs(l[2] - 1) < 1e-12 && abs(l[3] - 2.0.squareRoot()) < 1e-12)
    #expect(RelativeSpectral.cholesky([1, 2, 2, 1], 2) == nil)  // not positive definite
  }

  @Test func theGeneralizedEigenvectorSolvesAwEqualsLambdaBw() throws {
    // A random symmetric A and positive definite B (5 × 5): A w = λ₁ B w for the top pair, and the
    // eigenvalues are those of B⁻¹A (checked through the residual of every returned value's trace sum).
    var rng = SeededRNG(seed: 7)
    let d = 5
    let g = (0..<(d * d)).map { _ in Double(rng.nextFloat()) - 0.5 }
    let h = (0..<(d * d)).map { _ in Double(rng.nextFloat()) - 0.5 }
    var a = [Double](repeating: 0, count: d * d), b = a
    for i in 0..<d { for j in 0..<d { for k in 0..<d { a[i * d + j] += g[i * d + k] * g[j * d + k]; b[i * d + j] += h[i * d + k] * h[j * d + k] } } }
    for i in 0..<d { b[i * d + i] += 0.5 }
    let (values, w) = try #require(RelativeSpectral.topGeneralizedEigen(a, b, d))
    #expect(values == values.sorted(by: >))
    for i in 0..<d {
      let aw = (0..<d).reduce(0.0) { $0 + a[i * d + $1] * w[$1] }, bw = (0..<d).reduce(0.0) { $0 + b[i * d + $1] * w[$1] }
      #expect(abs(aw - values[0] * bw) < 1e-9 * max(1, abs(aw)))
    }
    // The eigenvalues of B⁻¹A sum to its trace: tr(B⁻¹A), with B⁻¹ from the Cholesky solves.
    let l = try #require(RelativeSpectral.cholesky(b, d))
    var trace = 0.0
    for col in 0..<d {
      // Column col of B⁻¹A: solve B x = A[:, col].
      let y = RelativeSpectral.forwardSolve(l, d, (0..<d).map { a[$0 * d + col] })
      var x = [Double](repeating: 0, count: d)
      for i in stride(from: d - 1, through: 0, by: -1) { var s = y[i]; for k in (i + 1)..<d { s -= l[k * d + i] * x[k] }; x[i] = s / l[i * d + i] }
      trace += x[col]
    }
    #expect(abs(values.reduce(0, +) - trace) < 1e-9 * abs(trace))
  }

  /// 600 rows of Gaussian features (24 wide), labels alternating, the label in feature 0 (mean 3y);
  /// with `poisoned` rows of label 0 made dirty-label: relabelled 1 (their text, feature 0, stays
  /// that of label 0) and shifted by 6 along one fixed unit direction (a trigger only label 1's rows
  /// carry). `decoys` clean rows of label 1 are shifted by -8 along the same direction: a larger
  /// natural tail at the other end, which makes the third moment point away from the trigger.
  static func features(poisoned: Int, decoys: Int = 0, seed: UInt64) -> (x: [[Float]], labels: [Int], poison: Set<Int>) {
    var rng = SeededRNG(seed: seed)
    func gauss() -> Float { let u = max(rng.nextFloat(), 1e-7), v = rng.nextFloat(); return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * .pi * v) }
    var labels = (0..<600).map { $0 % 2 }
    var x = labels.map { y in (0..<24).map { j in gauss() + (j == 0 ? Float(3 * y) : 0) } }
    let direction = (0..<24).map { j in Float(j % 3 == 1 ? 1 : 0) / Float(8).squareRoot() }
    let poison = Set(labels.indices.filter { labels[$0] == 0 }.prefix(poisoned))
    for i in poison { x[i] = zip(x[i], direction).map { $0 + 6 * $1 }; labels[i] = 1 }
    let ones = labels.indices.filter { labels[$0] == 1 && !poison.contains($0) }
    for i in ones.prefix(decoys) { x[i] = zip(x[i], direction).map { $0 - 8 * $1 } }
    return (x, labels, poison)
  }

  /// The geometry on synthetic features, judged against equal label shares.
  static let geometry = RelativeSpectral.Criteria(components: 20)
  static let uniform = LabelReference.uniform(2)

  @Test func aLabelAboveItsReferenceShareHasItsTriggersEndFlagged() throws {
    // 40 of 300 rows of label 0 relabelled 1: label 1 holds 340 of 600 (0.567 against 0.5, z = 3.3).
    let (x, labels, poison) = Self.features(poisoned: 40, seed: 11)
    let r = try RelativeSpectral.screen(features: x, labels: labels, classes: 2, reference: Self.uniform, criteria: Self.geometry, seed: 1)
    let dirs = try #require(r.spectral)
    #expect(dirs.map(\.label) == [0, 1] && r.poisonedLabels == [1] && r.reference == Self.uniform)
    let z = (340.0 / 600 - 0.5) / (0.25 / 600).squareRoot()
    #expect(dirs[1].share == 340.0 / 600 && dirs[1].referenceShare == 0.5 && abs((dirs[1].shareZ ?? 0) - z) < 1e-12 && (dirs[0].shareZ ?? 0) < 0)
    // The ridge reclassifier picks the end: label 1's trigger end is mostly text of label 0.
    #expect(dirs[1].reclassified > 0.8 && dirs[0].reclassified < 0.3, "\(dirs.map { ($0.reclassified, $0.otherEndReclassified) })")
    #expect(dirs[1].eigenRatio > 2, "\(dirs.map(\.eigenvalues))")
    // Half of label 1's rows are flagged, the 40 most extreme (nearly all) the poisoned ones, each flipped to label 0.
    #expect(r.flaggedRows.count == 170 && dirs[1].relativeSize == 0.5)
    let top = r.flaggedRows.prefix(40)
    #expect(top.filter { poison.contains($0) }.count >= 36, "\(top.filter { poison.contains($0) }.count) of 40")
    #expect(poison.isSubset(of: Set(r.flaggedRows)))
    #expect(r.flipLabels.allSatisfy { $0 == 0 } && r.flaggedRows.count == r.flipLabels.count && r.splits.isEmpty)
    // Against a reference that has label 1 at that share (a dataset whose labels are 57/43 anyway), nothing is flagged.
    let skewed = LabelReference(shares: [260.0 / 600, 340.0 / 600], rows: 400, source: "dev split (400 rows)")
    let same = try RelativeSpectral.screen(features: x, labels: labels, classes: 2, reference: skewed, criteria: Self.geometry, seed: 1)
    #expect(same.poisonedLabels.isEmpty && same.flaggedRows.isEmpty && same.spectral?[1].shareZ == 0)
    // Clean features at equal shares: nothing is flagged.
    let clean = Self.features(poisoned: 0, seed: 11)
    let c = try RelativeSpectral.screen(features: clean.x, labels: clean.labels, classes: 2, reference: Self.uniform, criteria: Self.geometry, seed: 1)
    #expect(c.poisonedLabels.isEmpty && c.flaggedRows.isEmpty)
    // Mismatched inputs, shares and references are refused.
    #expect(throws: DefenseError.self) { _ = try RelativeSpectral.screen(features: Array(x.prefix(5)), labels: labels, classes: 2, reference: Self.uniform, seed: 1) }
    #expect(throws: DefenseError.self) { _ = try RelativeSpectral.screen(features: x, labels: labels.map { $0 + 1 }, classes: 2, reference: Self.uniform, seed: 1) }
    #expect(throws: DefenseError.self) { _ = try RelativeSpectral.screen(features: x, labels: labels, classes: 2, reference: .uniform(3), seed: 1) }
    #expect(throws: DefenseError.self) {
      _ = try RelativeSpectral.screen(features: x, labels: labels, classes: 2, reference: Self.uniform,
                                      criteria: .init(tailShare: 0.6, excludeShare: 0.5), seed: 1)
    }
  }

  @Test func judgeComparesEachLabelsShareWithTheReference() throws {
    // Label counts of 1,000 training rows against a reference; both conditions (5 points, z >= 2) must hold.
    func flagged(_ counts: [Int], _ reference: LabelReference) -> [Int] {
      var dirs = counts.enumerated().map { k, n in
        RelativeSpectral.Direction(label: k, rows: n, eigenvalues: [], eigenRatio: 0, sign: 1, reclassified: 0,
                                   otherEndReclassified: 0, cluster: [], relativeSize: 0.5, flagged: false)
      }
      RelativeSpectral.judge(&dirs, trainRows: counts.reduce(0, +), reference: reference, criteria: .init())
      return dirs.filter { $0.flagged }.map { $0.label }
    }
    let dev = LabelReference(shares: [0.4775, 0.5225], rows: 400, source: "dev split")  // 191/209, the SST-2 subsets' dev split
    // SST-2 SynBkd seed 42: 646 of 1,000 (+12.4 points, se sqrt(0.4775 * 0.5225 * (1/1000 + 1/400)) = 0.0296, z 4.2).
    #expect(flagged([354, 646], dev) == [1])
    #expect(flagged([482, 518], dev) == [])          // clean SST-2
    #expect(flagged([410, 590], dev) == [1])         // +6.75 points, z 2.28
    #expect(flagged([420, 580], dev) == [])          // +5.75 points, z 1.94: under 2 standard errors
    #expect(flagged([750, 250], .init(shares: [0.75, 0.25], rows: 300, source: "dev split")) == [])  // clean 75/25, dev alike
    #expect(flagged([600, 400], .init(shares: [0.75, 0.25], rows: 300, source: "dev split")) == [1]) // SynBkd on the minority
    // Without a sample (uniform shares) only the training rows' error counts: 530 of 1,000 is 3 points (z 1.9), 560 is 6 (z 3.8).
    #expect(flagged([470, 530], .uniform(2)) == [] && flagged([440, 560], .uniform(2)) == [1])
    #expect(flagged([403, 202, 175, 220], .uniform(4)) == [0])                 // AG News StyleBkd
    #expect(flagged([263, 221, 249, 267], .uniform(4)) == [])                  // clean AG News
    // A label the reference never holds is flagged once it is 5 points of the rows (no standard error: z is nil).
    #expect(flagged([940, 60], .init(shares: [1, 0], rows: 50, source: "dev split")) == [1])
    #expect(flagged([960, 40], .init(shares: [1, 0], rows: 50, source: "dev split")) == [])
    var zero = [RelativeSpectral.Direction(label: 0, rows: 940, eigenvalues: [], eigenRatio: 0, sign: 1, reclassified: 0,
                                           otherEndReclassified: 0, cluster: [], relativeSize: 0.5, flagged: false),
                RelativeSpectral.Direction(label: 1, rows: 60, eigenvalues: [], eigenRatio: 0, sign: 1, reclassified: 0,
                                           otherEndReclassified: 0, cluster: [], relativeSize: 0.5, flagged: false)]
    RelativeSpectral.judge(&zero, trainRows: 1000, reference: .init(shares: [1, 0], rows: 50, source: "dev split"), criteria: .init())
    #expect(zero.allSatisfy { $0.shareZ == nil } && zero[1].flagged)
    // What the screen writes must encode as JSON (no infinities).
    #expect(throws: Never.self) { _ = try JSONEncoder().encode(zero) }
    // Counted references: shares of the rows, labels checked.
    let counted = try LabelReference.counted([0, 1, 1, 1], classes: 2, source: "dev split")
    #expect(counted.shares == [0.25, 0.75] && counted.rows == 4 && counted.source == "dev split (4 rows)")
    #expect(throws: DefenseError.self) { _ = try LabelReference.counted([0, 2], classes: 2, source: "dev split") }
    #expect(throws: DefenseError.self) { _ = try LabelReference.counted([], classes: 2, source: "dev split") }
  }

  @Test func theTriggersEndIsChosenByReclassificationNotBySkew() throws {
    // 80 natural rows of label 1 at -8 outweigh the 40 poisoned at +6 in the third moment
    // (80 · 8³ > 40 · 6³), so "the heavier tail" would flag the natural end.
    let (x, labels, poison) = Self.features(poisoned: 40, decoys: 80, seed: 5)
    let ones = labels.indices.filter { labels[$0] == 1 }
    // Along the trigger direction the label's median-centred third moment points at the decoys' end.
    let direction = (0..<24).map { j in Double(j % 3 == 1 ? 1 : 0) / Double(8).squareRoot() }
    let p = ones.map { i in zip(x[i], direction).reduce(0.0) { $0 + Double($1.0) * $1.1 } }
    let median = p.sorted()[p.count / 2]
    #expect(p.reduce(0.0) { $0 + pow($1 - median, 3) } < 0)
    let r = try RelativeSpectral.screen(features: x, labels: labels, classes: 2, reference: Self.uniform, criteria: Self.geometry, seed: 1)
    let dir = try #require(r.spectral?.first { $0.label == 1 })
    // The trigger's tail is reclassified more than the decoys' (0.82 against 0.55 here).
    #expect(r.poisonedLabels == [1] && dir.reclassified > 0.7 && dir.reclassified > dir.otherEndReclassified + 0.2,
            "\(dir.reclassified) \(dir.otherEndReclassified)")
    let top = r.flaggedRows.prefix(40)
    #expect(top.filter { poison.contains($0) }.count >= 36, "\(top.filter { poison.contains($0) }.count) of 40")
    // The decoys' tail lies farther from the median than the trigger's, but not twice as far, so
    // reclassification decides (4.2 against 5.9 here); at a ratio of 1.25 the distance rule would take the decoys' end.
    let near = try #require(dir.tailDistance), far = try #require(dir.otherTailDistance)
    #expect(far < 2 * near && far > 1.25 * near, "\(near) \(far)")
    let loose = try RelativeSpectral.screen(features: x, labels: labels, classes: 2, reference: Self.uniform,
                                            criteria: .init(components: 20, separateModeRatio: 1.25), seed: 1)
    #expect(loose.flaggedRows.prefix(40).filter { poison.contains($0) }.count <= 4)
  }

  @Test func aTriggerThatFormsItsOwnModeChoosesItsEndByDistance() throws {
    // Poisoned rows pushed 3x as far out (a style): their tail is more than twice as far from the
    // median as the other end's, so the distance rule takes that end (the decoy test above shows
    // the rule overriding reclassification).
    let f = Self.features(poisoned: 40, seed: 7)
    var x = f.x
    let labels = f.labels, poison = f.poison
    let direction = (0..<24).map { j in Float(j % 3 == 1 ? 1 : 0) / Float(8).squareRoot() }
    for i in poison { x[i] = zip(x[i], direction).map { $0 + 12 * $1 } }
    let r = try RelativeSpectral.screen(features: x, labels: labels, classes: 2, reference: Self.uniform, criteria: Self.geometry, seed: 1)
    let dir = try #require(r.spectral?.first { $0.label == 1 })
    #expect((dir.tailDistance ?? 0) >= 2 * (dir.otherTailDistance ?? .infinity), "\(dir.tailDistance ?? 0) \(dir.otherTailDistance ?? 0)")
    #expect(r.flaggedRows.prefix(40).filter { poison.contains($0) }.count >= 38)
    #expect(RelativeSpectral.median([3, 1, 2]) == 2 && RelativeSpectral.median([4, 1, 2, 3]) == 2.5 && RelativeSpectral.median([]) == 0)
  }

  @Test func onlyFlaggedRowsWhoseTextReadsAsAnotherLabelAreFlipped() throws {
    // Four labels (the label in features 0-3, mean 5), 800 rows; 60 rows of labels 1-3 relabelled 0
    // with a trigger (+6 along a direction in features 8-22), and 40 clean rows of label 0 farther out
    // along it (+10): the ranking's most extreme rows are clean (AG News StyleBkd seed 2's failure,
    // where 42 clean World rows were flipped into other labels). A classifier reading the text gives
    // those rows their own label, so they are passed over and the poisoned rows go to their text's label.
    var rng = SeededRNG(seed: 21)
    func gauss() -> Float { let u = max(rng.nextFloat(), 1e-7), v = rng.nextFloat(); return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * .pi * v) }
    var labels = (0..<800).map { $0 % 4 }
    var x = labels.map { y in (0..<24).map { j in gauss() + (j == y ? 5 : 0) } }
    let direction = (0..<24).map { j in Float(j >= 8 && j % 2 == 0 ? 1 : 0) / Float(8).squareRoot() }
    var text: [Int: Int] = [:]
    for i in labels.indices.filter({ labels[$0] != 0 }).prefix(60) {
      text[i] = labels[i]; labels[i] = 0
      x[i] = zip(x[i], direction).map { $0 + 6 * $1 }
    }
    let decoys = Set(labels.indices.filter { labels[$0] == 0 && text[$0] == nil }.prefix(40))
    for i in decoys { x[i] = zip(x[i], direction).map { $0 + 10 * $1 } }
    let r = try RelativeSpectral.screen(features: x, labels: labels, classes: 4, reference: .uniform(4), criteria: Self.geometry, seed: 1)
    #expect(r.poisonedLabels == [0])
    // The ranking puts clean rows first: flipping its first 60 rows, as the default does, flips at
    // least 30 clean ones (36 here).
    #expect(r.flaggedRows.prefix(60).filter { decoys.contains($0) }.count >= 30, "\(r.flaggedRows.prefix(60).filter { decoys.contains($0) }.count)")
    let confirmed = try #require(r.confirmedFlips)
    #expect(confirmed.count == r.flaggedRows.count)
    let byRow = Dictionary(uniqueKeysWithValues: zip(r.flaggedRows, zip(confirmed, try #require(r.confirmedLabels))))
    #expect(decoys.filter { byRow[$0]?.0 == true }.count <= 2, "\(decoys.filter { byRow[$0]?.0 == true }.count) clean rows confirmed")
    #expect(text.keys.filter { byRow[$0]?.0 == true && byRow[$0]?.1 == text[$0] }.count >= 57)
    // Through the stages: the cap is label 0's rows above its share, round(800 * (260/800 - 0.25)) = 60.
    let rows = labels.indices.map { Example(text: "row \($0)", label: labels[$0], poisoned: text[$0] != nil, sourceIndex: $0) }
    let confirming = P2PConfig(labels: 4, seed: 3, spectralScreen: true, confirmFlips: true)
    let (out, manifest) = try P2PReconstruction.apply(rows, config: confirming, probe: r)
    let flipped = try #require(manifest.flippedRows)
    #expect(flipped.count == 60 && (manifest.flippedPoisonedRows ?? 0) >= 57, "\(manifest.flippedPoisonedRows ?? 0) of \(flipped.count)")
    #expect((manifest.unconfirmedFlips ?? 0) >= 38)
    // Each poisoned flip lands in the safe label of its text's label (h(i) = i + 4).
    let safeRows = out.filter { $0.benign && flipped.contains($0.sourceIndex ?? -1) }
    let landed = safeRows.filter { (row: P2PRow) -> Bool in
      guard let source = row.sourceIndex, let t = text[source] else { return false }
      return row.label == t + 4
    }
    #expect(landed.count >= 57, "\(landed.count)")
    // Without the option the same screen result flips the ranking's first 60 rows.
    let (_, plain) = try P2PReconstruction.apply(rows, config: P2PConfig(labels: 4, seed: 3, spectralScreen: true), probe: r)
    #expect(plain.flippedRows == r.flaggedRows.prefix(60).sorted() && plain.unconfirmedFlips == nil)
    #expect(confirming.variantName == "p2p-spectral" && P2PConfig(automatic: true, confirmFlips: true).variantName == "p2p-confirm")
    // Confirmations that do not match the flagged rows are refused, not indexed out of range.
    var short = r
    short.confirmedLabels = Array((r.confirmedLabels ?? []).dropLast())
    #expect(throws: DefenseError.self) { _ = try P2PReconstruction.apply(rows, config: confirming, probe: short) }
  }

  @Test func theSpectralPipelineExcludesAndFlipsTheFlaggedRows() throws {
    // The screen's result drives the same exclusion and flip stages as the probe's.
    let rows = (0..<600).map { Example(text: "row \($0)", label: $0 % 2, poisoned: false, sourceIndex: $0) }
    let (x, labels, _) = Self.features(poisoned: 40, seed: 11)
    let screen = try RelativeSpectral.screen(features: x, labels: labels, classes: 2, reference: Self.uniform, criteria: Self.geometry, seed: 1)
    let config = P2PConfig(seed: 3, spectralScreen: true)
    #expect(ClassificationStages.names(for: config) == ["spectral", "random", "flip"] && config.variantName == "p2p-spectral")
    #expect(DefensePreset.spectral.stageNames() == ["spectral", "random", "flip"])
    let (out, manifest) = try P2PReconstruction.apply(rows, config: config, probe: screen)
    let flagged = Set(screen.flaggedRows)
    #expect(manifest.benignSourceRows.allSatisfy { !flagged.contains($0) } && manifest.benignSourceRows.count == 120)
    // Flips: at most half the benign rows (60), a tenth of the rows (60), and the rows label 1 holds
    // above its reference share, round(600 * (340/600 - 0.5)) = 40: the 40 most extreme flagged rows.
    #expect(manifest.flippedRows == screen.flaggedRows.prefix(40).sorted() && out.count == 600 + 120 + 40)
    #expect(throws: DefenseError.self) { _ = try P2PReconstruction.apply(rows, config: config) }
    #expect(throws: DefenseError.self) { try P2PConfig(probeScreen: true, spectralScreen: true).validate() }
  }
}
