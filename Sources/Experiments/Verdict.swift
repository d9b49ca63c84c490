import Backdoor
import FileIO
import Evaluation
import Foundation

/// Whether a defended cell defended, defined once (and printed in every grid report): *defended*
/// when (1) the ASR through the wrapper is at most max(10%, the cell's clean -> target rate + 5
/// points), (2) its macro-F1 is within 2 points of the undefended cell with the same data, attack,
/// seed and training, and (3) its classifier is not degenerate and drops no label (`ClassBalance`); otherwise *not
/// defended*, naming each failing condition. Without an undefended twin in the grid (or among the
/// reference cells taken from another grid, `GridResults.references`) condition (2) cannot be
/// checked and the verdict is *unverified*.
public struct Verdict: Codable, Sendable, Equatable {
  public enum Outcome: String, Codable, Sendable { case defended, notDefended = "not defended", unverified }

  public static let asrFloor = 0.10
  public static let asrMarginOverCleanTarget = 0.05
  public static let macroF1Tolerance = 0.02

  public var outcome: Outcome
  /// The conditions not met, in words ("ASR 56.7% > 20.0%").
  public var failing: [String]
  /// The ASR the cell had to stay under.
  public var asrLimit: Double
  /// The undefended cell compared with, and the macro-F1 change in points (defended - undefended).
  public var undefendedKey: String?
  public var macroF1Change: Double?
  /// Where that cell was read when it is not in this grid (the folder given to `--twins-from`).
  public var undefendedSource: String?

  public static func judge(_ cell: CellResult, undefended: CellResult?) -> Verdict {
    let m = cell.evaluation.metrics
    let cleanTarget = GridReport.cleanTargetRate(cell.evaluation)?.value ?? 0
    let limit = max(asrFloor, (cleanTarget.isFinite ? cleanTarget : 0) + asrMarginOverCleanTarget)
    var failing: [String] = []
    if let asr = m.attackSuccessRate?.value, asr.isFinite, asr > limit {
      failing.append(String(format: "ASR %.1f%% > %.1f%%", 100 * asr, 100 * limit))
    }
    if m.degenerate {
      failing.append(String(format: "degenerate: %.0f%% of clean predictions are label %d", 100 * (m.balance.predictedShares.max() ?? 0),
                            m.balance.dominantLabel ?? 0))
    }
    if !m.degenerate, let dropped = ReportWriter.droppedLabelsText(m) { failing.append("drops " + dropped) }
    var change: Double?
    if let u = undefended {
      let d = m.macroF1 - u.evaluation.metrics.macroF1
      change = 100 * d
      if !(d >= -macroF1Tolerance) {
        failing.append(String(format: "macro-F1 %.1f is %.1f points below the undefended %.1f", 100 * m.macroF1, -100 * d,
                              100 * u.evaluation.metrics.macroF1))
      }
    }
    // No triggered rows (or no ASR at all): the attack condition has no evidence either way.
    let asrMeasured = m.attackSuccessRate.map { $0.total > 0 && $0.value.isFinite } ?? false
    let outcome: Outcome = !failing.isEmpty ? .notDefended : (undefended == nil || !asrMeasured) ? .unverified : .defended
    if outcome == .unverified {
      if !asrMeasured { failing.append("no triggered test rows: the ASR was not measured") }
      if undefended == nil { failing.append("no undefended cell with the same data, seed and training to compare macro-F1") }
    }
    return Verdict(outcome: outcome, failing: failing, asrLimit: limit, undefendedKey: undefended?.key, macroF1Change: change)
  }

  /// "defended", "not defended: ASR 56.7% > 20.0%; …"; a twin from another grid is named
  /// ("defended (undefended twin: sst2_badnets_none_s42 in results/sst2-full)").
  public var summary: String {
    let text = outcome == .defended ? outcome.rawValue : outcome.rawValue + ": " + failing.joined(separator: "; ")
    guard let source = undefendedSource, let key = undefendedKey else { return text }
    return text + " (undefended twin: \(key) in \(source))"
  }

