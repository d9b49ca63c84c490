import Evaluation
import Foundation

/// The report of an experiment grid: a Markdown table, an SVG chart of CA against ASR per attack
/// (undefended vs P2P) and an HTML page holding both.
public enum GridReport {
  static func pct(_ p: Proportion?) -> String {
    guard let p, p.total > 0 else { return "–" }
    return String(format: "%.1f", 100 * p.value)
  }

  static func pctCI(_ p: Proportion?) -> String {
    guard let p, p.total > 0 else { return "–" }
    return String(format: "%.1f (%d/%d; %.1f–%.1f)", 100 * p.value, p.successes, p.total, 100 * p.lower95, 100 * p.upper95)
  }

  /// Clean non-target test rows predicted as the target: the rate the triggered copies of the same
  /// rows would show if the trigger did nothing (the floor of ASR for this model); nil without
  /// non-target rows.
  public static func cleanTargetRate(_ e: ClassificationResult) -> Proportion? {
    let t = e.poisoning.target, c = e.metrics.confusion
    guard t >= 0 && t < c.count else { return nil }
    let rows = c.indices.filter { $0 != t }
    let total = rows.reduce(0) { $0 + c[$1].reduce(0, +) }
    guard total > 0 else { return nil }
    return Proportion(successes: rows.reduce(0) { $0 + c[$1][t] }, total: total)
  }

  /// A cell's training seconds, marked where they do not cover every step: "from step N" after a
  /// resume from a checkpoint of an older build, "†" for a result of an older build (the last
  /// run's time only).
  static func trainingTime(_ r: CellResult) -> String {
    let t = String(format: "%.0f", r.trainingSeconds)
    switch r.trainingTimedFromStep {
    case nil: return t + "†"
    case 0?: return t
    case let n?: return t + " (from step \(n))"
    }
  }

  /// The grid's run time: training, evaluation and probe screens summed over the cells, with
  /// what the sum leaves out. A probe trained inside its p2p-probe cell (no finished undefended
  /// cell to adopt) is not counted; an adopted one is its undefended cell's training.
  public static func runTime(_ results: [CellResult]) -> String {
    guard !results.isEmpty else { return "" }
    let training = results.reduce(0) { $0 + $1.trainingSeconds }, evaluation = results.reduce(0) { $0 + $1.evaluation.seconds }
    let screening = results.reduce(0) { $0 + ($1.screeningSeconds ?? 0) }
    var s = String(format: "Run time of these %d cells: training %.0f s, evaluation %.0f s", results.count, training, evaluation)
    if screening > 0 { s += String(format: ", probe screens %.0f s", screening) }
    s += String(format: "; %.2f h in all.", (training + evaluation + screening) / 3600)
    let partial = results.filter { $0.trainingTimedFromStep != 0 }
    if !partial.isEmpty {
      s += " Training time not counted for every step in \(partial.count) cell(s) (\(partial.map(\.key).joined(separator: ", "))): "
        + "\"from step N\" is a training resumed from a checkpoint without a recorded time, † a result of an older build "
        + "(its last run only)."
    }
    if results.contains(where: { $0.p2p?.probeScreen == true && $0.screeningSeconds == nil }) {
      s += " Probe screens of older builds have no recorded time."
    }
    return s + "\n"
  }

