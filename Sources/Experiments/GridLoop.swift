import Foundation
import Training

/// What a grid runner reports (the CLI renders it; the library never prints).
public enum GridEvent<Result: Sendable>: Sendable {
  case cellStarted(index: Int, total: Int, key: String)
  case cellSkipped(index: Int, total: Int, key: String)
  case phase(String)
  case training(TrainingEvent)
  /// What is being evaluated (or generated), done, total.
  case evaluating(String, Int, Int)
  case cellFinished(Result)
}

public typealias ExperimentEvent = GridEvent<CellResult>
public typealias GenerationGridEvent = GridEvent<GenerationCellResult>

/// The resumable cell loop both grid runners share: `plan.json` is written, a cell whose
/// `cells/<key>/result.json` exists is read back and skipped, every other cell is run and its
/// result written, and the reports are rewritten after each cell and at the end.
enum GridLoop {
  static func run<Cell, Result: Codable & Sendable>(
    cells: [Cell], key: (Cell) -> String, directory: String, plan: some Encodable,
    load: (_ cellDirectory: String) throws -> Result,
    runCell: (Cell, _ cellDirectory: String) throws -> Result,
    writeReports: ([Result]) throws -> Void,
    progress: (GridEvent<Result>) -> Void
  ) throws -> [Result] {
    let fm = FileManager.default
    try fm.createDirectory(atPath: directory + "/cells", withIntermediateDirectories: true)
    try JSONOutput.write(plan, to: directory + "/plan.json")
    var results: [Result] = []
    for (i, cell) in cells.enumerated() {
      let k = key(cell)
      let dir = directory + "/cells/" + k
      let resultPath = dir + "/result.json"
      if fm.fileExists(atPath: resultPath) {
        results.append(try load(dir))
        progress(.cellSkipped(index: i + 1, total: cells.count, key: k))
        continue
      }
      progress(.cellStarted(index: i + 1, total: cells.count, key: k))
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
