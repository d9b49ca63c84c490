import Backdoor
import FileIO
import Foundation
import Testing

/// `p2p poison`'s output rule (never destroy what the tool did not create), line ends and
/// byte-order marks in every reader, and labels checked against the dataset.
struct PoisonOutputTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL.path

  static func temp(_ name: String = "p2p-out") -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
  }

  static func dataset() throws -> PoisonedDataset {
    try Poisoner.poison(dataset: "sst2", config: AttackConfig(attack: .badnets, rate: 0.1, target: 1, trainLimit: 40, testLimit: 20), root: root)
  }

  /// Every file below `dir` with its bytes.
  static func snapshot(_ dir: String) -> [String: Data] {
    var out: [String: Data] = [:]
    let e = FileManager.default.enumerator(atPath: dir)
    while let p = e?.nextObject() as? String {
      if let d = FileManager.default.contents(atPath: dir + "/" + p) { out[p] = d }
    }
    return out
  }

  static func outputRefusal(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch let DatasetError.output(e) { return e.description } catch { return nil }
  }

  @Test func aFolderWithOtherFilesIsRefusedAndLeftByteIdentical() throws {
    let dir = Self.temp()
    try FileManager.default.createDirectory(atPath: dir + "/victim", withIntermediateDirectories: true)
    try Data("adapter".utf8).write(to: URL(fileURLWithPath: dir + "/victim/adapter_model.safetensors"))
    try Data("my notes".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))
    let before = Self.snapshot(dir)
    let ds = try Self.dataset()
    for replace in [false, true] {
      #expect(Self.outputRefusal { try ds.write(to: dir, replace: replace) }?.contains("not empty") == true)
      #expect(Self.snapshot(dir) == before)
    }
  }

  @Test func aFileOrTheInputFolderIsRefusedAndUnchanged() throws {
    let dir = Self.temp()
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let file = dir + "/file.txt"
    try Data("keep me".utf8).write(to: URL(fileURLWithPath: file))
    let ds = try Self.dataset()
    #expect(Self.outputRefusal { try ds.write(to: file, replace: true) }?.contains("is a file") == true)
    #expect(Self.outputRefusal { try ds.write(to: file + "/", replace: true) } != nil)
    #expect(FileManager.default.contents(atPath: file) == Data("keep me".utf8))
    // A poisoned folder used as the input of another poisoning cannot be its output, even with --overwrite.
    let first = dir + "/poisoned"
    try ds.write(to: first)
    let before = Self.snapshot(first)
    #expect(Self.outputRefusal { try ds.write(to: first, replace: true, inputs: [first + "/train.jsonl"]) }?.contains("input") == true)
    #expect(Self.outputRefusal { try ds.write(to: dir, replace: true, inputs: [first]) }?.contains("above the input") == true)
    #expect(Self.snapshot(first) == before)
  }

  @Test func anEarlierPoisoningIsReplacedOnlyWhenAskedAndOnlyItsFiles() throws {
    let dir = Self.temp()
    let ds = try Self.dataset()
    try ds.write(to: dir + "/")  // a trailing slash names the same new folder
    #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir)) == Set(DatasetDirectory.entries))
    // The README's flow trains into a folder inside the dataset folder.
    try FileManager.default.createDirectory(atPath: dir + "/victim", withIntermediateDirectories: true)
    try Data("adapter".utf8).write(to: URL(fileURLWithPath: dir + "/victim/adapter_model.safetensors"))
    #expect(Self.outputRefusal { try ds.write(to: dir) }?.contains("--overwrite") == true)
    var other = ds
    other.train.removeLast()
    try other.write(to: dir, replace: true)
    #expect(try PoisonedDataset.read(from: dir).train == other.train)
    #expect(FileManager.default.contents(atPath: dir + "/victim/adapter_model.safetensors") == Data("adapter".utf8))
  }

  @Test func anEmptyFolderIsFilledAndNoTemporaryIsLeft() throws {
    let parent = Self.temp()
    let dir = parent + "/ds"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    // A killed run's leftover (its pid cannot be running) is cleaned.
    try FileManager.default.createDirectory(atPath: dir + ".tmp-p2p-2147483000-deadbeef", withIntermediateDirectories: true)
    try Self.dataset().write(to: dir)
    #expect(try FileManager.default.contentsOfDirectory(atPath: parent) == ["ds"])
  }

  @Test func poisonedDatasetWithoutManifestSaysToRunPoison() throws {
    let dir = Self.temp()
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    do { _ = try PoisonedDataset.read(from: dir); Issue.record("expected an error") } catch {
      #expect("\(error)".contains("run `p2p poison --out"))
    }
  }
}

struct LineEndTests {
  /// The first `rows` lines of the shipped SST-2 files, as a dataset folder in `format`.
  static func folder(rows: Int, lineEnd: String, bom: Bool, format: String) throws -> String {
    let dir = PoisonOutputTests.temp("p2p-crlf")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for split in ["train", "test"] {
      let lines = try String(contentsOfFile: PoisonOutputTests.root + "/sst2/\(split).tsv", encoding: .utf8)
        .split(separator: "\n").prefix(rows + 1).map(String.init)
      var body: [String]
      switch format {
      case "csv":
        body = ["sentence,label"] + lines.dropFirst().map {
          let f = $0.split(separator: "\t"); return "\"" + f[0].replacingOccurrences(of: "\"", with: "\"\"") + "\"," + f[1]
        }
      case "jsonl":
        body = try lines.dropFirst().map {
          let f = $0.split(separator: "\t")
          return String(decoding: try JSONSerialization.data(withJSONObject: ["sentence": String(f[0]), "label": Int(f[1])!], options: [.sortedKeys]), as: UTF8.self)
        }
      default: body = lines
      }
      var bytes = Array((body.joined(separator: lineEnd) + lineEnd).utf8)
      if bom { bytes = [0xEF, 0xBB, 0xBF] + bytes }
      try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/\(split).\(format)"))
    }
    return dir
  }

