import FileIO
import Defense
import Foundation

/// The reconstructed training set of `p2p defend` as JSONL (one `P2PRow` a line), with atomic
/// writes and errors naming the line.
public enum P2PRowsFile {
  public static func write(_ rows: [P2PRow], to path: String) throws { try JSONOutput.writeLines(rows, to: path) }

  public static func read(_ path: String) throws -> [P2PRow] {
    try JSONOutput.readLines(P2PRow.self, from: path, expected: "a P2P row {prompt, completion, label, benign, poisoned}")
  }
}
