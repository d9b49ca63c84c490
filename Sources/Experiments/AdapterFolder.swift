import FileIO
import Foundation

/// The output folder of `p2p train` and `p2p defend`: the adapter, its spec, the logs, the
/// checkpoint and (for `defend`) the reconstructed rows, the manifest and the probe. These names
/// are the only entries the two commands ever replace; an earlier output is recognised by any of
/// the files only they write.
public enum AdapterFolder {
  public static let entries = [
    "adapter_config.json", "adapter_model.safetensors", "classifier.json", "generator.json", "training_log.json",
    "training_summary.json", "checkpoint", "train.jsonl", "manifest.json", "agreement.json", "probe", "evaluation.json",
    "evaluation.md", "evaluation-records.jsonl", "generations.jsonl", "epochs", "selection.json", "insertion.json", "spectral",
    "safe_space_check.json", SafeSpaceRetry.folder, SafeSpaceRetry.firstAttemptFolder, SafeSpaceRetry.recordFile,
  ]

  /// The entries of one try (everything but the second try's folders and record).
  static var tryEntries: [String] {
    entries.filter { ![SafeSpaceRetry.folder, SafeSpaceRetry.firstAttemptFolder, SafeSpaceRetry.recordFile].contains($0) }
  }

  /// Marks, inside `first-attempt/`, that every entry of the first try has moved there.
  static let firstTryMoved = ".first-try-moved"

  /// Makes the second try (`directory/retry`, `SafeSpaceRetry`) the folder's adapter, in two
  /// phases that an interrupted run finishes when called again: the first try's entries move into
  /// `directory/first-attempt` (then a marker is written there), then the second try's entries up
  /// into `directory`; `retry/` is removed once empty. Only the commands' own entries move, and
  /// nothing is overwritten: an entry already at its destination is an error naming it.
  public static func promoteRetry(in directory: String) throws {
    let fm = FileManager.default
    let retry = directory + "/" + SafeSpaceRetry.folder, first = directory + "/" + SafeSpaceRetry.firstAttemptFolder
    let marker = first + "/" + firstTryMoved
    guard fm.fileExists(atPath: marker) || fm.fileExists(atPath: retry + "/training_summary.json") else {
      throw OutputError.refused(path: retry, reason: "holds no finished second try (training_summary.json) to make the adapter")
    }
    func move(_ from: String, _ to: String) throws {
      guard !fm.fileExists(atPath: to) else {
        throw OutputError.refused(path: to, reason: "exists already; \(from) was not moved there (the folder is not one promotion left it in)")
      }
      do { try fm.moveItem(atPath: from, toPath: to) } catch {
        throw OutputError.cannotWrite(path: to, reason: "cannot move \(from) there: \(error.localizedDescription)")
      }
    }
    if !fm.fileExists(atPath: marker) {
      try fm.createDirectory(atPath: first, withIntermediateDirectories: true)
      for name in tryEntries where fm.fileExists(atPath: directory + "/" + name) { try move(directory + "/" + name, first + "/" + name) }
      try JSONOutput.write(text: "the first try's entries are all here; the second try's move up next\n", to: marker)
    }
    for name in tryEntries where fm.fileExists(atPath: retry + "/" + name) { try move(retry + "/" + name, directory + "/" + name) }
    if (try? fm.contentsOfDirectory(atPath: retry))?.isEmpty == true { try fm.removeItem(atPath: retry) }
  }

  /// Whether a promotion of the second try was started in `directory` and not finished.
  public static func promotionPending(in directory: String) -> Bool {
    let fm = FileManager.default, retry = directory + "/" + SafeSpaceRetry.folder
    let started = fm.fileExists(atPath: directory + "/" + SafeSpaceRetry.firstAttemptFolder)
    return started && tryEntries.contains { fm.fileExists(atPath: retry + "/" + $0) }
  }

  public static let outputKind = OutputKind(command: "p2p train/defend", entries: entries) { dir in
    let fm = FileManager.default
    // Files only p2p writes (adapter_config.json alone is any PEFT adapter, not ours).
    if ["training_summary.json", "classifier.json", "generator.json", "checkpoint/state.json"]
      .contains(where: { fm.fileExists(atPath: dir + "/" + $0) }) { return true }
    // `defend --prepare-only`: the P2P manifest and the reconstructed rows.
    guard let data = fm.contents(atPath: dir + "/manifest.json"),
          let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return false }
    return object["config"] != nil && object["benignSourceRows"] != nil
  }

  /// Copies a finished training's files (adapter, spec, summary, logs; not the checkpoint) from
  /// `source` into `destination` (created; a cell's own `model/` folder), the summary last, so an
  /// interrupted copy is never taken for a finished one.
  public static func copyFinishedModel(from source: String, to destination: String, spec: String = "classifier.json") throws {
    let fm = FileManager.default
    try fm.createDirectory(atPath: destination, withIntermediateDirectories: true)
    let files = ["adapter_config.json", "adapter_model.safetensors", spec, "training_log.json", "selection.json", "training_summary.json"]
    for name in files where fm.fileExists(atPath: source + "/" + name) {
      let target = destination + "/" + name
      if fm.fileExists(atPath: target) { try fm.removeItem(atPath: target) }
      try fm.copyItem(atPath: source + "/" + name, toPath: target)
    }
  }

  /// Checks `directory` before training into it and clears an earlier output when asked to start
  /// again: `overwrite` replaces the commands' own files (only those), `resume` continues from the
  /// checkpoint there. Refuses a file, a folder with other files, and a folder equal to or above
  /// one of `inputs`.
  public static func prepare(_ directory: String, inputs: [String], overwrite: Bool, resume: Bool) throws {
    let state = try OutputFolder.check(directory, kind: outputKind, inputs: inputs, replace: overwrite || resume,
                                       replaceFlag: "--resume (continue its training) or --overwrite (start again)")
    if state == .own && overwrite && !resume { try OutputFolder.removeOwnEntries(in: directory, kind: outputKind) }
  }
}

/// Where `p2p evaluate` writes `evaluation.json`, `evaluation.md` (and, for generation,
/// `generations.jsonl`): any folder, but an existing file of those names is replaced only when it
/// is an earlier evaluation (its JSON records the poisoning it was measured on).
public enum EvaluationFolder {
  public static func check(_ directory: String) throws {
    let dir = OutputFolder.normalized(directory)
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), !isDirectory.boolValue {
      throw OutputError.refused(path: directory, reason: "it is a file, not a folder; evaluate writes evaluation.json and evaluation.md into a folder")
    }
    let fm = FileManager.default
    let json = dir + "/evaluation.json"
    if fm.fileExists(atPath: json) {
      guard let data = fm.contents(atPath: json), let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            object["poisoning"] != nil else {
        throw OutputError.refused(path: json, reason: "the file exists and is not an earlier evaluation of p2p; choose another --out")
      }
    } else {
      for name in ["evaluation.md", "generations.jsonl"] where fm.fileExists(atPath: dir + "/" + name) {
        throw OutputError.refused(path: dir + "/" + name, reason: "the file exists without an earlier evaluation.json of p2p; choose another --out")
      }
    }
  }
}
