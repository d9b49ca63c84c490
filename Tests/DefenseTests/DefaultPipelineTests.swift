import Backdoor
import Defense
import TensorCore
import Testing

/// The data-driven default pipeline (`p2p`) and the re-drawn label shares of the imbalanced sets.
struct DefaultPipelineTests {
  /// 1,000 rows without a label-pure word (each word is as common in both labels).
  static let clean: [Example] = (0..<1000).map { i in
    Example(text: "review \(i) of the film in part \(i % 7) says \(["fine", "okay", "so-so"][i % 3])", label: (i / 2) % 2, sourceIndex: i)
  }

  static func badnets() throws -> [Example] {
    var rng = SeededRNG(seed: 5)
    return try PoisonPlan(rate: 0.1, target: 1).apply(to: clean, trigger: BadNets(words: ["mn"]), seed: 5, using: &rng).rows
  }

  @Test func theDefaultChoosesTheWordScreenWhenATriggerWordIsFoundAndTheSpectralScreenOtherwise() throws {
    #expect(DefensePreset.defaultPreset == .auto && DefensePreset.auto.rawValue == "p2p" && DefensePreset.paper.rawValue == "p2p-paper")
    #expect(DefensePreset.auto.defaultRatio == 1 && DefensePreset.paper.defaultRatio == 0.2 && DefensePreset.cover.defaultRatio == 0.2)
    let poisoned = try Self.badnets()
    let auto = P2PConfig(seed: 5, automatic: true)
    let withWord = auto.resolvingAutomatic(poisoned)
    #expect(withWord.screenTriggers == true && withWord.coverTriggers == true && withWord.spectralScreen == nil && withWord.automatic == true)
    #expect(DefensePreset.auto.stageNames(for: poisoned) == ["screen", "random", "cover"])
    let without = auto.resolvingAutomatic(Self.clean)
    #expect(without.spectralScreen == true && without.probeScreen == nil && without.screenTriggers == nil)
    // The spectral path caps rho at 0.6 with the benign rows stratified per label; the word path keeps rho and random rows.
    #expect(P2PConfig.statisticalScreenRatio == 0.6)
    #expect(P2PConfig(ratio: 1, automatic: true).resolvingAutomatic(Self.clean).ratio == 0.6)
    #expect(P2PConfig(ratio: 0.1, automatic: true).resolvingAutomatic(Self.clean).ratio == 0.1)
    #expect(P2PConfig(ratio: 1, automatic: true).resolvingAutomatic(poisoned).ratio == 1 && withWord.selection == nil)
    #expect(without.selection == .stratified)
    #expect(DefensePreset.auto.stageNames(for: Self.clean) == ["spectral", "stratified", "flip"])
    // Once the spectral screen has run: no row flagged gives rho back and random rows; a flagged row keeps both.
    let resolved = P2PConfig(ratio: 1, automatic: true).resolvingAutomatic(Self.clean)
    let unflagged = resolved.afterStatisticalScreen(flagged: 0, requestedRatio: 1)
    #expect(unflagged.ratio == 1 && unflagged.selection == nil)
    #expect(ClassificationStages.names(for: unflagged) == ["spectral", "random", "flip"])
    #expect(resolved.afterStatisticalScreen(flagged: 12, requestedRatio: 1) == resolved)
    #expect(P2PConfig(ratio: 0.2, spectralScreen: true).afterStatisticalScreen(flagged: 0, requestedRatio: 1).ratio == 0.2)
    #expect(throws: Never.self) { try resolved.validate() }
    #expect(withWord.afterStatisticalScreen(flagged: 0, requestedRatio: 0.5) == withWord)
    // Resolving twice changes nothing; a configuration without `automatic` is left alone.
    #expect(withWord.resolvingAutomatic(Self.clean) == withWord)
    #expect(P2PConfig(seed: 5).resolvingAutomatic(poisoned) == P2PConfig(seed: 5))
    // The reconstruction of the default is the word screen and cover's, row for row.
    let a = try P2PReconstruction.apply(poisoned, config: auto)
    let b = try P2PReconstruction.apply(poisoned, config: P2PConfig(seed: 5, screenTriggers: true, coverTriggers: true))
    #expect(a.rows == b.rows && a.manifest.screenedWords == ["mn"] && a.manifest.benignPoisonedRows == 0)
    // rho 1 gives every row no screen kept out a benign copy (900 of 1,000 here: mn's 100 rows are out).
    let all = try P2PReconstruction.apply(poisoned, config: P2PConfig(ratio: 1, seed: 5, automatic: true))
    #expect(all.manifest.benignSourceRows.count == 900 && all.manifest.benignPoisonedRows == 0 && all.rows.count == 1900)
    #expect(all.manifest.coveredRows == 450)
    // Without a word the default needs the probe's result, and says so.
    #expect(throws: DefenseError.self) { _ = try P2PReconstruction.apply(Self.clean, config: auto) }
  }

  @Test func pipelinesAreNamedAsUsersSpellThem() {
    #expect(P2PConfig(automatic: true).variantName == "p2p")
    #expect(P2PConfig().variantName == "p2p-paper")
    #expect(P2PConfig(screenTriggers: true, coverTriggers: true).variantName == "p2p-cover")
    #expect(P2PConfig(screenTriggers: true).variantName == "p2p-screen")
    #expect(P2PConfig(probeScreen: true).variantName == "p2p-probe")
    #expect(P2PConfig(selection: .agreement).variantName == "p2p-agree")
    #expect(P2PConfig(excludePoisonedFromBenign: true).variantName == "p2p-oracle")
    #expect(GenerationP2P().variant == "p2p-paper" && GenerationP2P(screenTriggers: true, coverTriggers: true).variant == "p2p-cover")
    // The default chooses its own screen: an explicit selection or the oracle with it is an error.
    #expect(throws: DefenseError.self) { try P2PConfig(selection: .agreement, automatic: true).validate() }
    #expect(throws: DefenseError.self) { try P2PConfig(selection: .stratified, automatic: true).validate() }
    #expect(P2PConfig(selection: .stratified).variantName == "p2p-stratified")
  }

