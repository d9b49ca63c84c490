import Experiments
import Foundation

/// Renders a grid runner's events: one line per cell on standard error, a redrawn progress
/// line for its phases, and `summary` of each finished cell.
final class GridProgress<Result: Sendable> {
  let bar: ProgressLine
  /// "evaluating" or "generating".
  let verb: String
  let summary: (Result) -> String
  private var prefix = ""

  init(quiet: Bool, verb: String, summary: @escaping (Result) -> String) {
    bar = ProgressLine(enabled: !quiet); self.verb = verb; self.summary = summary
  }

  func handle(_ event: GridEvent<Result>) {
    switch event {
    case let .cellStarted(i, total, key):
      bar.finishLine()
      prefix = "[\(i)/\(total)] \(key)"
      printError(prefix)
    case let .cellSkipped(i, total, key):
      printError("[\(i)/\(total)] \(key): finished earlier, skipped")
    case let .cellChanged(key, changes):
      bar.finishLine()
      printError("\(key): run with other settings or inputs (\(changes.prefix(3).joined(separator: "; "))); running it again")
    case let .phase(text):
      bar.update(prefix.isEmpty ? text : "\(prefix): \(text)")
    case let .training(.step(p)):
      bar.update(String(format: "%@: training step %d/%d, epoch %d/%d, loss %.4f, %.0f tok/s, ETA %@", prefix, p.step, p.totalSteps,
                        p.epoch, p.epochs, p.loss, p.tokensPerSecond, ProgressLine.duration(p.etaSeconds)))
    case .training:
      break
    case let .evaluating(what, done, total):
      bar.update("\(prefix): \(verb) \(what) \(done)/\(total)")
    case let .cellFinished(r):
      bar.finishLine()
      printError(summary(r))
    }
  }

  /// Ends the progress line (also after an error).
  func finish() { bar.finishLine() }
}