  public static func markdown(_ results: [CellResult], title: String) -> String {
    var s = "# \(title)\n\n"
    s += "CA: accuracy on the clean test rows; ASR: triggered non-target test rows predicted as the target (counts and Wilson 95% CI). "
    s += "P2P rows are evaluated through the P2P wrapper as deployed; \"no wrapper\" is the ablation with the plain prompt; "
    s += "\"ext. only\" and \"orig. or ext.\" count the target under an argmax over all 2n label words; "
    s += "\"clean -> target\" is the share of clean non-target test rows predicted as the target, the ASR a trigger with no effect would show.\n\n"
    s += "| dataset | attack | defense | train rows | CA % | ASR % | clean -> target % | ASR no wrapper % | CA no wrapper % | ASR ext. only % | ASR orig. or ext. % | train s | eval s |\n"
    s += "|---|---|---|---:|---|---|---:|---|---:|---:|---:|---:|---:|\n"
    for r in results {
      let e = r.evaluation
      s += "| \(r.dataset) | \(r.attack) | \(r.defense) | \(r.trainRows) | \(pctCI(e.metrics.cleanAccuracy)) | \(pctCI(e.metrics.attackSuccessRate)) | "
      s += "\(pct(cleanTargetRate(e))) | \(pctCI(e.p2p?.withoutWrapper.attackSuccessRate)) | \(pct(e.p2p?.withoutWrapper.cleanAccuracy)) | "
      s += "\(pct(e.p2p?.asrExtendedTargetOnly)) | \(pct(e.p2p?.asrOriginalOrExtended)) | \(trainingTime(r)) | "
      s += String(format: "%.0f |\n", e.seconds)
    }
    s += "\n" + runTime(results)
    s += "\nSettings of each cell:\n\n"
    for r in results {
      s += "- `\(r.key)`: \(ReportWriter.describe(r.evaluation.poisoning))"
      if let p = r.p2p {
        s += "; P2P \(p.mode.rawValue), rho \(p.ratio), trigger \"\(p.benignTrigger)\""
        if p.excludePoisonedFromBenign == true { s += " (oracle: benign rows drawn from known-clean rows)" }
        if p.selectsByAgreement { s += " (benign rows: per label, the largest zero-shot label agreement of the base model)" }
        if p.screenTriggers == true { s += " (benign candidates screened for label-pure frequent words)" }
        if p.coverTriggers == true { s += " (recovered trigger phrases inserted into half the benign rows, labels kept)" }
        if p.probeScreen == true {
          s += " (probe screen: a probe fine-tuned on the training set, its hidden states clustered per label; the flagged rows"
            + " kept out of the benign candidates and the most atypical put into the safe space with the probe's next label)"
        }
        if let b = r.benignPoisonedRows { s += ", \(b) benign rows carry the attack trigger" }
        if let f = r.probeFlaggedRows, let n = r.flippedRows {
          s += ", \(f) rows flagged by the probe screen, \(n) flipped into the safe space (\(r.flippedPoisonedRows ?? 0) of them poisoned)"
        }
        if let c = r.coveredRows, let phrases = r.coverPhrases {
          s += ", \(c) benign rows covered with \(phrases.map { "\"\($0)\"" }.joined(separator: ", "))"
        }
      }
      let t = r.training
      s += String(format: "; LoRA r=%d alpha=%g dropout %g on %@, %d epochs, batch %d, lr %.1e, final loss %.4f\n", t.lora.rank,
                  t.lora.alpha, t.lora.dropout, t.lora.targets.map(\.rawValue).joined(separator: ","), t.epochs, t.batchSize,
                  t.learningRate, r.finalLoss)
    }
    return s
  }

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
      .replacingOccurrences(of: "\"", with: "&quot;")
  }

  /// CA (y) against ASR (x), one colour per attack; circles undefended, squares P2P, an arrow
  /// from each undefended cell to the P2P cell of the same dataset, attack and seed.
  public static func svg(_ results: [CellResult]) -> String {
    let w = 640.0, h = 420.0, left = 60.0, right = 170.0, top = 30.0, bottom = 50.0
    let pw = w - left - right, ph = h - top - bottom
    let cas = results.map { 100 * $0.evaluation.metrics.cleanAccuracy.value }.filter(\.isFinite)
    let yMin = max(0, min(50, ((cas.min() ?? 50) - 5) / 10 * 10).rounded(.down)), yMax = 100.0
    func x(_ asr: Double) -> Double { left + asr / 100 * pw }
    func y(_ ca: Double) -> Double { top + (yMax - ca) / (yMax - yMin) * ph }
    let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    var attacks: [String] = []
    for r in results where !attacks.contains(r.attack) { attacks.append(r.attack) }
    var s = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" viewBox="0 0 \(Int(w)) \(Int(h))" font-family="sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>
      <defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>

      """
    for t in stride(from: 0.0, through: 100.0, by: 20.0) {
      s += "<line x1=\"\(x(t))\" y1=\"\(top)\" x2=\"\(x(t))\" y2=\"\(top + ph)\" stroke=\"#eee\"/>"
      s += "<text x=\"\(x(t))\" y=\"\(top + ph + 16)\" text-anchor=\"middle\">\(Int(t))</text>\n"
    }
    for t in stride(from: yMin, through: yMax, by: 10.0) {
      s += "<line x1=\"\(left)\" y1=\"\(y(t))\" x2=\"\(left + pw)\" y2=\"\(y(t))\" stroke=\"#eee\"/>"
      s += "<text x=\"\(left - 6)\" y=\"\(y(t) + 4)\" text-anchor=\"end\">\(Int(t))</text>\n"
    }
    s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>\n"
    s += "<text x=\"\(left + pw / 2)\" y=\"\(h - 12)\" text-anchor=\"middle\">attack success rate (%)</text>\n"
    s += "<text x=\"16\" y=\"\(top + ph / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(top + ph / 2))\">clean accuracy (%)</text>\n"
    s += "<text x=\"\(left)\" y=\"18\" font-weight=\"bold\">CA vs ASR per attack: undefended (circle) and P2P (square)</text>\n"
    for r in results where r.defense == "none" {
      guard let asr = r.evaluation.metrics.attackSuccessRate?.value, asr.isFinite else { continue }
      for d in results where d.defense != "none" && d.dataset == r.dataset && d.attack == r.attack && d.seed == r.seed {
        guard let dasr = d.evaluation.metrics.attackSuccessRate?.value, dasr.isFinite else { continue }
        s += "<line x1=\"\(x(100 * asr))\" y1=\"\(y(100 * r.evaluation.metrics.cleanAccuracy.value))\" x2=\"\(x(100 * dasr))\" "
        s += "y2=\"\(y(100 * d.evaluation.metrics.cleanAccuracy.value))\" stroke=\"#555\" stroke-dasharray=\"4 3\" marker-end=\"url(#arrow)\"/>\n"
      }
    }
    for r in results {
      guard let asr = r.evaluation.metrics.attackSuccessRate?.value, asr.isFinite else { continue }
      let ca = r.evaluation.metrics.cleanAccuracy.value
      let colour = palette[(attacks.firstIndex(of: r.attack) ?? 0) % palette.count]
      let px = x(100 * asr), py = y(100 * ca)
      let tip = escape("\(r.dataset) \(r.attack) \(r.defense) seed \(r.seed): CA \(pct(r.evaluation.metrics.cleanAccuracy))%, ASR \(pct(r.evaluation.metrics.attackSuccessRate))%")
      if r.defense == "none" {
        s += "<circle cx=\"\(px)\" cy=\"\(py)\" r=\"6\" fill=\"\(colour)\"><title>\(tip)</title></circle>\n"
      } else {
        s += "<rect x=\"\(px - 6)\" y=\"\(py - 6)\" width=\"12\" height=\"12\" fill=\"white\" stroke=\"\(colour)\" stroke-width=\"2.5\"><title>\(tip)</title></rect>\n"
      }
    }
    for (i, a) in attacks.enumerated() {
      let ly = top + 10 + Double(i) * 18
      s += "<circle cx=\"\(left + pw + 20)\" cy=\"\(ly)\" r=\"5\" fill=\"\(palette[i % palette.count])\"/>"
      s += "<text x=\"\(left + pw + 32)\" y=\"\(ly + 4)\">\(escape(a))</text>\n"
    }
    let ly = top + 20 + Double(attacks.count) * 18
    s += "<circle cx=\"\(left + pw + 20)\" cy=\"\(ly)\" r=\"5\" fill=\"#777\"/><text x=\"\(left + pw + 32)\" y=\"\(ly + 4)\">undefended</text>\n"
    s += "<rect x=\"\(left + pw + 15)\" y=\"\(ly + 13)\" width=\"10\" height=\"10\" fill=\"white\" stroke=\"#777\" stroke-width=\"2\"/>"
    s += "<text x=\"\(left + pw + 32)\" y=\"\(ly + 22)\">P2P</text>\n</svg>\n"
    return s
  }

  public static func html(_ results: [CellResult], title: String) -> String {
    var rows = ""
    for r in results {
      let e = r.evaluation
      rows += "<tr><td>\(escape(r.dataset))</td><td>\(escape(r.attack))</td><td>\(escape(r.defense))</td><td>\(r.trainRows)</td>"
      rows += "<td>\(pctCI(e.metrics.cleanAccuracy))</td><td>\(pctCI(e.metrics.attackSuccessRate))</td>"
      rows += "<td>\(pctCI(e.p2p?.withoutWrapper.attackSuccessRate))</td><td>\(pct(e.p2p?.asrExtendedTargetOnly))</td>"
      rows += "<td>\(pct(e.p2p?.asrOriginalOrExtended))</td><td>\(escape(trainingTime(r)))</td><td>\(String(format: "%.0f", e.seconds))</td></tr>\n"
    }
    return """
      <!doctype html>
      <html><head><meta charset="utf-8"><title>\(escape(title))</title>
      <style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f4f4f4}</style>
      </head><body>
      <h1>\(escape(title))</h1>
      <p>CA: accuracy on the clean test rows. ASR: triggered non-target test rows predicted as the target (percent, counts, Wilson 95% interval). P2P cells are evaluated through the P2P wrapper, as deployed; "no wrapper" is the ablation with the plain prompt.</p>
      \(svg(results))
      <table><tr><th>dataset</th><th>attack</th><th>defense</th><th>train rows</th><th>CA %</th><th>ASR %</th><th>ASR no wrapper %</th><th>ASR ext. only %</th><th>ASR orig. or ext. %</th><th>train s</th><th>eval s</th></tr>
      \(rows)</table>
      <p>\(escape(runTime(results)))</p>
      </body></html>

      """
  }
}
