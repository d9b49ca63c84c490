import FileIO
import Foundation

/// How the generation datasets' names resolve against the data root (`DataRoot`, the
/// repository's `Data/`, which ships them).
///
/// Built-in names: `gsm8k` (`gsm8k/{train,test}.jsonl`, GSM8K format), `scitldr`
/// (`scitldr/{train,test}.jsonl`, SciTLDR-A format), `backdoorllm/<task>` and
/// `backdoorllm/<task>/<attack>` (BackdoorLLM's normalized files, task one of negsentiment,
/// refusal, sst2sentiment). Any other value is a path: a directory holding `train.jsonl` and
/// `test.jsonl` (math, summarization) or a BackdoorLLM task directory `<root>/<task>` (instruction).
public enum GenerationSources {
  /// A dataset name or path resolved to files for one task.
  public enum Resolved: Sendable, Equatable {
    /// Math or summarization: a training and a test file.
    case files(train: String, test: String)
    /// Instruction: a BackdoorLLM root, task and (when the name carried one) attack.
    case backdoorLLM(root: String, task: BackdoorLLMTask, attack: BackdoorLLMAttack?)
  }

  public static func resolve(_ nameOrPath: String, task: GenerationTask, root: String?) throws -> Resolved {
    let fm = FileManager.default
    func needRoot() throws -> String {
      guard let root else {
        throw ExperimentError.badFile(path: nameOrPath, reason: "built-in generation dataset, but no data folder holding it was found (the repository's Data/ ships gsm8k, scitldr and backdoorllm); run from the repository or set P2P_DATA to a folder holding them")
      }
      return root
    }
    switch task {
    case .math, .summarization:
      let builtin = task == .math ? "gsm8k" : "scitldr"
      let dir: String
      if nameOrPath == builtin { dir = try needRoot() + "/" + builtin } else { dir = nameOrPath }
      let train = dir + "/train.jsonl", test = dir + "/test.jsonl"
      for p in [train, test] where !fm.fileExists(atPath: p) {
        throw ExperimentError.badFile(path: p, reason: "no such file (the \(task.rawValue) data is '\(builtin)' or a directory with train.jsonl and test.jsonl)")
      }
      return .files(train: train, test: test)
    case .instruction:
      let parts = nameOrPath.split(separator: "/").map(String.init)
      if parts.first == "backdoorllm" && (parts.count == 2 || parts.count == 3) && !fm.fileExists(atPath: nameOrPath) {
        let r = try needRoot() + "/backdoorllm"
        return .backdoorLLM(root: r, task: try backdoorTask(parts[1], name: nameOrPath),
                            attack: parts.count == 3 ? try backdoorAttack(parts[2], name: nameOrPath) : nil)
      }
      var isDir: ObjCBool = false
      guard fm.fileExists(atPath: nameOrPath, isDirectory: &isDir), isDir.boolValue else {
        throw ExperimentError.badFile(path: nameOrPath, reason: "not a built-in dataset (backdoorllm/<task>[/<attack>]) and no such directory")
      }
      let url = URL(fileURLWithPath: nameOrPath).standardizedFileURL
      return .backdoorLLM(root: url.deletingLastPathComponent().path, task: try backdoorTask(url.lastPathComponent, name: nameOrPath), attack: nil)
    }
  }

  static func backdoorTask(_ s: String, name: String) throws -> BackdoorLLMTask {
    guard let t = BackdoorLLMTask(rawValue: s) else {
      throw ExperimentError.invalid(key: "dataset '\(name)'", expected: "a BackdoorLLM task: \(BackdoorLLMTask.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return t
  }

  static func backdoorAttack(_ s: String, name: String) throws -> BackdoorLLMAttack {
    guard let a = BackdoorLLMAttack(rawValue: s) else {
      throw ExperimentError.invalid(key: "attack '\(s)' of '\(name)'", expected: "one of \(BackdoorLLMAttack.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return a
  }
}
