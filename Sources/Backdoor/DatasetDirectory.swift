import FileIO
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes a dataset directory (the output of `p2p poison`) under `OutputFolder`'s rule: into a new
/// or empty folder through a temporary sibling that is renamed into place, so a crash never leaves
/// a half-written dataset; into a folder holding an earlier poisoning only when asked, replacing
/// just the files a poisoning writes (the manifest, which marks a complete dataset, is removed
/// first and written last). Nothing else in the folder is touched.
public enum DatasetDirectory {
  /// The files of a poisoned dataset, classification or generation.
  public static let entries = ["train.jsonl", "test-clean.jsonl", "test-poison.jsonl", "dev.jsonl", "manifest.json"]

  /// `p2p poison`'s output: recognised by a manifest that records a poisoning.
  public static let outputKind = OutputKind(command: "p2p poison", entries: entries) { dir in
    if JSONOutput.manifestKind(in: dir) == .poisonedDataset { return true }
    // Manifests written before the "kind" key.
    guard let data = FileManager.default.contents(atPath: dir + "/manifest.json"),
          let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return false }
    return ["attack", "poisonedRows", "trainRows", "seed"].allSatisfy { object[$0] != nil }
  }

  /// Writes `files` (name → contents; the last one marks a complete output) as `directory`.
  /// `replace`: an earlier poisoning there may be replaced; `inputs`: paths the output must not
  /// equal or contain.
  public static func write(_ files: [(name: String, contents: () throws -> Data)], to directory: String,
                           replace: Bool = false, inputs: [String] = []) throws {
    let fm = FileManager.default
    let out = OutputFolder.normalized(directory)
    OutputFolder.cleanStaleTemporaries(of: out)
    let state = try OutputFolder.check(out, kind: outputKind, inputs: inputs, replace: replace)
    let contents = try files.map { (name: $0.name, data: try $0.contents()) }
    switch state {
    case .new, .empty:
      let parent = (out as NSString).deletingLastPathComponent
      if !parent.isEmpty { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) }
      let tmp = OutputFolder.temporarySibling(of: out)
      do {
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: false)
        for f in contents { try f.data.write(to: URL(fileURLWithPath: tmp + "/" + f.name)) }
        // rename(2) replaces an empty folder in one step; a non-empty one makes it fail.
        guard rename(tmp, out) == 0 else {
          throw OutputError.cannotWrite(path: out, reason: String(cString: strerror(errno)))
        }
      } catch {
        try? fm.removeItem(atPath: tmp)
        throw error
      }
    case .own:
      guard let marker = contents.last else { return }
      let markerPath = out + "/" + marker.name
      if fm.fileExists(atPath: markerPath) { try fm.removeItem(atPath: markerPath) }
      // An earlier poisoning's file this one does not write (e.g. dev.jsonl) would be stale.
      for name in entries where !contents.contains(where: { $0.name == name }) && fm.fileExists(atPath: out + "/" + name) {
        try fm.removeItem(atPath: out + "/" + name)
      }
      for f in contents { try f.data.write(to: URL(fileURLWithPath: out + "/" + f.name), options: .atomic) }
    }
  }
}
