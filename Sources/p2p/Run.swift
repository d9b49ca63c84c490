import ArgumentParser
import Backdoor
import Experiments
import Foundation

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run an experiment grid (datasets x attacks x {none, p2p} x seeds) from a YAML file, with resume.",
    discussion: """
      Each cell poisons the data, trains (undefended or with P2P) and evaluates; its files go to OUT/cells/<key>/ (data/, model/, evaluation.json, evaluation.md, result.json). After every cell OUT/results.json, OUT/report.md, OUT/report.html and OUT/chart.svg are rewritten. Running the same command again skips finished cells and resumes an interrupted training from its checkpoint; a cell is reused only while its fingerprint (cells/<key>/fingerprint.json: the attack, defense, training settings and seed, and the sha256 of the data files and the model) matches, otherwise the run stops before training and names what changed (--rerun-changed runs such cells again). The whole grid (datasets, targets, label words, model) is checked before the first cell; unknown keys in the file are errors. See experiments/*.yaml for examples and ExperimentPlan's documentation for the keys.
      """)

  @Argument(help: "Experiment file (YAML).") var experiment: String
  @Option(help: "Output directory (default: runs/<experiment name>).") var out: String?
  @Flag(help: "No progress line.") var quiet = false
  @Flag(help: "Only rewrite results.json and the reports from the finished cells.") var reportOnly = false
  @Flag(help: """
    Re-run the finished cells whose settings or inputs (data files, model) changed since they ran; without it such cells stop \
    the run before anything trains, naming what changed.
    """) var rerunChanged = false

  func run() throws {
    let plan = try ExperimentPlan.load(experiment)
    let name = plan.name ?? ((experiment as NSString).lastPathComponent as NSString).deletingPathExtension
    let dir = out ?? "runs/" + name
    if plan.generation != nil { try GenerationCommands.run(plan, name: name, directory: dir, quiet: quiet, rerunChanged: rerunChanged); return }
    let cells = try plan.cells()
    printError("experiment \(name): \(cells.count) cells -> \(dir)")
    let start = Date()
    let runner = ExperimentRunner(plan: plan, directory: dir, dataRoot: DatasetCatalog.dataRoot(), rerunChanged: rerunChanged)
    if reportOnly {
      let done = try runner.writeReportsOnly()
      print(GridReport.markdown(done, title: name))
      printError("\(done.count) of \(cells.count) cells finished; reports rewritten in \(dir)")
      return
    }
    let render = GridProgress<CellResult>(quiet: quiet, verb: "evaluating") { r in
      let e = r.evaluation
      return String(format: "  CA %@%%  macro-F1 %@%%  ASR %@%%", GridReportText.pct(e.metrics.cleanAccuracy.value),
                    GridReportText.pct(e.metrics.macroF1), GridReportText.pct(e.metrics.attackSuccessRate?.value ?? .nan))
        + (e.metrics.degenerate ? "  DEGENERATE classifier (one label for nearly every input)" : "")
        + (e.p2p.map { String(format: "  (no wrapper: ASR %@%%)", GridReportText.pct($0.withoutWrapper.attackSuccessRate?.value ?? .nan)) } ?? "")
        + String(format: "  train %.0f s", r.trainingSeconds)
    }
    defer { render.finish() }
    let results = try runner.run(progress: render.handle)
    render.finish()
    let grid = GridResults(results)
    print(GridReport.markdown(grid, title: name))
    Report.printVerdicts(grid)
    printError(String(format: "done in %@; report: %@/report.md, %@/report.html, chart %@/chart.svg", ProgressLine.duration(Date().timeIntervalSince(start)),
                      dir, dir, dir))
  }
}

enum GridReportText {
  static func pct(_ v: Double) -> String { v.isFinite ? String(format: "%.1f", 100 * v) : "–" }
}
