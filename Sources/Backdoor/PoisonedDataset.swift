import Foundation

/// The output of `p2p poison`: a poisoned training set, the clean test set, the poisoned test
/// set of non-target rows and the manifest, as a directory of JSONL files
/// (`{"sentence", "label", "poisoned", "source_index"}` per line).
public struct PoisonedDataset: Sendable {
  public var train: [Example]
  public var testClean: [Example]
  public var testPoison: [Example]
  public var manifest: PoisonManifest

  public init(train: [Example], testClean: [Example], testPoison: [Example], manifest: PoisonManifest) {
    self.train = train; self.testClean = testClean; self.testPoison = testPoison; self.manifest = manifest
  }

  public static let files = (train: "train.jsonl", testClean: "test-clean.jsonl", testPoison: "test-poison.jsonl", manifest: "manifest.json")

  /// Writes every file to a temporary sibling directory, then renames it over `directory`, so a
  /// crash never leaves a half-written dataset.
  public func write(to directory: String) throws(DatasetError) {
    let fm = FileManager.default
    let tmp = directory + ".tmp-\(UUID().uuidString.prefix(8))"
    do {
      try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
      let enc = JSONEncoder()
      enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
      func jsonl(_ rows: [Example]) throws -> Data {
        var d = Data()
        for r in rows { d.append(try enc.encode(r)); d.append(0x0A) }
        return d
      }
      try jsonl(train).write(to: URL(fileURLWithPath: tmp + "/" + Self.files.train))
      try jsonl(testClean).write(to: URL(fileURLWithPath: tmp + "/" + Self.files.testClean))
      try jsonl(testPoison).write(to: URL(fileURLWithPath: tmp + "/" + Self.files.testPoison))
      enc.outputFormatting = [.sortedKeys, .prettyPrinted]
      try enc.encode(manifest).write(to: URL(fileURLWithPath: tmp + "/" + Self.files.manifest))
      if fm.fileExists(atPath: directory) { try fm.removeItem(atPath: directory) }
      try fm.moveItem(atPath: tmp, toPath: directory)
    } catch {
      try? fm.removeItem(atPath: tmp)
      throw .cannotRead(path: directory, reason: "cannot write: \(error.localizedDescription)")
    }
  }

  /// Reads a directory written by `write(to:)`.
  public static func read(from directory: String) throws(DatasetError) -> PoisonedDataset {
    let manifestPath = directory + "/" + files.manifest
    guard let data = FileManager.default.contents(atPath: manifestPath) else { throw .cannotRead(path: manifestPath, reason: "no such file") }
    let manifest: PoisonManifest
    do { manifest = try JSONDecoder().decode(PoisonManifest.self, from: data) } catch {
      throw .badLine(path: manifestPath, line: 1, reason: "not a poisoning manifest: \(error)")
    }
    return PoisonedDataset(train: try DatasetReader.read(directory + "/" + files.train),
                           testClean: try DatasetReader.read(directory + "/" + files.testClean),
                           testPoison: try DatasetReader.read(directory + "/" + files.testPoison), manifest: manifest)
  }
}
