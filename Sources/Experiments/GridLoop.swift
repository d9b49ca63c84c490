import FileIO
import Foundation
import Training

/// What a grid runner reports (the CLI renders it; the library never prints).
public enum GridEvent<Result: Sendable>: Sendable {
  case cellStarted(index: Int, total: Int, key: String)
  case cellSkipped(index: Int, total: Int, key: String)
  /// A finished cell whose settings or inputs changed, run again (`--rerun-changed`).
  case cellChanged(key: String, changes: [String])
  case phase(String)
  case training(TrainingEvent)
  /// What is being evaluated (or generated), done, total.
  case evaluating(String, Int, Int)
  case cellFinished(Result)
}

public typealias ExperimentEvent = GridEvent<CellResult>
public typealias GenerationGridEvent = GridEvent<GenerationCellResult>

/// The output folder of `p2p run`: recognised by its `plan.json`; a run resumes into it.
public enum GridFolder {
  public static let outputKind = OutputKind(command: "p2p run", entries: ["cells", "plan.json", "results.json", "report.md", "report.html", "chart.svg"]) {
    // A plan.json of p2p's own: an experiment plan with its attacks (not any file of that name).
    guard let data = FileManager.default.contents(atPath: $0 + "/plan.json"),
          let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return false }
    return object["attacks"] is [Any]
  }
}

/// A grid folder holds cells that were run with other settings or inputs than the experiment
/// file and the files now give.
public struct StaleCellsError: Error, CustomStringConvertible, Sendable {
  public var directory: String
  public var cells: [(key: String, changes: [String])]

  public var description: String {
    var s = "\(cells.count) finished or started cell\(cells.count == 1 ? "" : "s") in \(directory) were run with other settings or inputs:\n"
    for c in cells.prefix(10) {
      s += "  \(c.key): " + c.changes.prefix(4).joined(separator: "; ") + (c.changes.count > 4 ? "; …" : "") + "\n"
    }
    if cells.count > 10 { s += "  … and \(cells.count - 10) more\n" }
    s += "Nothing was run. Re-run them with --rerun-changed (their cell folders are replaced), or choose another --out."
    return s
  }
}

/// The resumable cell loop both grid runners share. Every cell's fingerprint is computed before
/// anything runs (which also checks that its data and model can be read); a cell whose
/// `cells/<key>/result.json` exists is reused only when its stored fingerprint matches, a cell
/// whose fingerprint changed stops the run (or, with `rerunChanged`, is run again from scratch);
/// every other cell is run and its result written, and the reports are rewritten after each cell
/// and at the end.
enum GridLoop {
  static func run<Cell, Result: Codable & Sendable>(
    cells: [Cell], key: (Cell) -> String, directory: String, plan: some Encodable,
    fingerprint: (Cell) throws -> CellFingerprint,
    legacyFingerprint: (Result) throws -> CellFingerprint,
    rerunChanged: Bool,
    load: (_ cellDirectory: String) throws -> Result,
    runCell: (Cell, _ cellDirectory: String) throws -> Result,
    writeReports: ([Result]) throws -> Void,
    progress: (GridEvent<Result>) -> Void
  ) throws -> [Result] {
    let fm = FileManager.default
    try OutputFolder.check(directory, kind: GridFolder.outputKind, replace: true)
    let prints = try cells.map(fingerprint)
    // Which cells were run with other settings: decided for the whole grid before anything runs.
    var stale: [(key: String, changes: [String])] = []
    for (cell, print) in zip(cells, prints) {
      let dir = directory + "/cells/" + key(cell)
      let stored: CellFingerprint?
      if let f = try? JSONOutput.read(CellFingerprint.self, from: dir + "/fingerprint.json") {
        stored = f
      } else if fm.fileExists(atPath: dir + "/result.json") {
        stored = try legacyFingerprint(try load(dir))
      } else if fm.fileExists(atPath: dir) {
        // Started by an older version (or its fingerprint is unreadable): its data and checkpoint
        // may come from other settings.
        stale.append((key(cell), ["started without a readable fingerprint.json (an older version); its data and checkpoint cannot be checked"]))
        stored = nil
      } else {
        stored = nil
      }
      if let stored {
        let changes = print.changes(from: stored)
        if !changes.isEmpty { stale.append((key(cell), changes)) }
      }
    }
    if !stale.isEmpty && !rerunChanged { throw StaleCellsError(directory: directory, cells: stale) }
    try fm.createDirectory(atPath: directory + "/cells", withIntermediateDirectories: true)
    try JSONOutput.write(plan, to: directory + "/plan.json")
    let staleKeys = Set(stale.map(\.key))
    var results: [Result] = []
    for (i, (cell, print)) in zip(cells, prints).enumerated() {
      let k = key(cell)
      let dir = directory + "/cells/" + k
      let resultPath = dir + "/result.json"
      if staleKeys.contains(k) {
        // The cell folder is this grid's own (cells/<key> under a folder with plan.json).
        progress(.cellChanged(key: k, changes: stale.first { $0.key == k }?.changes ?? []))
        try fm.removeItem(atPath: dir)
      } else if fm.fileExists(atPath: resultPath) {
        results.append(try load(dir))
        progress(.cellSkipped(index: i + 1, total: cells.count, key: k))
        continue
      }
      progress(.cellStarted(index: i + 1, total: cells.count, key: k))
      try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
      try JSONOutput.write(print, to: dir + "/fingerprint.json")
      let result = try runCell(cell, dir)
      try JSONOutput.write(result, to: resultPath)
      results.append(result)
      progress(.cellFinished(result))
      try writeReports(results)
    }
    try writeReports(results)
    return results
  }
}
