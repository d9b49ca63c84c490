import Defense
import Foundation

/// The reconstructed training set of `p2p defend` as JSONL (one `P2PRow` a line), with atomic
/// writes and errors naming the line.
public enum P2PRowsFile {
  public static func write(_ rows: [P2PRow], to path: String) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var d = Data()
    for r in rows { d.append(try enc.encode(r)); d.append(0x0A) }
    try d.write(to: URL(fileURLWithPath: path), options: .atomic)
  }

  public static func read(_ path: String) throws -> [P2PRow] {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
      throw ExperimentError.badFile(path: path, reason: "cannot read as UTF-8 text")
    }
    var rows: [P2PRow] = []
    for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
      do { rows.append(try JSONDecoder().decode(P2PRow.self, from: Data(line.utf8))) } catch {
        throw ExperimentError.badFile(path: "\(path):\(i + 1)", reason: "not a P2P row {prompt, completion, label, benign, poisoned}: \(error)")
      }
    }
    guard !rows.isEmpty else { throw ExperimentError.badFile(path: path, reason: "no rows") }
    return rows
  }
}
