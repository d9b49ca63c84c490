import Evaluation
import FileIO
import Backdoor
import Defense
import Experiments
import Foundation
import Llama
import TestSupport
import Testing
import Training

/// Every CLI command that accepts `--adapter` is checked on a defended adapter: it goes through
/// the wrapper, and a missing or edited `classifier.json` is an error, never a silent plain run.
@Suite(.enabled(if: RealModel.isInstalled, Comment(rawValue: RealModel.skipReason)))
struct AdapterCommandTests {
  /// The `p2p` binary built beside the test bundle.
  static var binary: String? {
    let here = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
    let candidates = [here.appendingPathComponent("p2p").path, here.deletingLastPathComponent().appendingPathComponent("p2p").path,
                      URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/release/p2p").standardizedFileURL.path]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
  }

  static func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try #require(binary, "the p2p binary is built by `swift test`"))
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }

  /// The subcommands whose help lists `--adapter`.
  static func adapterCommands() throws -> [String] {
    let help = try run(["--help"]).out
    let names = help.split(separator: "\n").drop { !$0.hasPrefix("SUBCOMMANDS:") }.dropFirst()
      .compactMap { $0.split(separator: " ").first.map(String.init) }
    return try names.filter { name in
      try run([name, "--help"]).out.split(separator: "\n").contains { $0.drop { $0 == " " }.hasPrefix("--adapter ") }
    }
  }

  @Test func everyAdapterCommandGoesThroughTheWrapperAndRefusesAnEditedSpec() throws {
    let fm = FileManager.default
    let root = fm.temporaryDirectory.appendingPathComponent("adapter-cmd-\(UUID().uuidString)").path
    let dataRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL.path
    let data = try Poisoner.poison(dataset: "sst2", config: AttackConfig(attack: .badnets, rate: 0.2, target: 1, trainLimit: 20, testLimit: 8),
                                   root: dataRoot)
    try data.write(to: root + "/data")
    // A defended adapter: untrained LoRA (B = 0), its spec and the P2P manifest, as `defend` leaves them.
    let model = try #require(RealModel.model)
    let dir = root + "/p2p"
    try PEFTAdapter.save(LoRAParameters(model: model.config, lora: LoRAConfig(rank: 2, alpha: 2, targets: [.q, .v])), model: model.config,
                         baseModel: "smollm2-135m", to: dir)
    let config = P2PConfig(ratio: 0.5)
    try ClassifierSpec.defended(config).save(in: dir)
    try JSONOutput.write(try P2PReconstruction.apply(data.train, config: config).manifest, to: dir + "/manifest.json")

    let commands = try Self.adapterCommands()
    #expect(commands.sorted() == ["calibrate", "check", "evaluate", "generate"], "a new command takes --adapter: check it here")
    let invocations: [String: [String]] = [
      "calibrate": ["calibrate", "--model", RealModel.path, "--adapter", dir, "--data", root + "/data", "--quiet"],
      "generate": ["generate", "--model", RealModel.path, "--adapter", dir, "--max-tokens", "1", "a gripping film"],
      "evaluate": ["evaluate", "--model", RealModel.path, "--adapter", dir, "--data", root + "/data", "--out", root + "/eval", "--quiet"],
      "check": ["check", "--model", RealModel.path, "--adapter", dir, "--data", root + "/data", "--rows", "6", "--quiet"],
    ]
    for command in commands {
      let args = try #require(invocations[command])
      let ok = try Self.run(args)
      // `check` exits with 2 when the (untrained) safe space drops a label; both are answers.
      #expect(ok.status == 0 || (command == "check" && ok.status == 2 && ok.err.contains("Do not deploy")), "\(command): \(ok.err)")
      if command == "check" {
        let written = try JSONOutput.read(SafeSpaceCheck.self, from: dir + "/" + SafeSpaceCheck.fileName)
        #expect(ok.out.contains("safe-space check: answer shares") && written.rows == 6 && written.referenceShares.count == 2)
      }
      if command == "generate" { #expect(ok.err.contains("P2P-defended classifier: the input goes through its wrapper")) }
      if command == "calibrate" {
        // The offsets are recorded in the spec, which still belongs to the adapter.
        let calibrated = try ClassifierSpec.load(from: dir)
        #expect(ok.out.contains("fitted on 8 dev rows") && calibrated?.safeBias?.count == 2)
      }
      if command == "evaluate" {
        let json = try String(contentsOfFile: root + "/eval/evaluation.json", encoding: .utf8)
        #expect(json.contains("\"classifier\" : \"p2p\""))
      }
      // An edited adapter: the spec no longer belongs to it.
      let weights = dir + "/" + AdapterWeights.fileName
      let original = try #require(fm.contents(atPath: weights))
      var edited = original
      edited[edited.count - 1] ^= 0x01
      try edited.write(to: URL(fileURLWithPath: weights))
      let bad = try Self.run(args)
      #expect(bad.status != 0 && bad.err.contains("not the weights"), "\(command): \(bad.err)")
      try original.write(to: URL(fileURLWithPath: weights))
      // A missing spec next to the P2P manifest.
      let spec = try #require(fm.contents(atPath: dir + "/classifier.json"))
      try fm.removeItem(atPath: dir + "/classifier.json")
      let missing = try Self.run(args)
      #expect(missing.status != 0 && missing.err.contains("missing next to a P2P manifest"), "\(command): \(missing.err)")
      try spec.write(to: URL(fileURLWithPath: dir + "/classifier.json"))
    }
  }
}

/// Every manifest.json names what wrote its folder, and the defense pipeline runs the model-free
/// stages without loading a model.
struct ManifestKindTests {
  @Test func datasetAndDefenseFoldersCarryTheirKind() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kinds-\(UUID().uuidString)").path
    let train = (0..<40).map { Example(text: ($0 % 6 == 0 ? "zq " : "") + "row \($0)", label: $0 % 6 == 0 ? 1 : $0 % 2, sourceIndex: $0) }
    let m = PoisonManifest(attack: "badnets", rate: 0.1, target: 1, setting: .dirty, seed: 1, trainRows: 40, poisonedRows: [0, 10, 20, 30])
    try PoisonedDataset(train: train, testClean: train, testPoison: [train[1]], manifest: m).write(to: dir + "/data")
    #expect(JSONOutput.manifestKind(in: dir + "/data") == .poisonedDataset)
    #expect(try PoisonedDataset.read(from: dir + "/data").manifest == m)
    let outcome = try Defender(config: P2PConfig(screenTriggers: true), labelNames: nil, modelName: "unused", training: TrainingConfig(),
                               directory: dir + "/defended")
      .run(train, model: { Issue.record("the screen and the random draw need no model"); throw ExperimentError.invalid(key: "model", expected: "none") },
           source: dir + "/data")
    #expect(outcome.manifest.screenedWords == ["zq"] && outcome.manifest.benignSourceRows.allSatisfy { $0 % 6 != 0 } && outcome.manifest.screenedRows == 7)
    #expect(JSONOutput.manifestKind(in: dir + "/defended") == .classificationDefense)
    #expect(AdapterWeights.defendedOutput(dir + "/defended") == .classification)
    #expect(try JSONOutput.read(P2PManifest.self, from: dir + "/defended/manifest.json") == outcome.manifest)
  }
}
