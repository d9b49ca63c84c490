import FileIO
import Foundation

/// One row of a published clean<->poisoned pairs file (`<split>_pairs.tsv`).
public struct ParaphrasePair: Sendable, Equatable {
  /// Row of the clean sentence in the clean split (0-based, header not counted).
  public var cleanIndex: Int
  public var clean: String
  public var cleanLabel: Int
  public var poisoned: String
}

/// Reads pairs files: header `clean_index<TAB>clean_sentence<TAB>clean_label<TAB>poisoned_index
/// <TAB>poisoned_sentence<TAB>poisoned_label`, one pair a line; errors name the file and line.
public enum ParaphrasePairsReader {
  static let header = ["clean_index", "clean_sentence", "clean_label", "poisoned_index", "poisoned_sentence", "poisoned_label"]

  public static func read(_ path: String) throws(DatasetError) -> [ParaphrasePair] {
    let text: String
    do { text = try TextFile.read(path) } catch { throw .cannotRead(path: path, reason: error.reason) }
    let all = DatasetReader.lines(text)
    guard let first = all.first, first.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) == header else {
      throw .badHeader(path: path, found: String(all.first ?? ""), expected: header.joined(separator: "<TAB>"))
    }
    var out: [ParaphrasePair] = []
    for (i, raw) in all.enumerated().dropFirst() where !raw.isEmpty {
      let line = i + 1
      let f = raw.split(separator: "\t", omittingEmptySubsequences: false)
      guard f.count == 6 else { throw .badLine(path: path, line: line, reason: "expected 6 tab-separated fields, found \(f.count)") }
      guard let index = Int(f[0]), index >= 0 else { throw .badLine(path: path, line: line, reason: "clean_index '\(f[0])' is not a row number") }
      let clean = f[1].trimmingCharacters(in: .whitespaces), poisoned = f[4].trimmingCharacters(in: .whitespaces)
      guard !clean.isEmpty, !poisoned.isEmpty else { throw .badLine(path: path, line: line, reason: "empty sentence") }
      out.append(ParaphrasePair(cleanIndex: index, clean: clean, cleanLabel: try DatasetReader.label(f[2], path: path, line: line),
                                poisoned: poisoned))
    }
    guard !out.isEmpty else { throw .empty(path: path) }
    return out
  }
}