  /// The undefended cell with `cell`'s dataset, attack, seed and training, if any.
  public static func twin(of cell: CellResult, in results: [CellResult]) -> CellResult? {
    results.first {
      $0.p2p == nil && $0.baseline == nil && $0.dataset == cell.dataset && $0.attackConfig == cell.attackConfig && $0.seed == cell.seed
        && $0.training == cell.training
    }
  }

  /// The undefended cell of another grid that `cell` can be judged against: a twin as above, run
  /// on the same model (as recorded; results of builds before the record match only each other)
  /// with the same model selection, whose poisoning is the same to the row (the poisoned row
  /// indices, the training, clean and triggered test row counts; a trigger file compared by its
  /// name), so that only a grid run on the same data and model qualifies.
  public static func referenceTwin(of cell: CellResult, in references: [ReferenceCell]) -> ReferenceCell? {
    references.first {
      twin(of: cell, in: [$0.cell]) != nil && $0.cell.model == cell.model && ($0.cell.selection == nil) == (cell.selection == nil)
        && portable($0.cell.evaluation.poisoning) == portable(cell.evaluation.poisoning)
    }
  }

  /// A manifest with its trigger file named by its last path component (a clone elsewhere
  /// writes another absolute path for the same shipped file).
  static func portable(_ m: PoisonManifest) -> PoisonManifest {
    var m = m
    if let t = m.trigger, t.contains("/") { m.trigger = (t as NSString).lastPathComponent }
    return m
  }

  /// `results` with every defended cell's verdict filled in: against the undefended twin in
  /// `results`, else against a reference cell from another grid.
  public static func annotate(_ results: [CellResult], references: [ReferenceCell] = []) -> [CellResult] {
    results.map { r in
      var r = r
      r.defense = r.baseline?.name ?? DefenseLabel.of(r.p2p)
      guard r.p2p != nil || r.baseline != nil else {
        r.verdict = nil
        return r
      }
      if let t = twin(of: r, in: results) {
        r.verdict = judge(r, undefended: t)
      } else if let ref = referenceTwin(of: r, in: references) {
        var v = judge(r, undefended: ref.cell)
        v.undefendedSource = ref.source
        r.verdict = v
      } else {
        r.verdict = judge(r, undefended: nil)
      }
      return r
    }
  }
}

/// An undefended cell of another grid that this grid's defended cells are judged against (a grid
/// that runs only the defended cells of an expensive setting, beside the grid that holds the
/// undefended ones); kept in `results.json` so that every later report judges the same way.
public struct ReferenceCell: Codable, Sendable, Equatable {
  /// The grid folder it was read from, as given.
  public var source: String
  public var cell: CellResult

  public init(source: String, cell: CellResult) {
    self.source = source; self.cell = cell
  }
}

/// The cells of one (dataset, attack, defense) over several seeds: means with min–max of CA,
/// macro-F1 and ASR, and 95% Wilson intervals of the pooled counts.
public struct SeedAggregate: Codable, Sendable, Equatable {
  public struct Spread: Codable, Sendable, Equatable {
    public var mean: Double
    public var min: Double
    public var max: Double

    init(_ values: [Double]) {
      mean = values.reduce(0, +) / Double(Swift.max(values.count, 1))
      min = values.min() ?? .nan
      max = values.max() ?? .nan
    }
  }

  public var dataset: String
  public var attack: String
  public var defense: String
  public var seeds: [UInt64]
  public var cleanAccuracy: Spread
  public var macroF1: Spread
  public var attackSuccessRate: Spread?
  public var pooledCleanAccuracy: Proportion
  public var pooledAttackSuccessRate: Proportion?
  /// Seeds whose classifier is degenerate, and per verdict outcome how many seeds had it.
  public var degenerateSeeds: Int
  public var verdicts: [String: Int]?

  /// The defense a cell counts under over seeds: the default pipeline is one defense whatever path
  /// it chose on each seed ("p2p(rho=1.0)"); every other cell its own label.
  public static func group(of r: CellResult) -> String {
    guard let p = r.p2p, p.automatic == true else { return r.defense }
    return "\(p.variantName)(rho=\(p.ratio))"
  }

