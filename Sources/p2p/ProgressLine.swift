import Foundation

/// A single progress line on standard error, redrawn in place.
final class ProgressLine {
  let enabled: Bool
  private var active = false
  init(enabled: Bool) { self.enabled = enabled }

  func update(_ text: String) {
    guard enabled else { return }
    FileHandle.standardError.write(("\r\u{1B}[K" + text).data(using: .utf8)!)
    active = true
  }

  func finishLine() {
    if active { FileHandle.standardError.write("\n".data(using: .utf8)!); active = false }
  }

  static func duration(_ s: Double) -> String {
    guard s.isFinite else { return "?" }
    let t = Int(s.rounded())
    return t >= 3600 ? "\(t / 3600)h\(t % 3600 / 60)m" : t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s"
  }
}
