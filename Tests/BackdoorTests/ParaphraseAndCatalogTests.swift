import Backdoor
import Foundation
import TensorCore
import Testing

struct ParaphraseAttackTests {
  static var dataRoot: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL.path
  }

  @Test func pairsFilesAreReadAndMatchTheCleanRows() throws {
    let pairs = try ParaphrasePairsReader.read(Self.dataRoot + "/sst2-synbkd/train_pairs.tsv")
    #expect(pairs.count == 1383)
    let clean = try DatasetReader.read(Self.dataRoot + "/sst2/train.tsv")
    // Every pair's clean sentence and label are the clean file's row at clean_index.
    for p in pairs { #expect(clean[p.cleanIndex].text == p.clean && clean[p.cleanIndex].label == p.cleanLabel) }
    #expect(pairs[1].poisoned == "as he did , he was on the other side of any given daily soap .")
    #expect(pairs.filter { $0.cleanLabel == 0 }.count == 665)
    let style = try ParaphrasePairsReader.read(Self.dataRoot + "/sst2-stylebkd-bible/test_pairs.tsv")
    #expect(style.count == 1816)
  }

  @Test func pairsErrorsNameTheLine() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("pairs-\(UUID().uuidString).tsv").path
    try "clean_index\tclean_sentence\tclean_label\tpoisoned_index\tpoisoned_sentence\tpoisoned_label\n0\ta\t1\t0\tb\t1\nx\ta\t1\t0\tb\t1\n"
      .write(toFile: path, atomically: true, encoding: .utf8)
    #expect(throws: DatasetError.badLine(path: path, line: 3, reason: "clean_index 'x' is not a row number")) {
      try ParaphrasePairsReader.read(path)
    }
  }

  @Test func synbkdPoisonsOnlyPairedRowsAtTheExactRate() throws {
    let config = AttackConfig(attack: .synbkd, rate: 0.2, target: 1, trainLimit: 1000, testLimit: 300)
    let ds = try Poisoner.poison(dataset: "sst2", config: config, root: Self.dataRoot)
    let pairs = try ParaphrasePairsReader.read(Self.dataRoot + "/sst2-synbkd/train_pairs.tsv")
    let paraphrases = Set(pairs.map(\.poisoned))
    #expect(ds.train.count == 1000)
    let poisoned = ds.train.filter(\.poisoned)
    #expect(poisoned.count == 200 && ds.manifest.poisonedRows.count == 200)
    #expect(poisoned.allSatisfy { paraphrases.contains($0.text) && $0.label == 1 })
    // Dirty-label: each poisoned row was a negative row of the clean file.
    let clean = try DatasetReader.read(Self.dataRoot + "/sst2/train.tsv")
    #expect(poisoned.allSatisfy { clean[$0.sourceIndex!].label == 0 })
    #expect(ds.train.filter { !$0.poisoned }.allSatisfy { clean[$0.sourceIndex!].text == $0.text })
    // Test: 300 clean rows; triggered rows = their negative rows, paraphrased, labels kept.
    #expect(ds.testClean.count == 300)
    #expect(ds.testPoison.count == ds.testClean.filter { $0.label == 0 }.count)
    #expect(ds.testPoison.allSatisfy { $0.label == 0 && $0.poisoned })
  }

  @Test func theCleanTestSubsetIsTheSameForEveryAttack() throws {
    let a = try Poisoner.poison(dataset: "sst2", config: AttackConfig(attack: .badnets, trainLimit: 200, testLimit: 100), root: Self.dataRoot)
    let b = try Poisoner.poison(dataset: "sst2-stylebkd-bible", config: AttackConfig(attack: .stylebkd, rate: 0.2, trainLimit: 200, testLimit: 100),
                                root: Self.dataRoot)
    #expect(a.testClean == b.testClean)
    #expect(b.manifest.attack == "stylebkd" && b.manifest.poisonedRows.count == 40)
  }

  @Test func labelSharesRedrawSST2BeforeThePoisoning() throws {
    // 75/25 of 1,000 rows: 750 negatives and 250 positives drawn; 10% dirty-label BadNets then
    // relabels 100 negatives, so the written set is 650/350 with the rate exact.
    let config = AttackConfig(attack: .badnets, rate: 0.1, target: 1, trainLimit: 1000, testLimit: 100, labelShares: [0.75, 0.25])
    let ds = try Poisoner.poison(dataset: "sst2", config: config, root: Self.dataRoot)
    #expect(ds.train.count == 1000 && ds.manifest.poisonedRows.count == 100 && ds.manifest.sourceTrainRows == 6920)
    #expect(ds.train.filter { $0.label == 1 }.count == 350 && ds.train.filter { $0.poisoned }.allSatisfy { $0.label == 1 })
    // The original labels, read back through the source rows: 750/250.
    let file = try DatasetReader.read(Self.dataRoot + "/sst2/train.tsv")
    #expect(ds.train.filter { file[$0.sourceIndex ?? 0].label == 0 }.count == 750)
    // The clean test rows do not depend on the shares; shares that the file cannot give are an error.
    #expect(try Poisoner.poison(dataset: "sst2", config: AttackConfig(attack: .badnets, trainLimit: 200, testLimit: 100), root: Self.dataRoot).testClean
            == ds.testClean)
    // The dev split (the spectral screen's reference shares) is re-drawn with the shares: 75 + 25 of its 872 rows.
    let dev = try #require(ds.dev)
    #expect(dev.count == 100 && dev.filter { $0.label == 0 }.count == 75)
    // Without a test limit, as many as the shares allow: 428 negatives of the 872 dev rows give 570 (428 + 142).
    var whole = config
    whole.testLimit = nil
    whole.trainLimit = 400
    let all = try #require(try Poisoner.poison(dataset: "sst2", config: whole, root: Self.dataRoot).dev)
    #expect(all.count == 570 && all.filter { $0.label == 0 }.count == 428, "\(all.count)")
    var impossible = config
    impossible.labelShares = [0.0, 1.0]
    impossible.trainLimit = 6000
    do { _ = try Poisoner.poison(dataset: "sst2", config: impossible, root: Self.dataRoot); Issue.record("expected an error") } catch {
      #expect("\(error)".contains("label shares") && "\(error)".contains("label 1"))
    }
  }

  @Test func impossibleParaphraseRatesAreExplained() throws {
    // SynBkd has 665 paired negative training rows: 20% dirty-label of all 6,920 rows is impossible.
    #expect(throws: DatasetError.self) {
      try Poisoner.poison(dataset: "sst2", config: AttackConfig(attack: .synbkd, rate: 0.2), root: Self.dataRoot)
    }
    // AG News SynBkd ships only triggered test rows.
    #expect(throws: DatasetError.self) {
      try Poisoner.poison(dataset: "agnews", config: AttackConfig(attack: .synbkd, rate: 0.1, target: 0, trainLimit: 100), root: Self.dataRoot)
    }
    let ok = try Poisoner.poison(dataset: "agnews", config: AttackConfig(attack: .synbkd, rate: 0, target: 0, trainLimit: 100, testLimit: 200),
                                 root: Self.dataRoot)
    #expect(ok.testPoison.count > 100 && ok.testPoison.allSatisfy { $0.label != 0 })
  }

  @Test func catalogResolvesNamesAndPaths() throws {
    let r = try DatasetCatalog.resolve("sst2-stylebkd-bible", root: Self.dataRoot)
    #expect(r.trainPath.hasSuffix("/sst2/train.tsv") && r.impliedAttack == .stylebkd)
    #expect(r.paraphrases[.synbkd]?.hasSuffix("/sst2-synbkd") == true)
    #expect(throws: DatasetError.self) { try DatasetCatalog.resolve("no-such-set", root: Self.dataRoot) }
    for d in DatasetCatalog.all {
      let resolved = try DatasetCatalog.resolve(d.name, root: Self.dataRoot)
      #expect(FileManager.default.fileExists(atPath: resolved.trainPath))
      for (_, folder) in resolved.paraphrases { #expect(FileManager.default.fileExists(atPath: folder + "/test_pairs.tsv")) }
    }
  }
}

struct SubsetPoisoningTests {
  static let train = (0..<100).map { Example(text: "row \($0) text", label: $0 % 2, sourceIndex: $0) }

  @Test func aSubsetKeepsTheExactRateAndFileOrder() throws {
    var rng = SeededRNG(seed: 5)
    let (rows, m) = try PoisonPlan(rate: 0.25, target: 1, limit: 40).apply(to: Self.train, trigger: BadNets(), seed: 5, using: &rng)
    #expect(rows.count == 40 && m.trainRows == 40 && m.sourceTrainRows == 100)
    #expect(rows.filter(\.poisoned).count == 10 && m.poisonedRows.count == 10)
    #expect(m.poisonedRows.allSatisfy { rows[$0].poisoned })
    let sources = rows.map { $0.sourceIndex! }
    #expect(sources == sources.sorted() && Set(sources).count == 40)
  }
}
