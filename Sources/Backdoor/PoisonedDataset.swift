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
    do {
      try DatasetDirectory.write([
        (Self.files.train, { try DatasetDirectory.jsonLines(train) }),
        (Self.files.testClean, { try DatasetDirectory.jsonLines(testClean) }),
        (Self.files.testPoison, { try DatasetDirectory.jsonLines(testPoison) }),
        (Self.files.manifest, { try DatasetDirectory.json(manifest) }),
      ], to: directory)
    } catch {
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
