import FileIO
import Defense
import Evaluation
import Foundation

/// The report of an experiment grid: a Markdown table, an SVG chart of CA against ASR per attack
/// (undefended vs P2P) and an HTML page holding both.
public enum GridReport {
  /// One line per defended cell with its verdict, and a warning per degenerate undefended cell.
  public static func verdictLines(_ grid: GridResults) -> [String] {
    grid.cells.compactMap { r in
      if let v = r.verdict {
        return "verdict \(r.key): \(v.summary)" + (r.retry.map { "; \($0.summary)" } ?? "")
          + (r.safeSpaceCheck?.warning.map { "; safe-space check: \($0)" } ?? "")
      }
      return r.evaluation.metrics.degenerate ? "warning \(r.key): degenerate classifier" : nil
    }
  }

  /// A fraction as a percentage with one decimal, "–" when not finite.
  public static func percentText(_ v: Double) -> String { v.isFinite ? String(format: "%.1f", 100 * v) : "–" }

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
    if let twin = r.modelOf { return "model of \(twin)" }
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
    // A baseline cell that adopted an undefended cell's model did not train.
    let training = results.reduce(0) { $0 + ($1.modelOf == nil ? $1.trainingSeconds : 0) }, evaluation = results.reduce(0) { $0 + $1.evaluation.seconds }
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

  public static func markdown(_ results: [CellResult], title: String) -> String { markdown(GridResults(results), title: title) }

  /// "75.8" or "73.5 ⚠ degenerate (label 0: 100%)".
  static func caText(_ m: ClassificationMetrics, ci: Bool = true) -> String {
    let base = ci ? pctCI(m.cleanAccuracy) : pct(m.cleanAccuracy)
    guard m.degenerate, let d = m.balance.dominantLabel else {
      return ReportWriter.droppedLabelsText(m).map { base + " ⚠ drops " + $0 } ?? base
    }
    return base + String(format: " ⚠ degenerate (label %d: %.0f%%)", d, 100 * m.balance.predictedShares[d])
  }

  /// ASR, marked when the classifier is degenerate (its ASR is 0% or 100% by construction).
  static func asrText(_ m: ClassificationMetrics, target: Int? = nil, ci: Bool = true) -> String {
    let base = ci ? pctCI(m.attackSuccessRate) : pct(m.attackSuccessRate)
    if m.degenerate { return base + " (constant classifier: not a defense)" }
    // A target the classifier never answers makes any ASR low by construction.
    if let t = target, m.balance.droppedLabels.contains(t) { return base + " (target label dropped: not a defense)" }
    return base
  }

  static func f1(_ v: Double?) -> String { v.map { $0.isFinite ? String(format: "%.1f", 100 * $0) : "–" } ?? "–" }

  static func spread(_ s: SeedAggregate.Spread?) -> String {
    guard let s, s.mean.isFinite else { return "–" }
    return String(format: "%.1f (%.1f–%.1f)", 100 * s.mean, 100 * s.min, 100 * s.max)
  }

  public static let verdictRule = "Verdict (defended cells): *defended* when the ASR through the wrapper is at most max(10%, the cell's "
    + "clean -> target rate + 5 points), its macro-F1 is within 2 points of the undefended cell with the same data, seed and training, "
    + "and its classifier is not degenerate (at least 90% of clean predictions in one label that holds less than 75% of the gold rows) "
    + "and drops no label (a label with at least 10% of the gold rows in under a quarter of that share of the predictions); "
    + "otherwise *not defended*, with the failing conditions; *unverified* without an undefended cell to compare."

