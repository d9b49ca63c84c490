import FileIO
import Foundation
import Llama
import Training

/// A cell of any task's grid: one dataset × attack × defense × seed.
public protocol GridCell: Sendable {
  /// File-system-safe identifier (`cells/<key>`).
  var key: String { get }
  var dataset: String { get }
  var attackLabel: String { get }
  var defenseLabel: String { get }
  var seed: UInt64 { get }
  var training: TrainingConfig { get }
}

/// What the grid runner needs of a task (classification, a generation task): the cells of its
/// plan, how a cell's data are poisoned and stored, how its model is trained (plain or P2P),
/// evaluated and reported. `GridRunner` runs every task with the same loop, resume rules,
/// fingerprints and cell folder layout (`data/`, `model/`, `evaluation.*`, `result.json`).
public protocol TaskFamily {
  associatedtype Cell: GridCell
  /// The poisoned dataset of a cell (`cells/<key>/data`).
  associatedtype Dataset
  /// What a cell trains on and how its adapter is read (`prepare`'s result).
  associatedtype Job: CellJob
  /// A finished cell, as stored in `result.json` and `results.json`.
  associatedtype Result: Codable & Sendable & Equatable
  /// The plan, as written to `plan.json`.
  associatedtype Plan: GridPlan

  var plan: Plan { get }
  /// The title of a plan without a name.
  static var untitled: String { get }
  func cells() throws -> [Cell]

  /// Checks the whole grid before the first cell trains (`modelPath`: the resolved model).
  func validate(_ cells: [Cell], modelPath: String) throws
  /// The cell's settings and the hashes of its inputs.
  func fingerprint(_ cell: Cell, modelPath: String, hashes: FileHashes) throws -> CellFingerprint
  func loadResult(cellDirectory: String) throws -> Result

  /// The file whose presence marks a complete dataset folder.
  var datasetManifest: String { get }
  func poison(_ cell: Cell) throws -> Dataset
  func readDataset(from directory: String) throws -> Dataset
  func write(_ dataset: Dataset, to directory: String) throws

  /// The cell's training rows (for a P2P cell: the defense's reconstruction, written to
  /// `model/`); may hold rows of `data` out (model selection's dev rows).
  func prepare(_ cell: Cell, data: inout Dataset, bundle: ModelBundle, in folders: CellFolders,
               progress: @escaping (GridEvent<Result>) -> Void) throws -> Job
  /// The file a finished training leaves next to the adapter (`classifier.json`, `generator.json`).
  var specFile: String { get }
  func train(_ cell: Cell, job: Job, bundle: ModelBundle, in folders: CellFolders, resume: Bool,
             progress: @escaping (TrainingEvent) -> Void) throws -> TrainingSummary
  /// Evaluates the merged model, writes the cell's evaluation files and returns its result.
  func evaluate(_ cell: Cell, job: Job, data: Dataset, summary: TrainingSummary, bundle: ModelBundle, in folders: CellFolders,
                progress: @escaping (GridEvent<Result>) -> Void) throws -> Result

  /// A second try of a cell whose `result` fails a check the family runs without gold test labels
  /// (the default P2P pipeline's, `SafeSpaceRetry`): the cell to run in `cells/<key>/retry` on the
  /// same data; nil keeps `result`.
  func retry(_ cell: Cell, after result: Result) -> Cell?
  /// The cell's result from its two tries (the one kept, recording the other).
  func settle(first: Result, retry: Result) -> Result
  /// The cell's result when its second try failed with `retryError` (the first, recording why).
  func settle(first: Result, retryError: any Error) -> Result

  /// Rewrites `results.json` and the reports of the grid folder.
  func writeReports(_ results: [Result], to directory: String) throws
  /// The grid table in Markdown, as `writeReports` wrote it into `directory`.
  func markdown(_ results: [Result], title: String, directory: String) throws -> String
  /// Lines a user must see after a run: the verdict of every defended cell (as in the reports
  /// of `directory`), warnings.
  func verdictLines(_ results: [Result], directory: String) throws -> [String]
  /// One line of a finished cell's figures, for a progress display.
  func summaryLine(_ result: Result) -> String
}

/// What the runner reads of any task's plan.
public protocol GridPlan: Encodable {
  var name: String? { get }
  /// A model name `ModelStore` resolves, or a GGUF path; nil: the default model.
  var model: String? { get }
}

extension TaskFamily {
  public func retry(_ cell: Cell, after result: Result) -> Cell? { nil }
  public func settle(first: Result, retry: Result) -> Result { first }
  public func settle(first: Result, retryError: any Error) -> Result { first }

  /// The grid's title in reports.
  public var title: String { plan.name ?? Self.untitled }
  /// The model the cells train.
  public var modelName: String { plan.model ?? ModelStore.defaultModel }
}

/// A cell's training rows and how its adapter is read.
public protocol CellJob {
  var rowCount: Int { get }
}

/// The folders of one cell: the grid's, the cell's, its data and its model. A second try
/// (`TaskFamily.retry`) has its own folder inside the cell's and reads the cell's data.
public struct CellFolders: Sendable {
  public var grid: String
  public var cell: String
  public var data: String
  public var model: String { cell + "/model" }
  /// A second try's: the model folder of the cell's first try (whose cached screens it may reuse).
  public var firstTry: String?

  public init(grid: String, cell: String, data: String? = nil, firstTry: String? = nil) {
    self.grid = grid; self.cell = cell; self.data = data ?? cell + "/data"; self.firstTry = firstTry
  }
}
