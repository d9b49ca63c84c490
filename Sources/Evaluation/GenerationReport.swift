import Backdoor
import Defense
import Foundation

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

  public static func rouge(_ r: RougeScores?) -> String {
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
}