  public static func markdown(_ g: GridResults, title: String) -> String {
    let results = g.cells
    var s = "# \(title)\n\n"
    s += "CA: accuracy on the clean test rows, beside macro-F1 and the majority-class rate (the CA of a constant classifier); "
    s += "ASR: triggered non-target test rows predicted as the target (counts and Wilson 95% CI). "
    s += "P2P rows are evaluated through the P2P wrapper as deployed; \"no wrapper\" is the ablation with the plain prompt; "
    s += "\"ext. only\" and \"orig. or ext.\" count the target under an argmax over all 2n label words; "
    s += "\"clean -> target\" is the share of clean non-target test rows predicted as the target, the ASR a trigger with no effect would show.\n\n"
    s += verdictRule + "\n\n"
    if !g.aggregates.isEmpty {
      s += "Over seeds (mean, min–max; pooled: all seeds' counts with a Wilson 95% CI):\n\n"
      s += "| dataset | attack | defense | seeds | CA % | macro-F1 % | ASR % | pooled ASR % | degenerate | verdicts |\n"
      s += "|---|---|---|---|---|---|---|---|---:|---|\n"
      for a in g.aggregates {
        let v = a.verdicts.map { $0.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") } ?? "–"
        s += "| \(a.dataset) | \(a.attack) | \(a.defense) | \(a.seeds.map(String.init).joined(separator: ", ")) | \(spread(a.cleanAccuracy)) | "
        s += "\(spread(a.macroF1)) | \(spread(a.attackSuccessRate)) | \(pctCI(a.pooledAttackSuccessRate)) | \(a.degenerateSeeds) | \(v) |\n"
      }
      s += "\nPer seed:\n\n"
    }
    s += "| dataset | attack | defense | seed | train rows | CA % | macro-F1 % | majority % | ASR % | clean -> target % | verdict | ASR no wrapper % | CA no wrapper % | macro-F1 no wrapper % | ASR ext. only % | ASR orig. or ext. % | train s | eval s |\n"
    s += "|---|---|---|---:|---:|---|---:|---:|---|---:|---|---|---:|---:|---:|---:|---:|---:|\n"
    for r in results {
      let e = r.evaluation, m = e.metrics
      s += "| \(r.dataset) | \(r.attack) | \(r.defense) | \(r.seed) | \(r.trainRows) | \(caText(m)) | \(f1(m.macroF1)) | \(f1(m.balance.majorityRate)) | "
      s += "\(asrText(m, target: e.poisoning.target)) | \(pct(cleanTargetRate(e))) | \(r.verdict?.summary ?? "–") | "
      s += "\(e.p2p.map { asrText($0.withoutWrapper) } ?? "–") | \(e.p2p.map { caText($0.withoutWrapper, ci: false) } ?? "–") | "
      s += "\(f1(e.p2p?.withoutWrapper.macroF1)) | \(pct(e.p2p?.asrExtendedTargetOnly)) | \(pct(e.p2p?.asrOriginalOrExtended)) | \(trainingTime(r)) | "
      s += String(format: "%.0f |\n", e.seconds)
    }
    s += "\n" + runTime(results)
    s += labelShareTable(g)
    s += baselineTable(results)
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
        if p.spectralScreen == true {
          s += " (relative spectral screen: a label whose share of the training rows is 5 points and 2 standard errors above its"
            + " reference share is judged poisoned; the base model's sentence states give, per label, the direction of most variance"
            + " relative to the other labels; the half of a judged label towards the trigger's end (the end whose extreme rows lie twice"
            + " as far from the label's median, else the one a classifier fitted without them reclassifies more) kept out of the benign"
            + " candidates and its most extreme rows, no more than the label's rows above its reference share, put into the safe space"
            + " with another label)"
          if let shares = r.labelShares, let ref = r.referenceShares {
            s += ", label shares " + GridReport.percents(shares) + " against " + GridReport.percents(ref) + " (reference: \(r.referenceSource ?? "not recorded"))"
          }
        }
        if p.selection == .stratified {
          s += " (benign rows per label: rho of each label's candidate rows, a judged label's farthest from the trigger's end first)"
        }
        if let b = r.benignPoisonedRows { s += ", \(b) benign rows carry the attack trigger" }
        if let f = r.probeFlaggedRows, let n = r.flippedRows {
          s += ", \(f) rows flagged by the \(p.spectralScreen == true ? "spectral" : "probe") screen, \(n) flipped into the safe space (\(r.flippedPoisonedRows ?? 0) of them poisoned)"
          if let u = r.unconfirmedFlips {
            s += ", \(u) flagged rows passed over (a classifier reading their text gives them their own label)"
          }
        }
        if let c = r.coveredRows, let phrases = r.coverPhrases {
          s += ", \(c) benign rows covered with \(phrases.map { "\"\($0)\"" }.joined(separator: ", "))"
        }
      }
      if let b = r.evaluation.baseline { s += "; " + baselineText(b) }
      if let c = r.safeSpaceCheck {
        s += "; safe-space check (no test answer used): \(c.summary)" + (c.droppedLabels.isEmpty ? "" : ", **drops \(c.droppedLabels.map { "label \($0)" }.joined(separator: ", "))**")
          + (c.losesTheTask ? ", **the wrapper is more than \(Int(SafeSpaceCheck.maxMacroF1Loss)) points of dev macro-F1 under the plain prompt**" : "")
      }
      if let t = r.retry {
        s += "; **\(t.summary)**; the first try's check: \(t.firstCheck.summary)"
        if t.retryError == nil {
          s += "; the " + (t.kept == .retry ? "first" : "second") + String(format: " try measured CA %@%%, macro-F1 %@%%, ASR %@%%",
                                                                        percentText(t.otherAccuracy ?? .nan), percentText(t.otherMacroF1 ?? .nan),
                                                                        percentText(t.otherASR ?? .nan))
        }
      }
      if let sel = r.selection {
        s += "; best dev epoch \(sel.chosenEpoch) of \(sel.epochs.count) (macro-F1 on \(sel.devRows) \(sel.devSource) rows: "
          + sel.epochs.map { String(format: "%.1f", 100 * $0.devMacroF1) }.joined(separator: ", ") + ")"
      }
      let t = r.training
      s += String(format: "; LoRA r=%d alpha=%g dropout %g on %@, %d epochs, batch %d, lr %.1e, final loss %.4f\n", t.lora.rank,
                  t.lora.alpha, t.lora.dropout, t.lora.targets.map(\.rawValue).joined(separator: ","), t.epochs, t.batchSize,
                  t.learningRate, r.finalLoss)
    }
    return s
  }

  /// The defended cells whose training set was re-drawn with other label shares (`AttackConfig.labelShares`)
  /// while the test set kept the file's: each row's macro-F1 and its twin's on the test as drawn and
  /// reweighted to the training shares (`ClassBalance.macroF1(confusion:reweightedTo:)`). The
  /// verdict stays on the test as drawn; the reweighted pair says how much of a gap comes from the
  /// test's label shares (an undefended model trained on poison-inflated target rows predicts the
  /// target more often, which a balanced test rewards). Rows as the markdown table's cells.
  static func labelShareRows(_ g: GridResults) -> [[String]] {
    var rows: [[String]] = []
    for r in g.cells where r.p2p != nil || r.baseline != nil {
      guard let shares = r.attackConfig.labelShares,
            let twin = Verdict.twin(of: r, in: g.cells) ?? Verdict.referenceTwin(of: r, in: g.references ?? [])?.cell else { continue }
      func at(_ c: CellResult) -> Double? {
        let m = c.evaluation.metrics
        return ClassBalance.macroF1(confusion: m.confusion, invalid: m.invalidPredictions ?? [], rejected: m.rejectedPredictions ?? [], reweightedTo: shares)
      }
      guard let mine = at(r), let theirs = at(twin) else { continue }
      let m = r.evaluation.metrics.macroF1, t = twin.evaluation.metrics.macroF1
      rows.append([r.dataset, r.attack, r.defense, "\(r.seed)", percents(shares), f1(m), f1(t), String(format: "%+.1f", 100 * (m - t)),
                   f1(mine), f1(theirs), String(format: "%+.1f", 100 * (mine - theirs))])
    }
    return rows
  }

  static let labelShareCaption = "Macro-F1 at the training set's label shares: these training sets were re-drawn with other label"
    + " shares and the test set kept the file's; the test rows reweighted to the training shares (recalls unchanged, precisions"
    + " moved) show how much of a macro-F1 gap comes from the test's label shares. The verdicts stay on the test as drawn."
  static let labelShareHeader = ["dataset", "attack", "defense", "seed", "training shares", "macro-F1 % (test as drawn)", "undefended",
                                 "difference", "macro-F1 % at the training shares", "undefended", "difference"]

  static func labelShareTable(_ g: GridResults) -> String {
    let rows = labelShareRows(g)
    guard !rows.isEmpty else { return "" }
    return "\n\(labelShareCaption)\n\n| " + labelShareHeader.joined(separator: " | ") + " |\n|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|\n"
      + rows.map { "| " + $0.joined(separator: " | ") + " |\n" }.joined()
  }

  static func labelShareHTML(_ g: GridResults) -> String {
    let rows = labelShareRows(g)
    guard !rows.isEmpty else { return "" }
    return "<h2>Macro-F1 at the training set's label shares</h2><p>\(escape(labelShareCaption))</p><table><tr>"
      + labelShareHeader.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n"
      + rows.map { "<tr>" + $0.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n" }.joined() + "</table>"
  }

  /// The baseline defenses' own numbers: threshold, a detector's FRR and FAR (clean test rows
  /// rejected, triggered rows let through), ONION's removed words. Empty without baseline cells.
  static func baselineTable(_ results: [CellResult]) -> String {
    let rows = baselineRows(results)
    guard !rows.isEmpty else { return "" }
    var s = "\n" + baselineCaption + ":\n\n| " + baselineHeader.joined(separator: " | ") + " |\n"
    s += "|---|---|---|---:|---:|---|---|---|---|\n"
    for r in rows { s += "| " + r.joined(separator: " | ") + " |\n" }
    return s
  }

  static let baselineCaption = "Baseline defenses (on the undefended model; a rejected clean row counts as wrong, a rejected triggered row as not attacked)"
  static let baselineHeader = ["dataset", "attack", "defense", "seed", "threshold", "FRR % (clean test rejected)", "FAR % (triggered let through)",
                               "words removed, clean / triggered", "training rows removed: found, rows, precision %, recall %"]

  /// One row of the baseline table per baseline cell (empty without any).
  static func baselineRows(_ results: [CellResult]) -> [[String]] {
    results.compactMap { r -> [String]? in
      guard let b = r.evaluation.baseline else { return nil }
      let removed = b.removedWordsClean.map { String(format: "%.2f / %.2f", $0, b.removedWordsTriggered ?? .nan) } ?? "–"
      let filter = b.filter.map { f in
        "\(f.found.joined(separator: " ")): \(f.removedRows) of \(f.trainRows), \(pct(f.precision)), \(pct(f.recall)) (\(f.recall.successes) of \(f.poisonedRows) poisoned)"
      } ?? "–"
      // A threshold chosen on the clean test rows it is then scored on is marked.
      let onTest = b.devRows > 0 && b.devSource == BaselineEvaluation.testSplitSource ? " (chosen on clean test rows)" : ""
      return [r.dataset, r.attack, r.defense, "\(r.seed)", (b.threshold.map { String(format: "%.3g", $0) } ?? "–") + onTest, pctCI(b.falseRejection),
              pctCI(b.falseAcceptance), removed, filter]
    }
  }

  /// A baseline's settings and threshold in words, for the settings list.
  static func baselineText(_ b: BaselineRecord) -> String {
    switch b.defense.kind {
    case .onion:
      return String(format: "ONION (words whose removal lowers the base model's perplexity by at least %.3g removed; threshold %@)",
                    b.threshold ?? .nan, b.thresholdSource)
    case .strip:
      let c = b.defense.strip ?? Strip.Config()
      return String(format: "STRIP (%d perturbed copies, %.0f%% of the words replaced by high tf-idf words of a dev row; rejected below "
                    + "entropy %.3g bits, the %@)", c.repeats, 100 * c.swapRatio, b.threshold ?? .nan, b.thresholdSource)
    case .quantize:
      return "quantization (" + b.thresholdSource + ")"
    case .bki:
      return "BKI (" + b.thresholdSource + ")"
    case .finetune:
      return "clean fine-tuning (" + b.thresholdSource + ")"
    case .prune:
      return "pruning (" + b.thresholdSource + ")"
    case .cleangen:
      return "CleanGen (" + b.thresholdSource + ")"
    case .rap:
      return String(format: "RAP (rejected when predicted as the target and the drop is below %.3g: the %@)", b.threshold ?? .nan, b.thresholdSource)
    case .cube:
      let c = b.defense.cube ?? CUBE.Config()
      return "CUBE (answer states, PCA to \(c.components), HDBSCAN with min_samples \(c.minSamples) configured; " + b.thresholdSource + ")"
    }
  }

  /// Shares as percentages, "35.4/64.6%".
  public static func percents(_ shares: [Double]) -> String {
    shares.map { String(format: "%.1f", 100 * $0) }.joined(separator: "/") + "%"
  }

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
      .replacingOccurrences(of: "\"", with: "&quot;")
  }

  /// CA (y) against ASR (x), one colour per attack; circles undefended, squares P2P, an arrow
  /// from each undefended cell to the P2P cell of the same dataset, attack and seed.
  public static func svg(_ results: [CellResult]) -> String { svg(GridResults(results)) }

  /// With seed aggregates, each (dataset, attack, defense) is drawn at its mean with bars over the
  /// min–max of ASR and CA, and the single seeds as small faint marks.
  public static func svg(_ g: GridResults) -> String {
    let results = g.cells
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
    s += "<text x=\"\(left)\" y=\"18\" font-weight=\"bold\">CA vs ASR per attack: undefended (circle) and defended (square)</text>\n"
    for r in results where r.defense == "none" && g.aggregates.isEmpty {
      guard let asr = r.evaluation.metrics.attackSuccessRate?.value, asr.isFinite else { continue }
      for d in results where d.defense != "none" && d.dataset == r.dataset && d.attack == r.attack && d.seed == r.seed {
        guard let dasr = d.evaluation.metrics.attackSuccessRate?.value, dasr.isFinite else { continue }
        s += "<line x1=\"\(x(100 * asr))\" y1=\"\(y(100 * r.evaluation.metrics.cleanAccuracy.value))\" x2=\"\(x(100 * dasr))\" "
        s += "y2=\"\(y(100 * d.evaluation.metrics.cleanAccuracy.value))\" stroke=\"#555\" stroke-dasharray=\"4 3\" marker-end=\"url(#arrow)\"/>\n"
      }
    }
    for a in g.aggregates {
      guard let asr = a.attackSuccessRate, asr.mean.isFinite else { continue }
      let colour = palette[(attacks.firstIndex(of: a.attack) ?? 0) % palette.count]
      let px = x(100 * asr.mean), py = y(100 * a.cleanAccuracy.mean)
      let tip = escape("\(a.dataset) \(a.attack) \(a.defense), \(a.seeds.count) seeds: CA \(spread(a.cleanAccuracy))%, "
        + "macro-F1 \(spread(a.macroF1))%, ASR \(spread(asr))%")
      s += "<line x1=\"\(x(100 * asr.min))\" y1=\"\(py)\" x2=\"\(x(100 * asr.max))\" y2=\"\(py)\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
      s += "<line x1=\"\(px)\" y1=\"\(y(100 * a.cleanAccuracy.min))\" x2=\"\(px)\" y2=\"\(y(100 * a.cleanAccuracy.max))\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
      if a.defense == "none" {
        s += "<circle cx=\"\(px)\" cy=\"\(py)\" r=\"7\" fill=\"\(colour)\"><title>\(tip)</title></circle>\n"
      } else {
        s += "<rect x=\"\(px - 7)\" y=\"\(py - 7)\" width=\"14\" height=\"14\" fill=\"white\" stroke=\"\(colour)\" stroke-width=\"3\"><title>\(tip)</title></rect>\n"
      }
    }
    func aggregated(_ r: CellResult) -> Bool {
      g.aggregates.contains { $0.dataset == r.dataset && $0.attack == r.attack && $0.defense == SeedAggregate.group(of: r) }
    }
    for r in results {
      let faint = aggregated(r)
      guard let asr = r.evaluation.metrics.attackSuccessRate?.value, asr.isFinite else { continue }
      let ca = r.evaluation.metrics.cleanAccuracy.value
      let colour = palette[(attacks.firstIndex(of: r.attack) ?? 0) % palette.count]
      let px = x(100 * asr), py = y(100 * ca)
      if faint {
        s += "<circle cx=\"\(px)\" cy=\"\(py)\" r=\"2.5\" fill=\"\(colour)\" opacity=\"0.45\"/>\n"
        continue
      }
      let m = r.evaluation.metrics
      let tip = escape("\(r.dataset) \(r.attack) \(r.defense) seed \(r.seed): CA \(pct(m.cleanAccuracy))%, macro-F1 \(f1(m.macroF1))%, "
        + "ASR \(pct(m.attackSuccessRate))%" + (m.degenerate ? " (degenerate classifier)" : "") + (r.verdict.map { "; \($0.summary)" } ?? ""))
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

  public static func html(_ results: [CellResult], title: String) -> String { html(GridResults(results), title: title) }

  public static func html(_ g: GridResults, title: String) -> String {
    let results = g.cells
    func warn(_ text: String, _ bad: Bool) -> String { bad ? "<span class=\"bad\">\(escape(text))</span>" : escape(text) }
    var aggregates = ""
    if !g.aggregates.isEmpty {
      aggregates = "<h2>Over seeds</h2><table><tr><th>dataset</th><th>attack</th><th>defense</th><th>seeds</th><th>CA % (min–max)</th>"
        + "<th>macro-F1 %</th><th>ASR %</th><th>pooled ASR %</th><th>degenerate</th><th>verdicts</th></tr>\n"
      for a in g.aggregates {
        let v = a.verdicts.map { $0.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") } ?? "–"
        aggregates += "<tr><td>\(escape(a.dataset))</td><td>\(escape(a.attack))</td><td>\(escape(a.defense))</td>"
          + "<td>\(a.seeds.map(String.init).joined(separator: ", "))</td><td>\(spread(a.cleanAccuracy))</td><td>\(spread(a.macroF1))</td>"
          + "<td>\(spread(a.attackSuccessRate))</td><td>\(pctCI(a.pooledAttackSuccessRate))</td>"
          + "<td>\(warn("\(a.degenerateSeeds)", a.degenerateSeeds > 0))</td><td>\(escape(v))</td></tr>\n"
      }
      aggregates += "</table><h2>Per seed</h2>"
    }
    var rows = ""
    for r in results {
      let e = r.evaluation, m = e.metrics
      rows += "<tr><td>\(escape(r.dataset))</td><td>\(escape(r.attack))</td><td>\(escape(r.defense))</td><td>\(r.seed)</td><td>\(r.trainRows)</td>"
      rows += "<td>\(warn(caText(m), m.degenerate || !m.balance.droppedLabels.isEmpty))</td><td>\(f1(m.macroF1))</td><td>\(f1(m.balance.majorityRate))</td>"
      rows += "<td>\(warn(asrText(m, target: e.poisoning.target), m.degenerate || m.balance.droppedLabels.contains(e.poisoning.target)))</td><td>\(pct(cleanTargetRate(e)))</td>"
      rows += "<td>\(warn(r.verdict?.summary ?? "–", r.verdict.map { $0.outcome != .defended } ?? false))</td>"
      rows += "<td>\(e.p2p.map { warn(asrText($0.withoutWrapper), $0.withoutWrapper.degenerate) } ?? "–")</td><td>\(f1(e.p2p?.withoutWrapper.macroF1))</td>"
      rows += "<td>\(pct(e.p2p?.asrExtendedTargetOnly))</td>"
      rows += "<td>\(pct(e.p2p?.asrOriginalOrExtended))</td><td>\(escape(trainingTime(r)))</td><td>\(String(format: "%.0f", e.seconds))</td></tr>\n"
    }
    return """
      <!doctype html>
      <html><head><meta charset="utf-8"><title>\(escape(title))</title>
      <style>body{font-family:sans-serif;max-width:1300px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f4f4f4}.bad{color:#c00;font-weight:bold}</style>
      </head><body>
      <h1>\(escape(title))</h1>
      <p>CA: accuracy on the clean test rows, beside macro-F1 and the majority-class rate. ASR: triggered non-target test rows predicted as the target (percent, counts, Wilson 95% interval). P2P cells are evaluated through the P2P wrapper, as deployed; "no wrapper" is the ablation with the plain prompt. Degenerate classifiers and failed verdicts are in red.</p>
      <p>\(escape(verdictRule))</p>
      \(svg(g))
      \(aggregates)
      <table><tr><th>dataset</th><th>attack</th><th>defense</th><th>seed</th><th>train rows</th><th>CA %</th><th>macro-F1 %</th><th>majority %</th><th>ASR %</th><th>clean -> target %</th><th>verdict</th><th>ASR no wrapper %</th><th>macro-F1 no wrapper %</th><th>ASR ext. only %</th><th>ASR orig. or ext. %</th><th>train s</th><th>eval s</th></tr>
      \(rows)</table>
      <p>\(escape(runTime(results)))</p>
      \(labelShareHTML(g))
      \(baselineHTML(results))
      </body></html>

      """
  }

  /// The baseline table as HTML (empty without baseline cells).
  static func baselineHTML(_ results: [CellResult]) -> String {
    let rows = baselineRows(results)
    guard !rows.isEmpty else { return "" }
    return "<h2>Baseline defenses</h2><p>\(escape(baselineCaption)).</p><table><tr>" + baselineHeader.map { "<th>\(escape($0))</th>" }.joined()
      + "</tr>\n" + rows.map { "<tr>" + $0.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n" }.joined() + "</table>"
  }

  /// Writes `results.json` (cells with verdicts, seed aggregates), `report.md`, `chart.svg` and
  /// `report.html` into `directory`.
  public static func write(_ g: GridResults, title: String, to directory: String) throws {
    try JSONOutput.write(g, to: directory + "/results.json")
    try JSONOutput.write(text: markdown(g, title: title), to: directory + "/report.md")
    try JSONOutput.write(text: svg(g), to: directory + "/chart.svg")
    try JSONOutput.write(text: html(g, title: title), to: directory + "/report.html")
  }
}
