import ArgumentParser
import Experiments
import FileIO
import Foundation

struct Report: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Rewrite a classification grid's reports from its results.json (new metrics, verdicts, seed aggregates).",
    discussion: """
      Reads DIR/results.json and rewrites results.json, report.md, report.html and chart.svg in DIR, running nothing: per-class recall, macro-F1, balanced accuracy, the majority rate and the degenerate flag are computed from the stored confusion tables; verdicts and seed aggregates from the cells. Prints the Markdown report.
      """)

  @Argument(help: "A grid folder (from `p2p run`) holding results.json.") var directory: String
  @Option(help: "Report title (default: the first line of the existing report.md, else the folder name).") var title: String?

  func run() throws {
    let dir = OutputFolder.normalized(directory)
    let path = dir + "/results.json"
    guard FileManager.default.fileExists(atPath: path) else { throw CLIError("\(path): no such file; `p2p report` takes a folder written by `p2p run`") }
    let grid = try GridResults.read(path)
    let existing = (try? TextFile.read(dir + "/report.md")).flatMap { TextFile.lines($0).first }.flatMap { $0.hasPrefix("# ") ? String($0.dropFirst(2)) : nil }
    let name = title ?? existing ?? (dir as NSString).lastPathComponent
    try GridReport.write(grid, title: name, to: dir)
    print(GridReport.markdown(grid, title: name))
    GridReport.verdictLines(grid).forEach(printError)
    printError("rewrote \(dir)/results.json, report.md, report.html and chart.svg (\(grid.cells.count) cells, \(grid.aggregates.count) seed aggregates)")
  }
}
