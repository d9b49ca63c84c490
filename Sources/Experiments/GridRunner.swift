import Checkpoint
import FileIO
import Foundation
import Llama
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

/// The output folder of `p2p run`: recognised by its `plan.json`; a run resumes into it.
public enum GridFolder {
  public static let outputKind = OutputKind(command: "p2p run", entries: ["cells", "plan.json", "results.json", "report.md", "report.html", "chart.svg"]) {
    // A plan.json of p2p's own: an experiment plan with its attacks (not any file of that name).
    plan(in: $0)?["attacks"] is [Any]
  }

  /// `directory/plan.json` as a JSON object, nil when there is none.
  static func plan(in directory: String) -> [String: Any]? {
    guard let data = FileManager.default.contents(atPath: directory + "/plan.json") else { return nil }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
  }

  /// The experiment name recorded in `directory/plan.json` ("" for a plan without one), nil when
  /// the folder holds no plan.
  public static func recordedName(_ directory: String) -> String? {
    plan(in: directory).map { $0["name"] as? String ?? "" }
  }

  /// Refuses a grid folder that holds another experiment's run: its plan.json, results.json and
  /// reports would be replaced by this experiment's (its cells would stay).
  public static func checkSameExperiment(_ directory: String, name: String?) throws {
    guard let recorded = recordedName(directory), recorded != (name ?? "") else { return }
    throw ExperimentError.badFile(path: directory, reason: "holds the run of experiment '\(recorded)', not '\(name ?? "")' (its plan.json, "
      + "results.json and reports would be replaced); choose another --out, or give the file the name it ran under")
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

/// Runs the grid of any task (`TaskFamily`) into a folder, one cell after another, with resume.
/// Every cell's fingerprint is computed before anything runs (which also checks that its data and
/// model can be read); a cell whose `cells/<key>/result.json` exists is reused only when its
/// stored fingerprint matches, a cell whose fingerprint changed stops the run (or, with
/// `rerunChanged`, is run again from scratch). A cell reuses its poisoned data and a finished
/// training, and continues an interrupted training from its checkpoint. `results.json` and the
/// reports are rewritten after each cell and at the end.
public final class GridRunner<Family: TaskFamily> {
  public let family: Family
  public let directory: String
  /// Re-run finished cells whose settings or inputs changed instead of stopping (`--rerun-changed`).
  public var rerunChanged: Bool

  public init(_ family: Family, directory: String, rerunChanged: Bool = false) {
    self.family = family; self.directory = directory; self.rerunChanged = rerunChanged
  }

  public func run(progress: @escaping (GridEvent<Family.Result>) -> Void = { _ in }) throws -> [Family.Result] {
    let cells = try family.cells()
    progress(.phase("checking the grid: \(cells.count) cells, model \(family.modelName)"))
    let modelPath = try resolvedModelPath()
    try family.validate(cells, modelPath: modelPath)
    let fm = FileManager.default
    try OutputFolder.check(directory, kind: GridFolder.outputKind, replace: true)
    try GridFolder.checkSameExperiment(directory, name: family.plan.name)
    let prints = try fingerprints(cells, modelPath: modelPath)
    let stale = try staleCells(cells, prints)
    if !stale.isEmpty && !rerunChanged { throw StaleCellsError(directory: directory, cells: stale) }
    try fm.createDirectory(atPath: directory + "/cells", withIntermediateDirectories: true)
    try JSONOutput.write(family.plan, to: directory + "/plan.json")
    // Every changed cell goes before any cell runs: a baseline or probe cell adopts its undefended
    // twin's finished model, which must not be one trained with the old settings. (The folders
    // are this grid's own: cells/<key> under a folder with plan.json.)
    for changed in stale {
      progress(.cellChanged(key: changed.key, changes: changed.changes))
      try fm.removeItem(atPath: directory + "/cells/" + changed.key)
    }
    var results: [Family.Result] = []
    // One model for the grid: training reads the base weights, and every cell's adapter is merged
    // for its evaluation and taken out again.
    var loaded: ModelBundle?
    for (i, (cell, print)) in zip(cells, prints).enumerated() {
      let dir = directory + "/cells/" + cell.key
      if fm.fileExists(atPath: dir + "/result.json") {
        results.append(try family.loadResult(cellDirectory: dir))
        progress(.cellSkipped(index: i + 1, total: cells.count, key: cell.key))
        continue
      }
      progress(.cellStarted(index: i + 1, total: cells.count, key: cell.key))
      try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
      try JSONOutput.write(print, to: dir + "/fingerprint.json")
      let bundle = try loaded ?? ModelSource.load(family.modelName)
      loaded = bundle
      let result = try runCell(cell, in: CellFolders(grid: directory, cell: dir), bundle: bundle, progress: progress)
      try JSONOutput.write(result, to: dir + "/result.json")
      results.append(result)
      progress(.cellFinished(result))
      try family.writeReports(results, to: directory)
    }
    try family.writeReports(results, to: directory)
    return results
  }

  func resolvedModelPath() throws -> String {
    do { return try ModelSource.resolve(family.modelName) } catch {
      throw ExperimentError.invalid(key: "model '\(family.modelName)'", expected: "a model name, GGUF file or Hugging Face checkpoint folder (\(error))")
    }
  }

  /// Every cell's fingerprint (each input file hashed once).
  func fingerprints(_ cells: [Family.Cell], modelPath: String) throws -> [CellFingerprint] {
    let hashes = FileHashes()
    return try cells.map { try family.fingerprint($0, modelPath: modelPath, hashes: hashes) }
  }

  /// The cells run with other settings or inputs than now: decided for the whole grid before anything runs.
  func staleCells(_ cells: [Family.Cell], _ prints: [CellFingerprint]) throws -> [(key: String, changes: [String])] {
    let fm = FileManager.default
    var stale: [(key: String, changes: [String])] = []
    for (cell, print) in zip(cells, prints) {
      let dir = directory + "/cells/" + cell.key
      let stored: CellFingerprint?
      if let f = try? JSONOutput.read(CellFingerprint.self, from: dir + "/fingerprint.json") {
        stored = f
      } else if fm.fileExists(atPath: dir) {
        // Run or started by a version before fingerprints (or its fingerprint is unreadable): its
        // data, checkpoint and result may come from other settings.
        stale.append((cell.key, ["no readable fingerprint.json (a cell of an older version); its data, checkpoint and result cannot be checked"]))
        stored = nil
      } else {
        stored = nil
      }
      if let stored {
        let changes = print.changes(from: stored)
        if !changes.isEmpty { stale.append((cell.key, changes)) }
      }
    }
    return stale
  }

  /// One cell: poisons (or reuses) its data, runs its try, and a second try in `retry/` when the
  /// family asks for one (`TaskFamily.retry`), keeping what the family settles on.
  func runCell(_ cell: Family.Cell, in folders: CellFolders, bundle: ModelBundle,
               progress: @escaping (GridEvent<Family.Result>) -> Void) throws -> Family.Result {
    let fm = FileManager.default
    let data: Family.Dataset
    if fm.fileExists(atPath: folders.data + "/" + family.datasetManifest) {
      data = try family.readDataset(from: folders.data)
    } else {
      progress(.phase("poisoning \(cell.dataset) with \(cell.attackLabel)"))
      data = try family.poison(cell)
      try family.write(data, to: folders.data)
    }
    let first = try runTry(cell, data: data, in: folders, bundle: bundle, progress: progress)
    guard let second = family.retry(cell, after: first) else { return first }
    progress(.phase("the first try fails its check; training again (\(second.defenseLabel)) in \(folders.cell)/retry"))
    // The first try is a finished result: a second try that fails is recorded, not the cell's failure.
    do {
      let retried = try runTry(second, data: data, in: CellFolders(grid: folders.grid, cell: folders.cell + "/retry", data: folders.data,
                                                           firstTry: folders.model),
                               bundle: bundle, progress: progress)
      return family.settle(first: first, retry: retried)
    } catch {
      progress(.phase("the second try failed (\(error)); keeping the first"))
      return family.settle(first: first, retryError: error)
    }
  }

  /// One try of a cell on its data: prepares and trains (or reuses) its model, merges the adapter
  /// into the base weights, evaluates, and restores the base weights.
  func runTry(_ cell: Family.Cell, data input: Family.Dataset, in folders: CellFolders, bundle: ModelBundle,
              progress: @escaping (GridEvent<Family.Result>) -> Void) throws -> Family.Result {
    let fm = FileManager.default
    var data = input
    try fm.createDirectory(atPath: folders.cell, withIntermediateDirectories: true)
    let job = try family.prepare(cell, data: &data, bundle: bundle, in: folders, progress: progress)
    let summaryPath = folders.model + "/training_summary.json"
    let summary: TrainingSummary
    if fm.fileExists(atPath: summaryPath) && fm.fileExists(atPath: folders.model + "/" + family.specFile) {
      summary = try JSONOutput.read(TrainingSummary.self, from: summaryPath)
    } else {
      progress(.phase("training \(job.rowCount) rows (\(cell.defenseLabel))"))
      summary = try family.train(cell, job: job, bundle: bundle, in: folders, resume: fm.fileExists(atPath: folders.model + "/checkpoint")) {
        progress(.training($0))
      }
    }
    let merged = try PEFTAdapter.load(from: folders.model, model: bundle.model.config).merge(into: bundle.model)
    defer { merged.restore() }
    progress(.phase("evaluating"))
    return try family.evaluate(cell, job: job, data: data, summary: summary, bundle: bundle, in: folders, progress: progress)
  }

  /// Rewrites `results.json` and the reports from the finished cells of an earlier run of the same
  /// experiment, running nothing; a folder that holds no earlier run, another experiment's run or
  /// cells run with other settings is an error (nothing is written there).
  public func writeReportsOnly() throws -> [Family.Result] {
    guard try OutputFolder.check(directory, kind: GridFolder.outputKind, replace: true) == .own else {
      throw ExperimentError.badFile(path: directory, reason: "no earlier output of p2p run to report on (no plan.json); run the experiment without --report-only first")
    }
    try GridFolder.checkSameExperiment(directory, name: family.plan.name)
    // A finished cell run with other settings or inputs than the file names now is not reported
    // under it.
    let cells = try family.cells()
    let stale = try staleCells(cells, try fingerprints(cells, modelPath: try resolvedModelPath()))
    if !stale.isEmpty { throw StaleCellsError(directory: directory, cells: stale) }
    let results = try cells.compactMap { cell -> Family.Result? in
      let dir = directory + "/cells/" + cell.key
      return FileManager.default.fileExists(atPath: dir + "/result.json") ? try family.loadResult(cellDirectory: dir) : nil
    }
    try family.writeReports(results, to: directory)
    return results
  }
}