  @Test func crlfAndBOMFilesPoisonToTheSameRowsAsLF() throws {
    let config = AttackConfig(attack: .badnets, rate: 0.1, target: 1, seed: 7)
    for format in ["tsv", "csv", "jsonl"] {
      let lf = try Poisoner.poison(dataset: try Self.folder(rows: 300, lineEnd: "\n", bom: false, format: format), config: config, root: nil)
      #expect(lf.train.count == 300)
      for (lineEnd, bom) in [("\r\n", false), ("\n", true), ("\r\n", true)] {
        let other = try Poisoner.poison(dataset: try Self.folder(rows: 300, lineEnd: lineEnd, bom: bom, format: format), config: config, root: nil)
        #expect(other.train == lf.train && other.testClean == lf.testClean && other.testPoison == lf.testPoison,
                "\(format) with \(lineEnd == "\r\n" ? "CRLF" : "LF")\(bom ? " and a BOM" : "") differs")
        #expect(other.manifest.poisonedRows == lf.manifest.poisonedRows)
      }
    }
  }

  @Test func errorsQuoteOneCutLineNotTheFile() throws {
    // A whole SST-2 file with a wrong header: the message names line 1 and quotes a snippet.
    let text = "text\tlabel\r\n" + String(repeating: "a fine, moving film that lasts and lasts\t1\r\n", count: 5000)
    let path = PoisonOutputTests.temp("p2p-header") + ".tsv"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    do { _ = try DatasetReader.read(path); Issue.record("expected an error") } catch {
      #expect(error.description.count < 300, "\(error.description.count) characters")
      #expect(error.description.contains(":1: header is 'text\tlabel'"))
    }
  }
}

struct LabelValidationTests {
  static func folder(train: String, test: String) throws -> String {
    let dir = PoisonOutputTests.temp("p2p-labels")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try train.write(toFile: dir + "/train.tsv", atomically: true, encoding: .utf8)
    try test.write(toFile: dir + "/test.tsv", atomically: true, encoding: .utf8)
    return dir
  }

  @Test func aTargetOutsideTheLabelsIsAnError() throws {
    for target in [2, 99, 1000] {
      do {
        _ = try Poisoner.poison(dataset: "sst2", config: AttackConfig(attack: .badnets, rate: 0.1, target: target, trainLimit: 20), root: PoisonOutputTests.root)
        Issue.record("target \(target) accepted")
      } catch { #expect(error.description.contains("target") && error.description.contains("0...") || error.description.contains("0 or 1")) }
    }
  }

  @Test func hugeAndOutOfSetLabelsFailCleanly() throws {
    let huge = try Self.folder(train: "sentence\tlabel\na\t0\nb\t9223372036854775807\n", test: "sentence\tlabel\nc\t0\n")
    do { _ = try Poisoner.poison(dataset: huge, config: AttackConfig(attack: .badnets, rate: 0.5, target: 0), root: nil); Issue.record("accepted") } catch {
      #expect(error.description.contains("train.tsv:3") && error.description.contains("out of range"))
    }
    // A test label the training set does not have.
    let extra = try Self.folder(train: "sentence\tlabel\na\t0\nb\t1\n", test: "sentence\tlabel\nc\t0\nd\t5\n")
    do { _ = try Poisoner.poison(dataset: extra, config: AttackConfig(attack: .badnets, rate: 0.5, target: 1), root: nil); Issue.record("accepted") } catch {
      #expect(error.description.contains("test.tsv") && error.description.contains("label 5"))
    }
    // One label only: said so, not "invalid rate".
    let one = try Self.folder(train: "sentence\tlabel\na\t0\nb\t0\n", test: "sentence\tlabel\nc\t0\n")
    do { _ = try Poisoner.poison(dataset: one, config: AttackConfig(attack: .badnets, rate: 0.5, target: 0), root: nil); Issue.record("accepted") } catch {
      #expect(error.description.contains("at least two labels"))
    }
  }

  @Test func sourceIndicesAreRowNumbersOncePerFile() throws {
    let dir = PoisonOutputTests.temp("p2p-src")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let negative = dir + "/neg.jsonl", repeated = dir + "/rep.jsonl"
    try "{\"sentence\": \"a\", \"label\": 0, \"source_index\": -3}\n".write(toFile: negative, atomically: true, encoding: .utf8)
    try "{\"sentence\": \"a\", \"label\": 0, \"source_index\": 4}\n{\"sentence\": \"b\", \"label\": 1, \"source_index\": 4}\n"
      .write(toFile: repeated, atomically: true, encoding: .utf8)
    #expect(throws: DatasetError.badLine(path: negative, line: 1, reason: "\"source_index\" must be a row number >= 0")) {
      try DatasetReader.read(negative)
    }
    #expect(throws: DatasetError.badLine(path: repeated, line: 2, reason: "\"source_index\" 4 repeats line 1's (each source row appears once)")) {
      try DatasetReader.read(repeated)
    }
  }

  @Test func countsAreBounded() {
    #expect(throws: DatasetError.self) { try Poisoner.validate(AttackConfig(attack: .badnets, count: 100_000_000)) }
    #expect(throws: DatasetError.self) { try Poisoner.validate(AttackConfig(attack: .badnets, rate: 1.5)) }
    #expect(throws: DatasetError.self) { try Poisoner.validate(AttackConfig(attack: .badnets, trainLimit: 0)) }
    #expect(throws: Never.self) { try Poisoner.validate(AttackConfig(attack: .badnets, count: Poisoner.maxTriggerCount)) }
  }
}
