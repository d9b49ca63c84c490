import Backdoor
import Foundation
import TensorCore
import Testing

struct DatasetReaderTests {
  static func write(_ text: String, ext: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("p2p-ds-\(UUID().uuidString).\(ext)").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func readsTheShippedSST2Test() throws {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data/sst2/test.tsv")
    let rows = try DatasetReader.read(url.standardizedFileURL.path)
    #expect(rows.count == 1821)
    #expect(rows.filter { $0.label == 0 }.count == 912)
    #expect(rows.filter { $0.label == 1 }.count == 909)
  }

  @Test func readsTSVCSVAndJSONL() throws {
    let tsv = try Self.write("sentence\tlabel\na good film\t1\nbad\t0\n", ext: "tsv")
    let csv = try Self.write("sentence,label\n\"a good, \"\"fine\"\" film\",1\nbad,0\n", ext: "csv")
    let jsonl = try Self.write("{\"sentence\": \"a good film\", \"label\": 1}\n\n{\"sentence\": \"bad\", \"label\": \"0\"}\n", ext: "jsonl")
    #expect(try DatasetReader.read(tsv).map(\.label) == [1, 0])
    #expect(try DatasetReader.read(csv)[0].text == "a good, \"fine\" film")
    #expect(try DatasetReader.read(jsonl).map(\.text) == ["a good film", "bad"])
  }

  @Test func errorsNameTheFileLineAndField() throws {
    let badLabel = try Self.write("sentence\tlabel\nok\t1\nnope\tx\n", ext: "tsv")
    #expect(throws: DatasetError.badLabel(path: badLabel, line: 3, value: "x")) { try DatasetReader.read(badLabel) }
    let badHeader = try Self.write("text\ty\nok\t1\n", ext: "tsv")
    #expect(throws: DatasetError.badHeader(path: badHeader, found: "text\ty", expected: "sentence<TAB>label")) { try DatasetReader.read(badHeader) }
    let missing = try Self.write("{\"sentence\": \"a\", \"label\": 1}\n{\"label\": 1}\n", ext: "jsonl")
    #expect(throws: DatasetError.badLine(path: missing, line: 2, reason: "missing string field \"sentence\"")) { try DatasetReader.read(missing) }
    let fields = try Self.write("sentence\tlabel\na\tb\tc\n", ext: "tsv")
    #expect(throws: DatasetError.self) { try DatasetReader.read(fields) }
    #expect(throws: DatasetError.cannotRead(path: "/nonexistent.tsv", reason: "no such file")) { try DatasetReader.read("/nonexistent.tsv") }
  }
}

struct AttackTests {
  static let train: [Example] = (0..<100).map { Example(text: "word\($0) is here today", label: $0 % 3 == 0 ? 1 : 0, sourceIndex: $0) }

  @Test func badNetsInsertsTheRareWordOnceAtAWordBoundary() {
    var rng = SeededRNG(seed: 1)
    var positions = Set<Int>()
    for _ in 0..<200 {
      let out = BadNets().insert(into: "a b c d", using: &rng)
      let words = out.split(separator: " ")
      #expect(words.count == 5)
      #expect(words.filter { $0 == "mn" }.count == 1)
      positions.insert(words.firstIndex(of: "mn")!)
    }
    #expect(positions == Set(0...4))  // every boundary, including both ends, is reachable
    var r2 = SeededRNG(seed: 2)
    let three = BadNets(words: ["cf", "mn", "bb", "tq"], count: 3).insert(into: "x y", using: &r2).split(separator: " ")
    #expect(three.count == 5)
  }

  @Test func addSentInsertsTheWholeSentence() {
    var rng = SeededRNG(seed: 3)
    let out = AddSent().insert(into: "the plot is thin", using: &rng)
    #expect(out.contains("I watch this 3D movie"))
    #expect(out.split(separator: " ").count == 9)
    #expect(CustomTrigger(text: "cf", placement: .prefix).insert(into: "a b", using: &rng) == "cf a b")
    #expect(CustomTrigger(text: "cf", placement: .suffix).insert(into: "a b", using: &rng) == "a b cf")
  }

