import Inference
import FileIO
import Backdoor
import Defense
import Evaluation
import Foundation
import Llama
import Tokenizer

/// Runs P2P's `agreement` benign-row selection on a model: the zero-shot prompt and the margins
/// of the training rows under the base model (before any fine-tuning).
public enum AgreementScoring {
  /// The default zero-shot prompt for `labelNames`: `LabelAgreement.instruction` as a user turn in
  /// the model's chat template (the bare instruction plus a newline when the model has none); the
  /// label words are the first token of each name (so "sci/tech" is read as "sci").
  public static func defaultPrompt(labelNames: [String], tokenizer: BPETokenizer, chatTemplate: ChatTemplate?) throws -> PromptTemplate {
    let instruction = LabelAgreement.instruction(labelNames: labelNames)
    let template = try chatTemplate?.render([ChatMessage(role: "user", content: instruction)], addGenerationPrompt: true) ?? instruction + "\n"
    let words = try labelNames.map { name -> String in
      guard let first = tokenizer.encode(name, parseSpecial: false).first else {
        throw ExperimentError.invalid(key: "label name '\(name)'", expected: "a non-empty label name")
      }
      return tokenizer.decode([first])
    }
    let prompt = PromptTemplate(template: template, labelWords: words)
    do { try prompt.validate() } catch {
      throw ExperimentError.invalid(key: "label names \(labelNames)", expected: "names whose first tokens differ (\(error))")
    }
    return prompt
  }

  /// The config with its selection prompt filled in (the default one for `labelNames` unless set).
  public static func resolve(_ config: P2PConfig, labelNames: [String]?, bundle: ModelBundle) throws -> P2PConfig {
    guard config.selectsByAgreement, config.selectionPrompt == nil else { return config }
    guard let names = labelNames, names.count == config.labels else {
      throw ExperimentError.invalid(key: "label names",
                                    expected: "\(config.labels) label names for the zero-shot prompt of agreement selection")
    }
    var c = config
    c.selectionPrompt = try defaultPrompt(labelNames: names, tokenizer: bundle.tokenizer, chatTemplate: bundle.chatTemplate)
    return c
  }

  /// Margins of `train` under `config.selectionPrompt` on the base model; read from / written to
  /// `cachePath` (JSON) so a resumed run does not score twice.
  public static func margins(_ train: [Example], config: P2PConfig, bundle: ModelBundle, cachePath: String?,
                             progress: (Int) -> Void = { _ in }) throws -> [Float] {
    guard let prompt = config.selectionPrompt else {
      throw ExperimentError.invalid(key: "selection prompt", expected: "a zero-shot prompt for agreement selection")
    }
    if let cachePath, FileManager.default.fileExists(atPath: cachePath) {
      let cached = try JSONOutput.read(CachedMargins.self, from: cachePath)
      if cached.prompt == prompt && cached.margins.count == train.count { return cached.margins }
    }
    let classifier = try VerbalizerClassifier(scorer: PromptScorer(bundle), template: prompt)
    let m = try LabelAgreement.margins(train, classifier: classifier, progress: progress)
    if let cachePath { try JSONOutput.write(CachedMargins(prompt: prompt, margins: m), to: cachePath) }
    return m
  }

  struct CachedMargins: Codable { var prompt: PromptTemplate; var margins: [Float] }
}
