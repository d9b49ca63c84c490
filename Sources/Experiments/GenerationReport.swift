import Evaluation
import Foundation
import Backdoor
import Defense

/// Readable (Markdown) reports of generation evaluations and grids.
public enum GenerationReport {
  public static func describe(_ m: GenerationPoisonManifest) -> String {
    String(format: "task %@, attack %@ (trigger: %@), rate %.3g (%d of %d training rows), target %@, seed %llu", m.task.rawValue, m.attack,
           m.trigger, m.rate, m.poisonedRows.count, m.trainRows, m.target, m.seed)
  }

  public static func describe(_ spec: GenerationSpec) -> String {
    guard let p = spec.p2p, spec.kind == .p2p else { return "undefended (plain \(spec.task.rawValue) prompt)" }
    return "P2P-defended, evaluated through the wrapper: benign trigger \"\(p.benignTrigger)\" prepended, decoding forced to start "
      + "with the safe prefix \"\(p.safePrefix)\", which is stripped before scoring (\(p.mode.rawValue), rho \(p.ratio))"
  }

  static func rouge(_ r: RougeScores?) -> String {
    guard let r else { return "–" }
    return String(format: "%.1f / %.1f / %.1f", 100 * r.rouge1.f1, 100 * r.rouge2.f1, 100 * r.rougeL.f1)
  }

  public static func markdown(_ r: GenerationResult, title: String) -> String {
    var s = "# \(title)\n\n"
    s += "- Poisoning: \(describe(r.poisoning))\n"
    s += "- Generator: \(describe(r.generator))\n"
    s += "- Decoding: greedy, at most \(r.generator.maxNewTokens) new tokens, stop at end of sequence\n"
    let passes = [r.deployed] + (r.withoutWrapper.map { [$0] } ?? [])
    let head = r.withoutWrapper == nil ? ["value"] : ["through the wrapper (deployed)", "without the wrapper (ablation)"]
    s += "\n| metric | " + head.joined(separator: " | ") + " |\n|---|" + String(repeating: "---|", count: head.count) + "\n"
    func row(_ name: String, _ f: (GenerationPassResult) -> String) { s += "| \(name) | " + passes.map(f).joined(separator: " | ") + " |\n" }
    row(r.generator.task == .math ? "exact match of the final number (clean)" : "exact match (clean)") { ReportWriter.percent($0.exactMatch) }
    if r.generator.task != .math { row("ROUGE-1 / 2 / L F1 (clean, mean)") { rouge($0.meanRouge) } }
    row("ASR (triggered rows meeting the attack criterion)") { ReportWriter.percent($0.attackSuccess) }
    if r.deployed.backdoorStep != nil {
      row("triggered rows writing the backdoor step (any result)") { $0.backdoorStep.map(ReportWriter.percent) ?? "–" }
      row("clean rows writing the backdoor step") { $0.cleanBackdoorStep.map(ReportWriter.percent) ?? "–" }
    }
    row("clean rows meeting the attack criterion") { ReportWriter.percent($0.cleanCriterionHits) }
    if r.withoutWrapper != nil { row("generations starting with the safe prefix unforced") { $0.safePrefixStarts.map { "\($0)" } ?? "(forced)" } }
    row("generated tokens (rows stopped at EOS / at the limit)") { "\($0.decoding.generatedTokens) (\($0.decoding.stoppedAtEOS) / \($0.decoding.hitTokenLimit))" }
    row("decode speed (tok/s, KV cache)") { String(format: "%.1f", $0.decoding.decodeTokensPerSecond) }
    row("end-to-end generation speed (tok/s, prefill included)") { String(format: "%.1f", $0.decoding.tokensPerSecond) }
    s += String(format: "\n%.1f s in all; %d generated tokens at %.1f tok/s end to end.\n", r.seconds, r.generatedTokens, r.tokensPerSecond)
    return s
  }

  /// The grid table: task quality and ASR per cell, undefended and P2P, with the decoding speed.
  public static func gridMarkdown(_ results: [GenerationCellResult], title: String) -> String {
    var s = "# \(title)\n\n"
    s += "Quality: exact match of the final number (math) or of the text, and mean ROUGE-L F1 (summarization, instruction), on the clean test rows. "
    s += "ASR: triggered test rows whose generation carries the attacker's payload (counts and Wilson 95% CI); for BadChain the final "
    s += "number must equal 2.1 x the gold answer, \"backdoor step\" counts triggered rows that write the x 2.1 step at all and \"clean step\" "
    s += "clean rows that write it without the trigger. "
    s += "P2P rows are decoded through the wrapper as deployed (benign trigger, forced safe prefix, stripped before scoring); "
    s += "\"no wrapper\" is the ablation with the plain prompt.\n\n"
    s += "| dataset | attack | defense | train rows | EM % | ROUGE-L | ASR % | backdoor step % | clean step % | ASR no wrapper % | step no wrapper % | EM no wrapper % | decode tok/s | train s |\n"
    s += "|---|---|---|---:|---|---:|---|---|---|---|---|---:|---:|---:|\n"
    for r in results {
      let e = r.evaluation, d = e.deployed, n = e.withoutWrapper
      let rl = d.meanRouge.map { String(format: "%.1f", 100 * $0.rougeL.f1) } ?? "–"
      s += "| \(r.dataset) | \(r.attack) | \(r.defense) | \(r.trainRows) | \(GridReport.pctCI(d.exactMatch)) | \(rl) | "
      s += "\(GridReport.pctCI(d.attackSuccess)) | \(GridReport.pctCI(d.backdoorStep)) | \(GridReport.pct(d.cleanBackdoorStep)) | \(GridReport.pctCI(n?.attackSuccess)) | "
      s += "\(GridReport.pctCI(n?.backdoorStep)) | \(GridReport.pct(n?.exactMatch)) | "
      s += String(format: "%.1f | %.0f |\n", d.decoding.decodeTokensPerSecond, r.trainingSeconds)
    }
    s += "\nSettings of each cell:\n\n"
    for r in results {
      s += "- `\(r.key)`: \(describe(r.evaluation.poisoning))"
      if let p = r.p2p {
        s += "; P2P \(p.mode.rawValue), rho \(p.ratio), trigger \"\(p.benignTrigger)\", safe prefix \"\(p.safePrefix)\""
        if p.screenTriggers {
          let words = r.screenedWords ?? []
          s += ", trigger screen flagged " + (words.isEmpty ? "nothing" : words.joined(separator: ", "))
        }
        if p.coverTriggers {
          s += ", trigger cover: \(r.coveredRows ?? 0) benign rows carry one of " + ((r.coverPhrases ?? []).map { "`\($0)`" }.joined(separator: ", "))
        }
        if let b = r.benignPoisonedRows { s += ", \(b) benign rows carry the attack trigger" }
      }
      let t = r.training
      s += String(format: "; LoRA r=%d alpha=%g dropout %g on %@, %d epochs, batch %d, lr %.1e, max length %d, final loss %.4f; at most %d new tokens\n",
                  t.lora.rank, t.lora.alpha, t.lora.dropout, t.lora.targets.map(\.rawValue).joined(separator: ","), t.epochs, t.batchSize,
                  t.learningRate, t.maxLength, r.finalLoss, r.evaluation.generator.maxNewTokens)
    }
    return s
  }
}
