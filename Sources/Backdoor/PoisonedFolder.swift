import FileIO
import Foundation

/// A row type a poisoned dataset folder can hold (`Example`, `GenerationExample`): how a split
/// file is read back, and the task's errors for a folder that cannot be read or written.
public protocol PoisonedRow: Codable, Sendable, Equatable {
  /// Reads one JSON Lines split file of a dataset folder.
  static func readSplit(_ path: String) throws -> [Self]
  /// The task's error for a folder that cannot be read or written.
  static func error(_ problem: FolderProblem) -> any Error
}

/// What went wrong with a dataset folder.
public enum FolderProblem {
  /// No manifest in `directory` (`missingManifestReason` says why, in the user's terms).
  case missingManifest(directory: String)
  /// The manifest at `path` does not decode.
  case badManifest(path: String, error: any Error)
  /// A write failed (an `OutputError` when the folder was refused).
  case cannotWrite(directory: String, error: any Error)
}

/// The output of `p2p poison` for any task: the poisoned training set, the clean test set, the
/// triggered test set of non-target rows, optional clean dev rows and the manifest, as a folder
/// of JSON Lines files (`DatasetDirectory` writes it atomically and never over a foreign folder).
public struct PoisonedFolder<Row: PoisonedRow, Manifest: Codable & Sendable & Equatable>: Sendable, Equatable {
  public var train: [Row]
  public var testClean: [Row]
  public var testPoison: [Row]
  public var manifest: Manifest
  /// Clean development rows from the dataset's dev file (never poisoned), for model selection;
  /// nil when the dataset has none.
  public var dev: [Row]?

  public init(train: [Row], testClean: [Row], testPoison: [Row], manifest: Manifest, dev: [Row]? = nil) {
    self.train = train; self.testClean = testClean; self.testPoison = testPoison; self.manifest = manifest; self.dev = dev
  }

  public static var files: (train: String, testClean: String, testPoison: String, manifest: String, dev: String) {
    (train: "train.jsonl", testClean: "test-clean.jsonl", testPoison: "test-poison.jsonl", manifest: "manifest.json", dev: "dev.jsonl")
  }

  /// Writes the dataset folder under `DatasetDirectory`'s rule (a new or empty folder, or an
  /// earlier poisoning when `replace`; never a folder equal to or above one of `inputs`).
  public func write(to directory: String, replace: Bool = false, inputs: [String] = []) throws {
    let f = Self.files
    do {
      try DatasetDirectory.write([
        (f.train, { try JSONOutput.linesData(train) }),
        (f.testClean, { try JSONOutput.linesData(testClean) }),
        (f.testPoison, { try JSONOutput.linesData(testPoison) }),
      ] + (dev.map { rows in [(f.dev, { try JSONOutput.linesData(rows) })] } ?? [])
        + [(f.manifest, { try JSONOutput.manifestData(manifest, kind: .poisonedDataset) })],
        to: directory, replace: replace, inputs: inputs)
    } catch {
      throw Row.error(.cannotWrite(directory: directory, error: error))
    }
  }

  /// Reads a folder written by `write(to:)`.
  public static func read(from directory: String) throws -> Self {
    let manifestPath = directory + "/" + files.manifest
    guard let data = FileManager.default.contents(atPath: manifestPath) else { throw Row.error(.missingManifest(directory: directory)) }
    let manifest: Manifest
    do { manifest = try JSONDecoder().decode(Manifest.self, from: data) } catch { throw Row.error(.badManifest(path: manifestPath, error: error)) }
    let devPath = directory + "/" + files.dev
    return Self(train: try Row.readSplit(directory + "/" + files.train), testClean: try Row.readSplit(directory + "/" + files.testClean),
                testPoison: try Row.readSplit(directory + "/" + files.testPoison), manifest: manifest,
                dev: FileManager.default.fileExists(atPath: devPath) ? try Row.readSplit(devPath) : nil)
  }
}

/// A poisoned classification dataset (`{"sentence", "label", "poisoned", "source_index"}` rows).
public typealias PoisonedDataset = PoisonedFolder<Example, PoisonManifest>

extension Example: PoisonedRow {
  public static func readSplit(_ path: String) throws -> [Example] { try DatasetReader.read(path) }
  public static func error(_ problem: FolderProblem) -> any Error {
    switch problem {
    case let .missingManifest(dir): DatasetError.cannotRead(path: dir, reason: missingManifestReason(dir))
    case let .badManifest(path, error): DatasetError.badLine(path: path, line: 1, reason: "not a poisoning manifest: \(error)")
    case let .cannotWrite(dir, error):
      (error as? OutputError).map { DatasetError.output($0) } ?? DatasetError.cannotWrite(path: dir, reason: error.localizedDescription)
    }
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
