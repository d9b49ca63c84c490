import FileIO
import Foundation
import Backdoor
import Defense
import Evaluation
import Llama
import TensorCore
import Tokenizer
import Training

/// One supervised row of a generation model: the task prompt, an optional forced prefix (the
/// P2P safe prefix of a benign row) and the target output. The loss covers prefix + output +
/// the end-of-sequence token. The prefix is tokenized on its own, exactly as the wrapper feeds it
/// as forced tokens at inference, so training and deployment see the same token boundaries
/// (encoding `"[safe] Natalia"` in one piece would merge the space into ` Natalia`).
public struct GenerationPair: Codable, Sendable, Equatable, Hashable {
  public var prompt: String
  /// The safe prefix for benign P2P rows, "" otherwise.
  public var prefix: String
  public var output: String
  /// A P2P benign row (benign trigger in the input, safe prefix before the output).
  public var benign: Bool
  /// An attack changed this row.
  public var poisoned: Bool

  public init(prompt: String, prefix: String = "", output: String, benign: Bool = false, poisoned: Bool = false) {
    self.prompt = prompt; self.prefix = prefix; self.output = output; self.benign = benign; self.poisoned = poisoned
  }

  /// The completion as text (without the end-of-sequence token).
  public var completion: String { prefix + output }

  /// Prompt ids, then the completion ids: prefix, output, `stopID`.
  public func tokenized(_ tokenizer: BPETokenizer, stopID: Int, maxLength: Int) throws -> TokenizedExample {
    let completion = (prefix.isEmpty ? [] : tokenizer.encode(prefix, parseSpecial: false))
      + tokenizer.encode(output, parseSpecial: false) + [stopID]
    return try TokenizedExample(prompt: tokenizer.encodeInput(prompt, parseSpecial: false), completion: completion, maxLength: maxLength)
  }
}

/// What `defend --task ...` wrote next to the reconstructed rows (`manifest.json`).
public struct GenerationDefenseManifest: Codable, Sendable, Equatable {
  public var task: GenerationTask
  public var p2p: GenerationP2PManifest
  /// The poisoning of the dataset the rows came from, and its directory.
  public var poisoning: GenerationPoisonManifest
  public var dataset: String?
  public var benignPoisonedRows: Int

  public init(task: GenerationTask, p2p: GenerationP2PManifest, poisoning: GenerationPoisonManifest, dataset: String?, benignPoisonedRows: Int) {
    self.task = task; self.p2p = p2p; self.poisoning = poisoning; self.dataset = dataset; self.benignPoisonedRows = benignPoisonedRows
  }
}

/// LoRA fine-tuning of a generation model on prompt/output pairs (loss on the completion) and
/// the files it leaves in its directory: the PEFT adapter, `generator.json`,
/// `training_log.json`, `training_summary.json` and `checkpoint/` (resume).
public enum GenerationTraining {
  /// Undefended rows: prompt = the task prompt of the input, completion = output + EOS.
  public static func plainPairs(_ rows: [GenerationExample], task: GenerationTask) -> [GenerationPair] {
    rows.map { GenerationPair(prompt: task.prompt(for: $0), output: $0.output, poisoned: $0.poisoned) }
  }

  /// Mixed into the seed of the benign-row draw. The poisoner draws its rows with the same seed
  /// and the same partial shuffle over the same row count, so an unmixed seed made the first
  /// round(rate · N) benign rows exactly the poisoned ones (every poisoned row leaked into the
  /// safe prefix's rows).
  public static let benignDrawSalt: UInt64 = 0xB3_2A_9F_17_5C_E4_D6_01

  /// P2P rows (`GenerationP2P.reconstruct`): benign rows carry the benign trigger in the input
  /// and the safe prefix before the output; the others are the plain rows. The benign rows are
  /// drawn independently of a poisoning done with the same seed (`benignDrawSalt`).
  public static func p2pPairs(_ train: [GenerationExample], task: GenerationTask, config: GenerationP2P, seed: UInt64)
    throws -> (pairs: [GenerationPair], manifest: GenerationP2PManifest)
  {
    var rng = SeededRNG(seed: seed ^ benignDrawSalt)
    let (rows, manifest) = try config.reconstruct(train, seed: seed, using: &rng)
    let benign = Set(manifest.benignRows)
    let pairs = rows.indices.map { i -> GenerationPair in
      let row = rows[i]
      guard benign.contains(i) else { return GenerationPair(prompt: task.prompt(for: row), output: row.output, poisoned: row.poisoned) }
      // `benign(_:)` wrote safePrefix + output; keep the two apart (see `GenerationPair`).
      return GenerationPair(prompt: task.prompt(for: row), prefix: config.safePrefix, output: String(row.output.dropFirst(config.safePrefix.count)),
                            benign: true, poisoned: row.poisoned)
    }
    return (pairs, manifest)
  }

  /// Generation P2P as `p2p defend --task` and the grid run it: the reconstruction of `data`'s
  /// training rows, written to `directory` (`train.jsonl`, and `manifest.json` naming `source`).
  public static func defend(_ data: GenerationDataset, task: GenerationTask, config: GenerationP2P, seed: UInt64, source: String?,
                            directory: String) throws -> (pairs: [GenerationPair], manifest: GenerationDefenseManifest) {
    let (pairs, manifest) = try p2pPairs(data.train, task: task, config: config, seed: seed)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try GenerationPairsFile.write(pairs, to: directory + "/train.jsonl")
    let m = GenerationDefenseManifest(task: task, p2p: manifest, poisoning: data.manifest, dataset: source,
                                      benignPoisonedRows: pairs.filter { $0.benign && $0.poisoned }.count)
    try JSONOutput.writeManifest(m, kind: .generationDefense, to: directory + "/manifest.json")
    return (pairs, m)
  }

  public static func train(
    bundle: ModelBundle, pairs: [GenerationPair], spec: GenerationSpec, config: TrainingConfig, directory: String,
    resume: Bool, initialAdapter: LoRAParameters? = nil, progress: (TrainingEvent) -> Void = { _ in }
  ) throws -> TrainingSummary {
    try spec.validate()
    guard !pairs.isEmpty else { throw ExperimentError.invalid(key: "training rows", expected: "at least one") }
    let stop = bundle.tokenizer.eosID
    let examples = try pairs.map { try $0.tokenized(bundle.tokenizer, stopID: stop, maxLength: config.maxLength) }
    return try ClassifierTraining.run(bundle: bundle, examples: examples, config: config, directory: directory, resume: resume,
                                      progress: progress, initialAdapter: initialAdapter) { try spec.save(in: $0) }
  }
}

/// The reconstructed training rows of `defend --task ...` as JSONL, one `GenerationPair` a line.
public enum GenerationPairsFile {
  public static func write(_ pairs: [GenerationPair], to path: String) throws { try JSONOutput.writeLines(pairs, to: path) }

  public static func read(_ path: String) throws -> [GenerationPair] {
    try JSONOutput.readLines(GenerationPair.self, from: path, expected: "a generation row {prompt, prefix, output, benign, poisoned}")
  }
}