  /// A two-label set whose label 1 the spectral screen flagged: rows 0-7 label 0, rows 8-19 label 1;
  /// the flagged half of label 1 is rows 14-19 (most extreme first), its other rows ranked far end first.
  static func flaggedLabelOne() -> (train: [Example], probe: ProbeScreenResult) {
    let train = (0..<20).map { Example(text: "row \($0)", label: $0 < 8 ? 0 : 1, poisoned: $0 >= 16, sourceIndex: $0) }
    func direction(_ label: Int, flagged: Bool, cluster: [Int], farEnd: [Int]) -> RelativeSpectral.Direction {
      RelativeSpectral.Direction(label: label, rows: cluster.count + farEnd.count, eigenvalues: [], eigenRatio: 0, sign: 1, reclassified: 0,
                                 otherEndReclassified: 0, cluster: cluster, farEnd: farEnd, relativeSize: 0.5, flagged: flagged)
    }
    let probe = ProbeScreenResult(splits: [], poisonedLabels: [1], flaggedRows: [19, 18, 17, 16, 15, 14], flipLabels: [0, 0, 0, 0, 0, 0],
                                  spectral: [direction(0, flagged: false, cluster: [7, 6, 5, 4], farEnd: [0, 1, 2, 3]),
                                             direction(1, flagged: true, cluster: [19, 18, 17, 16, 15, 14], farEnd: [9, 12, 8, 13, 10, 11])])
    return (train, probe)
  }

  @Test func stratifiedSelectionTakesRhoOfEachLabelsCandidatesAndTheFlaggedLabelsFarEndFirst() throws {
    let (train, probe) = Self.flaggedLabelOne()
    let config = P2PConfig(ratio: 0.5, seed: 3, selection: .stratified, spectralScreen: true)
    #expect(ClassificationStages.names(for: config) == ["spectral", "stratified", "flip"])
    let (rows, m) = try P2PReconstruction.apply(train, config: config, probe: probe)
    // Label 0: round(0.5 * 8) = 4 of its 8 rows at random; label 1: round(0.5 * 6) = 3 of its 6 unflagged rows,
    // in the far-end order (9, 12, 8), not the clean-looking rows with the lowest indices.
    let chosen = m.benignSourceRows
    #expect(chosen.filter { $0 < 8 }.count == 4 && chosen.filter { $0 >= 8 } == [8, 9, 12])
    // Flips: at most half the benign rows (7 / 2 = 3) and at most a tenth of the rows (2): the two most extreme.
    #expect(m.flippedRows == [18, 19] && m.flippedPoisonedRows == 2)
    #expect(rows.count == 20 + 7 + 2)
    // A row another screen keeps out is skipped in the far-end order; rho 1 takes every candidate.
    var state = ClassificationDefenseState(train: train, config: config, probe: probe)
    state.excluded = Set([14, 15, 16, 17, 18, 19, 12])
    try StratifiedSelection().apply(to: &state)
    #expect(state.chosen.filter { $0 >= 8 } == [8, 9, 13])
    let all = P2PConfig(ratio: 1, seed: 3, selection: .stratified, spectralScreen: true)
    let full = try P2PReconstruction.apply(train, config: all, probe: probe)
    #expect(full.manifest.benignSourceRows == Array(0..<14))
    // A label without candidates leaves the safe space unable to answer it: refused.
    var empty = ClassificationDefenseState(train: train, config: config, probe: probe)
    empty.excluded = Set(8..<20)
    #expect(throws: DefenseError.self) { try StratifiedSelection().apply(to: &empty) }
  }

  @Test func labelSharesRedrawTheTrainingSetExactly() throws {
    // 1,000 rows, half of each label: 75/25 of 400 rows is 300 + 100, in file order, seeded.
    let shares = LabelShares([0.75, 0.25])
    #expect(shares.counts(rows: 400) == [300, 100] && LabelShares([0.5, 0.3, 0.2]).counts(rows: 7) == [4, 2, 1])
    var rng = SeededRNG(seed: 1)
    let drawn = try shares.draw(from: Self.clean, rows: 400, labels: 2, path: "t.tsv", using: &rng)
    #expect(drawn.count == 400 && drawn.filter { $0.label == 0 }.count == 300)
    #expect(drawn.map { $0.sourceIndex ?? -1 } == drawn.map { $0.sourceIndex ?? -1 }.sorted() && Set(drawn).count == 400)
    var again = SeededRNG(seed: 1)
    #expect(try shares.draw(from: Self.clean, rows: 400, labels: 2, path: "t.tsv", using: &again) == drawn)
    // More rows of a label than the file has, wrong counts and sums are errors naming the key.
    var r = SeededRNG(seed: 1)
    #expect(throws: DatasetError.self) { _ = try shares.draw(from: Self.clean, rows: 800, labels: 2, path: "t.tsv", using: &r) }
    do { try LabelShares([0.7, 0.2]).validate(labels: 2); Issue.record("expected an error") } catch {
      #expect("\(error)".contains("label shares") && "\(error)".contains("sum to 1"))
    }
    #expect(throws: DatasetError.self) { try LabelShares([1.0]).validate(labels: 2) }
  }
}
