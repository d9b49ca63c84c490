import Foundation

/// The folder every built-in dataset name resolves against, one rule for all tasks: `$P2P_DATA`,
/// else `./Data`, else a `Data` folder up to five levels above the executable (so a built `p2p`
/// finds the repository's data from anywhere). A folder counts when it holds one of the shipped
/// datasets (`sst2`, `gsm8k`, `scitldr` or `backdoorllm`).
public enum DataRoot {
  static let markers = ["sst2/train.tsv", "gsm8k/train.jsonl", "scitldr/train.jsonl", "backdoorllm"]

  public static func find(environment: [String: String] = ProcessInfo.processInfo.environment,
                          executable: String = CommandLine.arguments.first ?? "") -> String? {
    var roots: [String] = []
    if let env = environment["P2P_DATA"] { roots.append(env) }
    roots.append(FileManager.default.currentDirectoryPath + "/Data")
    var dir = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<5 { dir = dir.deletingLastPathComponent(); roots.append(dir.path + "/Data") }
    let fm = FileManager.default
    return roots.first { r in markers.contains { fm.fileExists(atPath: r + "/" + $0) } }
      .map { URL(fileURLWithPath: $0).standardizedFileURL.path }
  }
}
