import Backdoor
import Foundation

/// Readable reports of evaluations (Markdown); the grid report adds HTML and an SVG chart.
public enum ReportWriter {
  /// "87.3% (762/873, 95% CI 85.0–89.3)".
  public static func percent(_ p: Proportion) -> String {
    guard p.total > 0 else { return "n/a" }
    return String(format: "%.1f%% (%d/%d, 95%% CI %.1f–%.1f)", 100 * p.value, p.successes, p.total, 100 * p.lower95, 100 * p.upper95)
  }

  public static func describe(_ m: PoisonManifest) -> String {
    var s = "attack \(m.attack)"
    if let t = m.trigger { s += " (trigger: \(t))" }
    s += String(format: ", rate %.3g", m.rate) + " (\(m.poisonedRows.count) of \(m.trainRows) training rows"
    if let src = m.sourceTrainRows { s += ", subset of \(src)" }
    s += "), target \(m.target), \(m.setting.rawValue)-label, seed \(m.seed)"
    if let d = m.dataset { s += ", dataset \(d)" }
    return s
  }

  public static func confusionTable(_ c: [[Int]]) -> String {
    guard !c.isEmpty else { return "" }
    var s = "| gold \\ predicted | " + c.indices.map(String.init).joined(separator: " | ") + " |\n"
    s += "|---|" + String(repeating: "---|", count: c.count) + "\n"
    for (g, row) in c.enumerated() { s += "| \(g) | " + row.map(String.init).joined(separator: " | ") + " |\n" }
    return s
  }

  /// Macro-F1, balanced accuracy, per-class recall and the majority rate as table rows.
  static func balanceRows(_ m: ClassificationMetrics, suffix: String) -> String {
    let b = m.balance
    func pc(_ v: Double?) -> String { v.map { String(format: "%.1f", 100 * $0) } ?? "–" }
    var s = "| macro-F1\(suffix) | \(pc(b.macroF1)) |\n"
    s += "| balanced accuracy\(suffix) | \(pc(b.balancedAccuracy)) |\n"
    s += "| recall per label\(suffix) | " + b.perClassRecall.enumerated().map { "\($0.offset): \(pc($0.element))" }.joined(separator: ", ") + " |\n"
    if suffix.isEmpty { s += "| majority-class rate (CA of a constant classifier) | \(pc(b.majorityRate)) |\n" }
    return s
  }

  /// The warning a degenerate classifier gets wherever its numbers are shown.
  public static func degenerateWarning(_ m: ClassificationMetrics) -> String? {
    guard m.degenerate, let d = m.balance.dominantLabel else { return nil }
    return String(format: "Degenerate classifier: %.0f%% of the clean predictions are label %d, which holds %.0f%% of the gold rows. "
                  + "Its CA is near the majority rate and its ASR is 0%% or 100%% by construction: this is not a defense.",
                  100 * m.balance.predictedShares[d], d, 100 * Double(m.confusion[d].reduce(0, +)) / Double(max(1, m.cleanAccuracy.total)))
  }

  /// "label 0 (0% of clean predictions, 23% of gold rows)", for the labels a classifier (nearly)
  /// never answers (`ClassBalance.droppedLabels`); nil when it answers every label.
  public static func droppedLabelsText(_ m: ClassificationMetrics) -> String? {
    let b = m.balance
    guard !b.droppedLabels.isEmpty else { return nil }
    return b.droppedLabels.map { String(format: "label %d (%.0f%% of clean predictions, %.0f%% of gold rows)", $0,
                                        100 * b.predictedShares[$0], 100 * b.goldShares[$0]) }.joined(separator: ", ")
  }

  /// The warning a classifier that drops a label gets wherever its numbers are shown.
  public static func droppedLabelsWarning(_ m: ClassificationMetrics) -> String? {
    guard let text = droppedLabelsText(m) else { return nil }
    return "The classifier (nearly) never answers \(text): its ASR is low by construction when that label is the target, "
      + "and its CA hides the loss; read macro-F1 and the recall per label."
  }

  public static func markdown(_ r: ClassificationResult, title: String) -> String {
    var s = "# \(title)\n\n"
    s += "- Poisoning: \(describe(r.poisoning))\n"
    s += "- Classifier: \(r.classifier == .p2p ? "P2P-defended, evaluated through the P2P wrapper" : "undefended (plain prompt-based)")\n"
    if let cfg = r.p2pConfig {
      s += "- P2P: mode \(cfg.mode.rawValue), rho \(cfg.ratio), benign trigger \"\(cfg.benignTrigger)\", labels \(cfg.labelWords.joined(separator: ",")) -> safe \(cfg.safeLabelWords.joined(separator: ",")), \(cfg.unrestricted ? "unrestricted (whole-vocabulary) argmax" : "restricted to the safe label words")\n"
    }
    if let b = r.baseline {
      s += "- Baseline defense: \(b.defense.name), " + (b.threshold.map { "threshold \(String(format: "%.4g", $0)) (\(b.thresholdSource))" } ?? b.thresholdSource)
      s += b.defense.kind.isDetector ? "; rejected inputs count as wrong on the clean set and as not attacked on the triggered set\n" : "\n"
    }
    if let warning = degenerateWarning(r.metrics) ?? droppedLabelsWarning(r.metrics) { s += "\n**\(warning)**\n" }
    s += "\n| metric | value |\n|---|---|\n"
    s += "| CA (clean test) | \(percent(r.metrics.cleanAccuracy)) |\n"
    s += balanceRows(r.metrics, suffix: "")
    if let asr = r.metrics.attackSuccessRate {
      s += "| ASR (triggered non-target rows) | \(percent(asr))\(r.metrics.degenerate ? " — constant classifier, not a defense" : "") |\n"
    }
    if let b = r.baseline {
      if let f = b.falseRejection { s += "| FRR (clean test rows rejected) | \(percent(f)) |\n" }
      if let f = b.falseAcceptance { s += "| FAR (triggered rows let through) | \(percent(f)) |\n" }
      if let c = b.removedWordsClean, let t = b.removedWordsTriggered {
        s += String(format: "| words removed per input, clean / triggered | %.2f / %.2f |\n", c, t)
      }
    }
    if let d = r.p2p {
      s += "| ASR, 2n-way argmax: safe target only (official code's count) | \(percent(d.asrExtendedTargetOnly)) |\n"
      s += "| ASR, 2n-way argmax: original or safe target | \(percent(d.asrOriginalOrExtended)) |\n"
      s += "| CA without the wrapper (ablation) | \(percent(d.withoutWrapper.cleanAccuracy)) |\n"
      s += balanceRows(d.withoutWrapper, suffix: " without the wrapper")
      if let a = d.withoutWrapper.attackSuccessRate { s += "| ASR without the wrapper (ablation) | \(percent(a)) |\n" }
      if let u = d.unrestricted {
        s += "| CA, unrestricted argmax | \(percent(u.cleanAccuracy)) (\(d.unrestrictedInvalid ?? 0) clean rows predicted no label word) |\n"
      }
    }
    s += "\nConfusion table on the clean test set (deployed predictions):\n\n" + confusionTable(r.metrics.confusion)
    s += String(format: "\n%.1f s, %.1f sentences/s scored.\n", r.seconds, r.sentencesPerSecond)
    return s
  }
}
