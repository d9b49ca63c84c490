import Foundation

/// A single progress line on standard error, redrawn in place on a terminal. When standard error
/// is not a terminal (a log file, a pipe) no escape codes are written: the line is printed plainly,
/// at most every `logInterval` seconds, so a log of a long run still shows its progress.
final class ProgressLine {
  let enabled: Bool
  /// Whether standard error is a terminal.
  static let isTerminal = isatty(2) == 1
  static let logInterval: TimeInterval = 30
  private var active = false
  private var lastLogged: Date?

  init(enabled: Bool) { self.enabled = enabled }

  func update(_ text: String) {
    guard enabled else { return }
    if Self.isTerminal {
      FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
      active = true
    } else if lastLogged.map({ Date().timeIntervalSince($0) >= Self.logInterval }) ?? true {
      FileHandle.standardError.write(Data((text + "\n").utf8))
      lastLogged = Date()
    }
  }

  func finishLine() {
    if active { FileHandle.standardError.write(Data("\n".utf8)); active = false }
  }

  static func duration(_ s: Double) -> String {
    guard s.isFinite else { return "?" }
    let t = Int(s.rounded())
    return t >= 3600 ? "\(t / 3600)h\(t % 3600 / 60)m" : t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s"
  }
}