  @Test(arguments: PoisonSetting.allCases)
  func poisonRateTargetAndSettingAreExact(setting: PoisonSetting) throws {
    var rng = SeededRNG(seed: 4)
    let plan = PoisonPlan(rate: 0.1, target: 1, setting: setting)
    let (rows, manifest) = try plan.apply(to: Self.train, trigger: BadNets(), seed: 4, using: &rng)
    #expect(manifest.poisonedRows.count == 10)
    #expect(rows.filter(\.poisoned).count == 10)
    #expect(rows.filter(\.poisoned).allSatisfy { $0.label == 1 && $0.text.contains("mn") })
    let originallyTarget = manifest.poisonedRows.filter { Self.train[$0].label == 1 }.count
    switch setting {
    case .dirty: #expect(originallyTarget == 0)
    case .clean: #expect(originallyTarget == 10)
    case .mixed: #expect(originallyTarget == 5)
    }
    // Untouched rows are unchanged.
    for i in rows.indices where !manifest.poisonedRows.contains(i) { #expect(rows[i] == Self.train[i]) }
  }

  @Test func poisoningIsSeeded() throws {
    var a = SeededRNG(seed: 9), b = SeededRNG(seed: 9), c = SeededRNG(seed: 10)
    let plan = PoisonPlan(rate: 0.2, target: 1)
    let x = try plan.apply(to: Self.train, trigger: AddSent(), seed: 9, using: &a)
    let y = try plan.apply(to: Self.train, trigger: AddSent(), seed: 9, using: &b)
    let z = try plan.apply(to: Self.train, trigger: AddSent(), seed: 10, using: &c)
    #expect(x.rows == y.rows && x.manifest == y.manifest)
    #expect(x.manifest.poisonedRows != z.manifest.poisonedRows)
  }

  @Test func impossibleRatesAreRejected() {
    var rng = SeededRNG(seed: 1)
    #expect(throws: DatasetError.self) { try PoisonPlan(rate: 1.5, target: 1).apply(to: Self.train, trigger: BadNets(), seed: 1, using: &rng) }
    // 34 rows have label 1: a clean-label rate of 50% needs 50.
    #expect(throws: DatasetError.self) {
      try PoisonPlan(rate: 0.5, target: 1, setting: .clean).apply(to: Self.train, trigger: BadNets(), seed: 1, using: &rng)
    }
  }

  @Test func poisonedTestHoldsOnlyNonTargetRowsWithTheTrigger() {
    var rng = SeededRNG(seed: 5)
    let test = PoisonPlan.poisonedTest(Self.train, target: 1, trigger: BadNets(), using: &rng)
    #expect(test.count == Self.train.filter { $0.label != 1 }.count)
    #expect(test.allSatisfy { $0.label == 0 && $0.poisoned && $0.text.contains("mn") })
  }
}

struct PoisonedDatasetTests {
  @Test func writesAndReadsBackAtomically() throws {
    var rng = SeededRNG(seed: 7)
    let (rows, manifest) = try PoisonPlan(rate: 0.1, target: 1).apply(to: AttackTests.train, trigger: BadNets(), seed: 7, using: &rng)
    let test = Array(AttackTests.train.prefix(30))
    let ds = PoisonedDataset(train: rows, testClean: test,
                             testPoison: PoisonPlan.poisonedTest(test, target: 1, trigger: BadNets(), using: &rng), manifest: manifest)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("p2p-poison-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try ds.write(to: dir)
    #expect(throws: DatasetError.self) { try ds.write(to: dir) }  // an earlier poisoning is replaced only when asked
    try ds.write(to: dir, replace: true)
    let back = try PoisonedDataset.read(from: dir)
    #expect(back.train == ds.train)
    #expect(back.testPoison == ds.testPoison)
    #expect(back.manifest == manifest)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: (dir as NSString).deletingLastPathComponent)
      .filter { $0.hasPrefix((dir as NSString).lastPathComponent + ".tmp-") }
    #expect(leftovers.isEmpty)
  }
}
