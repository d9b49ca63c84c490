import FileIO
import Foundation

/// Where the generation datasets live and how their names resolve: `$P2P_SHARED_DATA` when set,
/// else the repository's `Data/` folder, which ships them (found from the classification data
/// root, the working directory, or up to five levels above the executable), else a shared data
/// folder `<repo>/../shared/data`.
///
/// Built-in names: `gsm8k` (`gsm8k/{train,test}.jsonl`, GSM8K format), `scitldr`
/// (`scitldr/{train,test}.jsonl`, SciTLDR-A format), `backdoorllm/<task>` and
/// `backdoorllm/<task>/<attack>` (BackdoorLLM's normalized files, task one of negsentiment,
/// refusal, sst2sentiment). Any other value is a path: a directory holding `train.jsonl` and
/// `test.jsonl` (math, summarization) or a BackdoorLLM task directory `<root>/<task>` (instruction).
public enum GenerationSources {
  public static func dataRoot(environment: [String: String] = ProcessInfo.processInfo.environment,
                              executable: String = CommandLine.arguments.first ?? "",
                              classificationRoot: String? = nil) -> String? {
    var roots: [String] = []
    if let env = environment["P2P_SHARED_DATA"] { roots.append(env) }
    let cwd = FileManager.default.currentDirectoryPath
    // The shipped copies in Data/ first, then a shared folder beside the repository.
    if let c = classificationRoot { roots.append(c) }
    roots.append(cwd + "/Data")
    var dir = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
    var ancestors: [String] = []
    for _ in 0..<5 { dir = dir.deletingLastPathComponent(); ancestors.append(dir.path) }
    roots += ancestors.map { $0 + "/Data" }
    roots.append(cwd + "/../shared/data")
    if let c = classificationRoot { roots.append(c + "/../../shared/data") }
    roots += ancestors.map { $0 + "/../shared/data" }
    let fm = FileManager.default
    let found = roots.first { r in
      ["gsm8k/train.jsonl", "scitldr/train.jsonl", "backdoorllm"].contains { fm.fileExists(atPath: r + "/" + $0) }
    }
    return found.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
  }

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
        throw ExperimentError.badFile(path: nameOrPath, reason: "built-in generation dataset, but no data folder holding it was found (the repository's Data/ ships gsm8k, scitldr and backdoorllm); run from the repository or set P2P_SHARED_DATA to a folder holding them")
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
