import Foundation
import TensorCore
import TestSupport
import Testing
import Training

/// Checkpoint directories: round trip, atomic replacement, recovery after a killed write, and
/// clear errors for corrupt files.
@Suite struct CheckpointTests {
  struct RunConfig: Codable, Sendable, Equatable {
    var optimizer: AdamWConfig
    var schedule: LearningRateSchedule
    var seed: UInt64
  }

  static func checkpoint(step: Int = 12, loss: Float = 0.75) throws -> Checkpoint<RunConfig> {
    var rng = SeededRNG(seed: 5)
    for _ in 0..<17 { _ = rng.next() }
    let config = RunConfig(optimizer: AdamWConfig(learningRate: 2e-4), schedule: .linear, seed: .max)
    let state = CheckpointState(
      step: step, epoch: 1, positionInEpoch: 3, rng: rng, configuration: config,
      lossHistory: [LossRecord(step: 1, loss: 2.5, learningRate: 2e-4, gradientNorm: 1.25), LossRecord(step: 2, loss: loss, learningRate: 1.9e-4)])
    let values = (0..<300).map { Float($0) * 0.01 - 1 }
    return Checkpoint(state: state, tensors: [
      "optimizer.m": FloatTensor(values), "optimizer.v": FloatTensor(values.map { $0 * $0 }),
      "lora.parameters": try FloatTensor(shape: [3, 100], values: values.reversed()),
    ])
  }

  @Test func writeAndLoad() throws {
    let dir = ScratchDirectory()
    let path = dir.file("ckpt")
    let c = try Self.checkpoint()
    try c.write(to: path)
    #expect(dir.contents() == ["ckpt"])
    #expect(Set(try FileManager.default.contentsOfDirectory(atPath: path)) == ["state.json", "tensors.safetensors"])
    let loaded = try Checkpoint<RunConfig>.load(from: path)
    #expect(loaded == c)
    #expect(loaded.state.rng.state == c.state.rng.state)  // UInt64 values above 2^53 survive JSON
    #expect(Checkpoint<RunConfig>.exists(at: path))
    #expect(!Checkpoint<RunConfig>.exists(at: dir.file("none")))
    // The tensors file is plain safetensors.
    #expect(try SafeTensorsFile(path: path + "/tensors.safetensors").metadata == ["format": "pt"])
  }

  @Test func overwriteIsAtomicAndClean() throws {
    let dir = ScratchDirectory()
    let path = dir.file("ckpt") + "/"  // a trailing slash is the same directory
    try Self.checkpoint(step: 1).write(to: path)
    try Self.checkpoint(step: 2).write(to: path)
    #expect(try Checkpoint<RunConfig>.load(from: path).state.step == 2)
    #expect(dir.contents() == ["ckpt"])
  }

  @Test func nonFiniteLossSurvives() throws {
    let dir = ScratchDirectory()
    try Self.checkpoint(loss: .nan).write(to: dir.file("c"))
    let loaded = try Checkpoint<RunConfig>.load(from: dir.file("c"))
    #expect(loaded.state.lossHistory[1].loss.isNaN)
    #expect(loaded.state.lossHistory[1].gradientNorm == nil)
  }

  /// A `.tmp-*` directory from a killed write is never read and is removed by the next write.
  @Test func leftoverTemporaryIsIgnoredAndCleaned() throws {
    let dir = ScratchDirectory()
    let path = dir.file("ckpt")
    try Self.checkpoint(step: 7).write(to: path)
    try FileManager.default.createDirectory(atPath: path + ".tmp-dead", withIntermediateDirectories: false)
    try dir.write("ckpt.tmp-dead/state.json", "{ half a file")
    #expect(try Checkpoint<RunConfig>.load(from: path).state.step == 7)
    try Self.checkpoint(step: 8).write(to: path)
    #expect(dir.contents() == ["ckpt"])
    #expect(try Checkpoint<RunConfig>.load(from: path).state.step == 8)
  }

  /// Killed between "move the old one aside" and "move the new one in": the old one is used.
  @Test func recoversFromKillBetweenRenames() throws {
    let dir = ScratchDirectory()
    let path = dir.file("ckpt")
    try Self.checkpoint(step: 7).write(to: path)
    try FileManager.default.moveItem(atPath: path, toPath: path + ".old-1234")
    try FileManager.default.createDirectory(atPath: path + ".tmp-5678", withIntermediateDirectories: false)
    #expect(Checkpoint<RunConfig>.exists(at: path))
    #expect(try Checkpoint<RunConfig>.load(from: path).state.step == 7)
    try Checkpoint<RunConfig>.recover(path)
    #expect(dir.contents() == ["ckpt"])
    #expect(try Checkpoint<RunConfig>.load(from: path).state.step == 7)
  }

