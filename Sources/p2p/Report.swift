import ArgumentParser
import Experiments
import FileIO
import Foundation

struct Report: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Rewrite a classification grid's reports from its results.json (new metrics, verdicts, seed aggregates).",
    discussion: """
      Reads DIR/results.json and rewrites results.json, report.md, report.html and chart.svg in DIR, running nothing: per-class recall, macro-F1, balanced accuracy, the majority rate and the degenerate flag are computed from the stored confusion tables; verdicts and seed aggregates from the cells. Prints the Markdown report.
      A grid that ran only defended cells (e.g. the default on the full set) is judged against the undefended cells of another grid with --twins-from OTHER: only cells with the same dataset, attack, seed, training, model, model selection and poisoning (the same poisoned rows and test rows) count. They are kept in results.json, so later reports and `p2p run` judge the same way.
      """)

  @Argument(help: "A grid folder (from `p2p run`) holding results.json.") var directory: String
  @Option(help: "Report title (default: the first line of the existing report.md, else the folder name).") var title: String?
  @Option(name: .customLong("twins-from"), help: "Another grid folder whose undefended cells are the twins of defended cells here (repeatable).")
  var twinsFrom: [String] = []

  func run() throws {
    let dir = OutputFolder.normalized(directory)
    let path = dir + "/results.json"
    guard FileManager.default.fileExists(atPath: path) else { throw CLIError("\(path): no such file; `p2p report` takes a folder written by `p2p run`") }
    var grid = try GridResults.read(path)
    for other in twinsFrom {
      let source = (OutputFolder.normalized(other) as NSString).standardizingPath
      let otherPath = source + "/results.json"
      guard FileManager.default.fileExists(atPath: otherPath) else { throw CLIError("\(otherPath): no such file; --twins-from takes a folder written by `p2p run`") }
      grid = try grid.addingReferences(from: otherPath, source: source)
    }
    let existing = (try? TextFile.read(dir + "/report.md")).flatMap { TextFile.lines($0).first }.flatMap { $0.hasPrefix("# ") ? String($0.dropFirst(2)) : nil }
    let name = title ?? existing ?? (dir as NSString).lastPathComponent
    try GridReport.write(grid, title: name, to: dir)
    print(GridReport.markdown(grid, title: name))
    GridReport.verdictLines(grid).forEach(printError)
    printError("rewrote \(dir)/results.json, report.md, report.html and chart.svg (\(grid.cells.count) cells, \(grid.aggregates.count) seed aggregates)")
  }
}
