import FileIO
import Foundation

/// The output of `p2p poison`: a poisoned training set, the clean test set, the poisoned test
/// set of non-target rows and the manifest, as a directory of JSONL files
/// (`{"sentence", "label", "poisoned", "source_index"}` per line).
public struct PoisonedDataset: Sendable {
  public var train: [Example]
  public var testClean: [Example]
  public var testPoison: [Example]
  public var manifest: PoisonManifest
  /// Clean development rows from the dataset's dev file (never poisoned), for model selection;
  /// nil when the dataset has none.
  public var dev: [Example]?

  public init(train: [Example], testClean: [Example], testPoison: [Example], manifest: PoisonManifest, dev: [Example]? = nil) {
    self.train = train; self.testClean = testClean; self.testPoison = testPoison; self.manifest = manifest; self.dev = dev
  }

  public static let files = (train: "train.jsonl", testClean: "test-clean.jsonl", testPoison: "test-poison.jsonl", manifest: "manifest.json",
                             dev: "dev.jsonl")

  /// Writes the dataset folder under `DatasetDirectory`'s rule (a new or empty folder, or an
  /// earlier poisoning when `replace`; never a folder equal to or above one of `inputs`).
  public func write(to directory: String, replace: Bool = false, inputs: [String] = []) throws(DatasetError) {
    do {
      try DatasetDirectory.write([
        (Self.files.train, { try DatasetDirectory.jsonLines(train) }),
        (Self.files.testClean, { try DatasetDirectory.jsonLines(testClean) }),
        (Self.files.testPoison, { try DatasetDirectory.jsonLines(testPoison) }),
      ] + (dev.map { rows in [(Self.files.dev, { try DatasetDirectory.jsonLines(rows) })] } ?? [])
        + [(Self.files.manifest, { try DatasetDirectory.json(manifest) })],
        to: directory, replace: replace, inputs: inputs)
    } catch let error as OutputError {
      throw .output(error)
    } catch {
      throw .cannotWrite(path: directory, reason: error.localizedDescription)
    }
  }

  /// Reads a directory written by `write(to:)`.
  public static func read(from directory: String) throws(DatasetError) -> PoisonedDataset {
    let manifestPath = directory + "/" + files.manifest
    guard let data = FileManager.default.contents(atPath: manifestPath) else {
      throw .cannotRead(path: directory, reason: missingManifestReason(directory))
    }
    let manifest: PoisonManifest
    do { manifest = try JSONDecoder().decode(PoisonManifest.self, from: data) } catch {
      throw .badLine(path: manifestPath, line: 1, reason: "not a poisoning manifest: \(error)")
    }
    let devPath = directory + "/" + files.dev
    return PoisonedDataset(train: try DatasetReader.read(directory + "/" + files.train),
                           testClean: try DatasetReader.read(directory + "/" + files.testClean),
                           testPoison: try DatasetReader.read(directory + "/" + files.testPoison), manifest: manifest,
                           dev: FileManager.default.fileExists(atPath: devPath) ? try DatasetReader.read(devPath) : nil)
  }
}

/// Why a folder given as a poisoned dataset has no manifest, in the user's terms.
public func missingManifestReason(_ directory: String) -> String {
  var isDirectory: ObjCBool = false
  guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
    return "no such folder; create it with `p2p poison --out \(directory)`"
  }
  guard isDirectory.boolValue else { return "a file, expected a folder written by `p2p poison`" }
  return "no manifest.json here, so this is not a folder written by `p2p poison` (run `p2p poison --out \(directory)` first)"
}