  /// Writes a valid checkpoint, lets `edit` change its state.json text, and returns the load error.
  static func loadError(_ edit: (String) -> String) throws -> (TrainingError?, String) {
    let dir = ScratchDirectory()
    let path = dir.file("ckpt")
    try checkpoint().write(to: path)
    let statePath = path + "/state.json"
    let text = try String(contentsOfFile: statePath, encoding: .utf8)
    try Data(edit(text).utf8).write(to: URL(fileURLWithPath: statePath))
    return (thrownTrainingError { try Checkpoint<RunConfig>.load(from: path) }, statePath)
  }

  @Test func corruptStateGivesClearErrors() throws {
    var (error, statePath) = try Self.loadError { _ in "{ \"format\": " }
    guard case .corruptCheckpoint(statePath, "<document>", let reason)? = error else {
      Issue.record("truncated JSON: \(String(describing: error))")
      return
    }
    #expect(reason.hasPrefix("invalid"))

    (error, statePath) = try Self.loadError { $0.replacingOccurrences(of: "\"epoch\" : 1,", with: "") }
    #expect(error == .corruptCheckpoint(path: statePath, key: "state.epoch", reason: "missing"))

    (error, statePath) = try Self.loadError { $0.replacingOccurrences(of: "\"step\" : 12", with: "\"step\" : \"twelve\"") }
    #expect(error?.description.contains("state.step") == true)

    (error, statePath) = try Self.loadError { $0.replacingOccurrences(of: "\"step\" : 12", with: "\"step\" : -3") }
    #expect(error == .corruptCheckpoint(path: statePath, key: "state.step", reason: "is -3, expected >= 0"))

    (error, statePath) = try Self.loadError { $0.replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 9") }
    #expect(error == .corruptCheckpoint(path: statePath, key: "version", reason: "is 9, expected 1"))

    (error, statePath) = try Self.loadError { $0.replacingOccurrences(of: "\"schedule\" : \"linear\"", with: "\"schedule\" : \"step\"") }
    #expect(error?.description.contains("configuration.schedule") == true)

    // An RNG state that would crash xoshiro256** (3 words) is rejected.
    (error, statePath) = try Self.loadError { text in
      let regex = try! Regex(#""state" : \[\s*\d+,"#)  // literal pattern, not user data
      return text.replacing(regex, maxReplacements: 1) { _ in "\"state\" : [" }
    }
    guard case .corruptCheckpoint(statePath, "state.rng.state", _)? = error else {
      Issue.record("short RNG state: \(String(describing: error))")
      return
    }
  }

  @Test func tensorsMustMatchTheManifest() throws {
    var (error, statePath) = try Self.loadError { $0.replacingOccurrences(of: "\"lora.parameters\" : [\n      3,", with: "\"lora.parameters\" : [\n      4,") }
    func tensorsPath() -> String { statePath.replacingOccurrences(of: "state.json", with: "tensors.safetensors") }
    #expect(error == .corruptCheckpoint(path: tensorsPath(), key: "lora.parameters", reason: "is F32 [3, 100], state.json says F32 [4, 100]"))
    (error, statePath) = try Self.loadError { $0.replacingOccurrences(of: "\"optimizer.m\"", with: "\"optimizer.x\"") }
    #expect(error == .missingTensor(path: tensorsPath(), tensor: "optimizer.x"))

    let dir = ScratchDirectory()
    let path = dir.file("ckpt")
    try Self.checkpoint().write(to: path)
    try FileManager.default.removeItem(atPath: path + "/tensors.safetensors")
    guard case .cannotRead? = thrownTrainingError({ try Checkpoint<RunConfig>.load(from: path) }) else {
      Issue.record("a missing tensors file must give cannotRead")
      return
    }
    try FileManager.default.removeItem(atPath: path + "/state.json")
    #expect(thrownTrainingError { try Checkpoint<RunConfig>.load(from: path) }
      == .corruptCheckpoint(path: path, key: "state.json", reason: "missing or unreadable"))
    #expect(thrownTrainingError { try Checkpoint<RunConfig>.load(from: dir.file("absent")) }
      == .cannotRead(path: dir.file("absent"), reason: "no checkpoint directory here"))
  }

  @Test func rejectsInvalidStateOnWrite() throws {
    var c = try Self.checkpoint()
    c.state.positionInEpoch = -1
    let dir = ScratchDirectory()
    #expect(thrownTrainingError { try c.write(to: dir.file("c")) } != nil)
    #expect(dir.contents().isEmpty)
  }
}
