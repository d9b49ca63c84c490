import ArgumentParser
import FileIO
import Foundation

/// `p2p`: reproduce, measure and deploy the Poison-to-Poison backdoor defense (arXiv 2510.04503).
@main
struct P2PCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "p2p",
    abstract: "Run LLMs in Swift and reproduce, measure and deploy the P2P backdoor defense.",
    discussion: """
      Models are GGUF files; the default, smollm2-135m, is installed by scripts/setup.sh into $P2P_HOME/models (default ~/.cache/p2p/models).
      """,
    version: P2PVersion.string,
    subcommands: [Inspect.self, Convert.self, Tokenize.self, Generate.self, Datasets.self, Poison.self, Train.self, Defend.self, Calibrate.self, Check.self, Evaluate.self, Run.self, Report.self, Bench.self, StudyScreenFeatures.self])
}

/// Errors of the command-line layer (bad flags, files it reads).
struct CLIError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// Prints to standard error.
func printError(_ text: String) {
  FileHandle.standardError.write((text + "\n").data(using: .utf8)!)
}