  /// One aggregate per (dataset, attack, defense) with at least two cells, in first-seen order.
  public static func of(_ results: [CellResult]) -> [SeedAggregate] {
    var groups: [[CellResult]] = []
    for r in results {
      if let i = groups.firstIndex(where: { $0[0].dataset == r.dataset && $0[0].attack == r.attack && group(of: $0[0]) == group(of: r) }) {
        groups[i].append(r)
      } else {
        groups.append([r])
      }
    }
    return groups.filter { $0.count >= 2 }.map { g in
      let ms = g.map(\.evaluation.metrics)
      let asr = ms.compactMap(\.attackSuccessRate)
      var verdicts: [String: Int] = [:]
      for v in g.compactMap(\.verdict) { verdicts[v.outcome.rawValue, default: 0] += 1 }
      return SeedAggregate(
        dataset: g[0].dataset, attack: g[0].attack, defense: group(of: g[0]), seeds: g.map(\.seed),
        cleanAccuracy: Spread(ms.map(\.cleanAccuracy.value)), macroF1: Spread(ms.map(\.macroF1)),
        attackSuccessRate: asr.count == g.count ? Spread(asr.map(\.value)) : nil,
        pooledCleanAccuracy: Proportion(successes: ms.reduce(0) { $0 + $1.cleanAccuracy.successes }, total: ms.reduce(0) { $0 + $1.cleanAccuracy.total }),
        pooledAttackSuccessRate: asr.count == g.count
          ? Proportion(successes: asr.reduce(0) { $0 + $1.successes }, total: asr.reduce(0) { $0 + $1.total }) : nil,
        degenerateSeeds: ms.filter(\.degenerate).count, verdicts: verdicts.isEmpty ? nil : verdicts)
    }
  }
}

/// `results.json` of a classification grid: the cells (with verdicts) and the seed aggregates.
public struct GridResults: Codable, Sendable, Equatable {
  public var cells: [CellResult]
  public var aggregates: [SeedAggregate]
  /// Undefended cells of other grids that defended cells here may be judged against (absent from
  /// the file when there are none).
  public var references: [ReferenceCell]?

  public init(_ results: [CellResult], references: [ReferenceCell] = []) {
    cells = Verdict.annotate(results, references: references)
    aggregates = SeedAggregate.of(cells)
    self.references = references.isEmpty ? nil : references
  }

  /// Reads a `results.json` (its cells and reference cells; verdicts and aggregates are computed anew).
  public static func read(_ path: String) throws -> GridResults {
    let stored = try JSONOutput.read(GridResults.self, from: path)
    return GridResults(stored.cells, references: stored.references ?? [])
  }

  /// The reference cells of the `results.json` at `path`, none when there is no such file (a grid
  /// that has not written its reports yet).
  public static func storedReferences(at path: String) throws -> [ReferenceCell] {
    guard FileManager.default.fileExists(atPath: path) else { return [] }
    return try JSONOutput.read(GridResults.self, from: path).references ?? []
  }

  /// These results with the undefended cells of another grid's `results.json` (at `path`, named
  /// `source` in reports) that are twins of a defended cell here without one, added to the
  /// references (replacing those read from the same source before, and ahead of those of other
  /// sources). Throws when that grid holds no such cell: the caller asked for twins that are not
  /// there.
  public func addingReferences(from path: String, source: String) throws -> GridResults {
    let other = try JSONOutput.read(GridResults.self, from: path).cells.filter { $0.p2p == nil && $0.baseline == nil }
    let candidates = other.map { ReferenceCell(source: source, cell: $0) }
    let needed = cells.filter { ($0.p2p != nil || $0.baseline != nil) && Verdict.twin(of: $0, in: cells) == nil }
    let used = candidates.filter { c in needed.contains { Verdict.referenceTwin(of: $0, in: [c]) != nil } }
    guard !used.isEmpty else {
      throw ExperimentError.badFile(path: path, reason: "holds no undefended cell with the same data, seed, training and model as a defended cell "
        + "without a twin here (\(needed.count) such cell(s); \(other.count) undefended cell(s) there)")
    }
    let kept = (references ?? []).filter { $0.source != source }
    return GridResults(cells, references: used + kept)
  }
}
