import Defense

/// How a defense is named in reports: "none", or the pipeline's name (`P2PConfig.variantName`:
/// `p2p`, `p2p-paper`, `p2p-cover`, …) with its settings and, for the data-driven default, the
/// screen it chose.
public enum DefenseLabel {
  public static func of(_ p2p: P2PConfig?) -> String {
    guard let p = p2p else { return "none" }
    var parts = ["rho=\(p.ratio)"]
    if p.automatic == true {
      if p.probeScreen == true { parts.append("chose the probe screen + flip cover") }
      else if p.spectralScreen == true {
        parts.append("chose the relative spectral screen + flip cover\(p.selection == .stratified ? ", benign rows per label" : "")")
      }
      else if p.screenTriggers == true { parts.append("chose the trigger-word screen + cover") }
      if p.retried == true { parts.append("trained again with confirmed flips after a failed safe-space check") }
      if let released = p.releasedWords, !released.isEmpty {
        parts.append("natural words released: \(released.prefix(4).joined(separator: " "))\(released.count > 4 ? " …" : "")")
      }
    } else {
      if p.excludePoisonedFromBenign == true { parts.append("oracle: benign rows clean") }
      if p.selectsByAgreement { parts.append("benign rows by zero-shot agreement") }
      if p.selection == .stratified { parts.append("benign rows per label") }
      if p.screenTriggers == true { parts.append("trigger-word screen") }
      if p.coverTriggers == true { parts.append("trigger cover") }
      if p.probeScreen == true { parts.append("probe screen + flip cover") }
      if p.spectralScreen == true { parts.append("relative spectral screen + flip cover") }
    }
    if p.mode == .replace { parts.append("replace") }
    return "\(p.variantName)(\(parts.joined(separator: ", ")))"
  }
}
