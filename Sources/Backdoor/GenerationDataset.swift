import FileIO
import Foundation

/// A poisoned generation dataset on disk: JSON Lines files of `GenerationExample`s.
public typealias GenerationDataset = PoisonedFolder<GenerationExample, GenerationPoisonManifest>

extension GenerationExample: PoisonedRow {
  public static func readSplit(_ path: String) throws -> [GenerationExample] { try GenerationDataset.examples(path) }
  public static func error(_ problem: FolderProblem) -> any Error {
    switch problem {
    case let .missingManifest(dir): GenerationError.cannotRead(path: dir, reason: missingManifestReason(dir))
    case let .badManifest(path, error): GenerationError.invalidJSON(path: path, line: 1, reason: "not a generation poisoning manifest: \(error)")
    case let .cannotWrite(dir, error):
      GenerationError.cannotWrite(path: dir, reason: (error as? OutputError)?.description ?? error.localizedDescription)
    }
  }
}

extension PoisonedFolder where Row == GenerationExample {
  /// Reads a JSON Lines file of `GenerationExample`s (the format `write(to:)` produces); an empty
  /// file is an empty list.
  public static func examples(_ path: String) throws(GenerationError) -> [GenerationExample] {
    let decoder = JSONDecoder()
    var out: [GenerationExample] = []
    for (number, line) in JSONLinesText.rows(try JSONLines.text(path)) {
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
