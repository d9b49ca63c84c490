import FileIO
import Foundation

/// A poisoned generation dataset on disk: the training set, the clean test set, the triggered
/// test set and the manifest, as a directory of JSON Lines files of `GenerationExample`s.
public struct GenerationDataset: Sendable, Equatable {
  public var train: [GenerationExample]
  public var testClean: [GenerationExample]
  public var testPoison: [GenerationExample]
  public var manifest: GenerationPoisonManifest

  public init(train: [GenerationExample], testClean: [GenerationExample], testPoison: [GenerationExample],
              manifest: GenerationPoisonManifest) {
    self.train = train; self.testClean = testClean; self.testPoison = testPoison; self.manifest = manifest
  }

  public static let files = (train: "train.jsonl", testClean: "test-clean.jsonl", testPoison: "test-poison.jsonl", manifest: "manifest.json")

  /// Writes the dataset folder under `DatasetDirectory`'s rule (a new or empty folder, or an
  /// earlier poisoning when `replace`; never a folder equal to or above one of `inputs`).
  public func write(to directory: String, replace: Bool = false, inputs: [String] = []) throws(GenerationError) {
    do {
      try DatasetDirectory.write([
        (Self.files.train, { try DatasetDirectory.jsonLines(train) }),
        (Self.files.testClean, { try DatasetDirectory.jsonLines(testClean) }),
        (Self.files.testPoison, { try DatasetDirectory.jsonLines(testPoison) }),
        (Self.files.manifest, { try DatasetDirectory.json(manifest) }),
      ], to: directory, replace: replace, inputs: inputs)
    } catch let error as OutputError {
      throw .cannotWrite(path: directory, reason: error.description)
    } catch {
      throw .cannotWrite(path: directory, reason: error.localizedDescription)
    }
  }

  /// Reads a directory written by `write(to:)`.
  public static func read(from directory: String) throws(GenerationError) -> GenerationDataset {
    let manifestPath = directory + "/" + files.manifest
    guard let data = FileManager.default.contents(atPath: manifestPath) else {
      throw .cannotRead(path: directory, reason: missingManifestReason(directory))
    }
    let manifest: GenerationPoisonManifest
    do { manifest = try JSONDecoder().decode(GenerationPoisonManifest.self, from: data) } catch {
      throw .invalidJSON(path: manifestPath, line: 1, reason: "not a generation poisoning manifest: \(error)")
    }
    return GenerationDataset(train: try examples(directory + "/" + files.train),
                             testClean: try examples(directory + "/" + files.testClean),
                             testPoison: try examples(directory + "/" + files.testPoison), manifest: manifest)
  }

  /// Reads a JSON Lines file of `GenerationExample`s (the format `write(to:)` produces); an empty
  /// file is an empty list.
  public static func examples(_ path: String) throws(GenerationError) -> [GenerationExample] {
    let decoder = JSONDecoder()
    var out: [GenerationExample] = []
    for (number, line) in JSONLines.lines(try JSONLines.text(path)) {
      do { out.append(try decoder.decode(GenerationExample.self, from: Data(line.utf8))) } catch {
        throw .invalidJSON(path: path, line: number, reason: Self.reason(error))
      }
    }
    return out
  }

  /// A short reason for a decoding failure, naming the field.
  static func reason(_ error: any Error) -> String {
    switch error {
    case let DecodingError.keyNotFound(key, _): return "missing field \"\(key.stringValue)\""
    case let DecodingError.typeMismatch(type, ctx): return "field \"\(field(ctx))\" is not \(type)"
    case let DecodingError.valueNotFound(type, ctx): return "field \"\(field(ctx))\" is null, expected \(type)"
    case DecodingError.dataCorrupted: return "invalid JSON"
    default: return "\(error)"
    }
  }

  static func field(_ context: DecodingError.Context) -> String {
    context.codingPath.map(\.stringValue).joined(separator: ".")
  }
}
