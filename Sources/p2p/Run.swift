import ArgumentParser
import Backdoor
import Experiments
import Foundation

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run an experiment grid (datasets x attacks x {none, p2p} x seeds) from a YAML file, with resume.",
    discussion: """
      Each cell poisons the data, trains (undefended or with P2P) and evaluates; its files go to OUT/cells/<key>/ (data/, model/, evaluation.json, evaluation.md, result.json). After every cell OUT/results.json and the reports (OUT/report.md; for classification also OUT/report.html and OUT/chart.svg) are rewritten. Running the same command again skips finished cells and resumes an interrupted training from its checkpoint; a cell is reused only while its fingerprint (cells/<key>/fingerprint.json: the attack, defense, training settings and seed, for a defense with screens the revision of their rules, and the sha256 of the data files and the model) matches, otherwise the run stops before training and names what changed (--rerun-changed runs such cells again). The whole grid (datasets, targets, label words, model) is checked before the first cell; unknown keys in the file are errors. A file with `task: math`, `summarization` or `instruction` runs a generation grid the same way. See experiments/*.yaml for examples and docs/experiments.md for the keys.
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
    let root = DataRoot.find()
    if plan.generationTask != nil {
      try run(GridRunner(try GenerationFamily(plan: plan, dataRoot: root), directory: dir,
                         rerunChanged: rerunChanged), name: name, verb: "generating")
    } else {
      try run(GridRunner(ClassificationFamily(plan: plan, dataRoot: root), directory: dir, rerunChanged: rerunChanged), name: name,
              verb: "evaluating")
    }
  }

  /// Runs any task's grid with a progress display, then prints its report and verdicts.
  func run<Family: TaskFamily>(_ runner: GridRunner<Family>, name: String, verb: String) throws {
    let family = runner.family, dir = runner.directory
    let cells = try family.cells()
    if reportOnly {
      let done = try runner.writeReportsOnly()
      print(try family.markdown(done, title: name, directory: dir))
      printError("\(done.count) of \(cells.count) cells finished; reports rewritten in \(dir)")
      return
    }
    printError("experiment \(name): \(cells.count) cells -> \(dir)")
    let start = Date()
    let render = GridProgress<Family.Result>(quiet: quiet, verb: verb, summary: family.summaryLine)
    defer { render.finish() }
    let results = try runner.run(progress: render.handle)
    render.finish()
    print(try family.markdown(results, title: name, directory: dir))
    try family.verdictLines(results, directory: dir).forEach(printError)
    printError("done in \(ProgressLine.duration(Date().timeIntervalSince(start))); reports and results.json in \(dir)")
  }
}
