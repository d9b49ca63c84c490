import Foundation
import TensorCore

/// One entry of a run's loss history.
public struct LossRecord: Codable, Sendable, Equatable {
  /// The optimizer step (1-based: the record after the first update is step 1).
  public var step: Int
  /// Mean loss over the batch's target tokens (may be NaN or infinite in a diverging run).
  public var loss: Float
  /// The learning rate the step used.
  public var learningRate: Float
  /// The gradient norm before clipping, when measured.
  public var gradientNorm: Float?

  public init(step: Int, loss: Float, learningRate: Float, gradientNorm: Float? = nil) {
    self.step = step; self.loss = loss; self.learningRate = learningRate; self.gradientNorm = gradientNorm
  }
}

/// Where a training run stands: everything but the tensors, stored as `state.json`.
/// `Configuration` is the run's configuration, echoed so a resumed run can check it continues
/// the same experiment.
public struct CheckpointState<Configuration: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
  /// Optimizer steps completed.
  public var step: Int
  /// The epoch in progress (0-based).
  public var epoch: Int
  /// Batches of `epoch` already trained on (resume at this batch of `BatchPlan.batches(epoch:)`).
  public var positionInEpoch: Int
  /// The generator state to continue from (dropout masks and any other draw after this point).
  public var rng: SeededRNG
  public var configuration: Configuration
  public var lossHistory: [LossRecord]
  /// Training time and tokens up to this checkpoint, summed over every run that trained the
  /// steps it holds, counted from step `timedFromStep` (0 unless an earlier step came from a
  /// checkpoint that did not record its time). Absent in checkpoints of older builds.
  public var trainingSeconds: Double?
  public var trainedTokens: Int?
  public var timedFromStep: Int?
  /// A hash of the training rows the run trains on (`Trainer.stamp`), so a resumed run with
  /// other rows (another data file, template or label words) is refused. Absent in checkpoints
  /// of older builds.
  public var examplesStamp: String?

  public init(step: Int, epoch: Int, positionInEpoch: Int, rng: SeededRNG, configuration: Configuration, lossHistory: [LossRecord],
              trainingSeconds: Double? = nil, trainedTokens: Int? = nil, timedFromStep: Int? = nil, examplesStamp: String? = nil) {
    self.step = step; self.epoch = epoch; self.positionInEpoch = positionInEpoch; self.rng = rng
    self.configuration = configuration; self.lossHistory = lossHistory
    self.trainingSeconds = trainingSeconds; self.trainedTokens = trainedTokens; self.timedFromStep = timedFromStep
    self.examplesStamp = examplesStamp
  }
}

/// A training checkpoint: a directory holding `state.json` (the `CheckpointState`, plus a format
/// tag and the name and shape of every tensor) and `tensors.safetensors` (F32 tensors: optimizer
/// moments, LoRA parameters, …, readable from Python with `safetensors.torch.load_file`).
///
/// Writing is atomic at the directory level: everything goes to `DIR.tmp-<random>` (each file
/// flushed to disk), the previous `DIR` is renamed to `DIR.old-<random>`, the new one renamed to
/// `DIR`, and the old one removed. A run killed at any point leaves either the old or the new
/// checkpoint complete: leftover `.tmp-*` directories are never read and are removed by the next
/// `write`; when `DIR` itself is missing but a `.old-*` survives, `load` reads that one and the
/// next `write` (or `recover`) puts it back in place.
public struct Checkpoint<Configuration: Codable & Sendable & Equatable>: Sendable, Equatable {
  public var state: CheckpointState<Configuration>
  public var tensors: [String: FloatTensor]

  public init(state: CheckpointState<Configuration>, tensors: [String: FloatTensor]) {
    self.state = state; self.tensors = tensors
  }

  /// The tag and version that `state.json` must carry.
  public static var format: String { "p2p-training-checkpoint" }
  public static var version: Int { 1 }

  /// What `state.json` holds.
  private struct StateFile: Codable {
    var format: String
    var version: Int
    var state: CheckpointState<Configuration>
    /// Tensor name → shape, checked against `tensors.safetensors` at load.
    var tensors: [String: [Int]]
  }

  /// Writes the checkpoint to `directory`, replacing any previous one atomically.
  public func write(to directory: String) throws(TrainingError) {
    let dir = CheckpointDirectory(directory)
    try Self.validate(state, path: directory)
    var writer = SafeTensorsWriter(metadata: ["format": "pt"])
    for (name, tensor) in tensors { try writer.add(name, tensor) }
    let stateFile = StateFile(format: Self.format, version: Self.version, state: state, tensors: tensors.mapValues(\.shape))
    let json: Data
    do {
      json = try Self.encoder.encode(stateFile)
    } catch {
      throw .writeFailed(path: dir.stateFile, reason: "cannot encode the state: \(error)")
    }
    try dir.recover()
    try dir.replace { (temporary: String) throws(TrainingError) in
      try AtomicFile.writeSynced(writer.bytes(), to: temporary + "/" + CheckpointDirectory.tensorsName)
      try AtomicFile.writeSynced(json, to: temporary + "/" + CheckpointDirectory.stateName)
    }
  }

  /// Reads and validates the checkpoint in `directory` (or, after a crash between the two
  /// renames of `write`, the complete `DIR.old-*` beside it).
  public static func load(from directory: String) throws(TrainingError) -> Checkpoint {
    let path = try CheckpointDirectory(directory).readablePath()
    let statePath = path + "/" + CheckpointDirectory.stateName
    guard let data = FileManager.default.contents(atPath: statePath) else {
      throw .corruptCheckpoint(path: path, key: CheckpointDirectory.stateName, reason: "missing or unreadable")
    }
    let file: StateFile
    do {
      file = try decoder.decode(StateFile.self, from: data)
    } catch {
      throw .corruptCheckpoint(path: statePath, key: CheckpointDirectory.keyPath(error), reason: CheckpointDirectory.reason(error))
    }
    guard file.format == format else {
      throw .corruptCheckpoint(path: statePath, key: "format", reason: "is '\(file.format)', expected '\(format)'")
    }
    guard file.version == version else {
      throw .corruptCheckpoint(path: statePath, key: "version", reason: "is \(file.version), expected \(version)")
    }
    try validate(file.state, path: statePath)

    let tensorsPath = path + "/" + CheckpointDirectory.tensorsName
    let safeTensors = try SafeTensorsFile(path: tensorsPath)
    var tensors: [String: FloatTensor] = [:]
    for (name, shape) in file.tensors.sorted(by: { $0.key < $1.key }) {
      guard let info = safeTensors.info(name) else { throw .missingTensor(path: tensorsPath, tensor: name) }
      guard info.dtype == .f32, info.shape == shape else {
        throw .corruptCheckpoint(path: tensorsPath, key: name, reason: "is \(info.dtype.rawValue) \(info.shape), state.json says F32 \(shape)")
      }
      tensors[name] = try safeTensors.floatTensor(name)
    }
    if let extra = safeTensors.tensors.first(where: { file.tensors[$0.name] == nil }) {
      throw .corruptCheckpoint(path: tensorsPath, key: extra.name, reason: "tensor not listed in state.json")
    }
    return Checkpoint(state: file.state, tensors: tensors)
  }

  /// Whether `directory` (or a surviving `.old-*` copy of it) holds a checkpoint to resume from.
  public static func exists(at directory: String) -> Bool {
    guard let path = try? CheckpointDirectory(directory).readablePath() else { return false }
    return FileManager.default.fileExists(atPath: path + "/" + CheckpointDirectory.stateName)
  }

  /// Cleans up after a killed `write`: removes `DIR.tmp-*`, and restores `DIR.old-*` when `DIR`
  /// is missing (otherwise removes it).
  public static func recover(_ directory: String) throws(TrainingError) {
    try CheckpointDirectory(directory).recover()
  }

  private static func validate(_ state: CheckpointState<Configuration>, path: String) throws(TrainingError) {
    for (key, value) in [("state.step", state.step), ("state.epoch", state.epoch), ("state.positionInEpoch", state.positionInEpoch)] where value < 0 {
      throw .corruptCheckpoint(path: path, key: key, reason: "is \(value), expected >= 0")
    }
    // The RNG state is checked while decoding (`SeededRNG.init(from:)`: 4 words, not all 0).
  }

  /// Sorted keys and readable non-finite floats (a diverged loss is still a loss to record).
  private static var encoder: JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return e
  }

  private static var decoder: JSONDecoder {
    let d = JSONDecoder()
    d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return d
  }
}

/// The file-system side of `Checkpoint`: the directory, its `.tmp-*` and `.old-*` siblings, the
/// atomic replacement, and readable locations for decoding errors.
struct CheckpointDirectory {
  static let stateName = "state.json"
  static let tensorsName = "tensors.safetensors"

  /// The checkpoint directory, without a trailing slash.
  let path: String
  private let parent: String
  private let baseName: String

  init(_ path: String) {
    var p = path
    while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
    self.path = p
    let url = URL(fileURLWithPath: p)
    parent = url.deletingLastPathComponent().path
    baseName = url.lastPathComponent
  }

  var stateFile: String { path + "/" + Self.stateName }

  private var fileManager: FileManager { FileManager.default }

  private func isDirectory(_ p: String) -> Bool {
    var directory: ObjCBool = false
    return fileManager.fileExists(atPath: p, isDirectory: &directory) && directory.boolValue
  }

  /// Siblings named `<base><marker>…`, newest first.
  private func siblings(_ marker: String) -> [String] {
    let names = (try? fileManager.contentsOfDirectory(atPath: parent)) ?? []
    let paths = names.filter { $0.hasPrefix(baseName + marker) }.map { parent + "/" + $0 }
    func modified(_ p: String) -> Date {
      ((try? fileManager.attributesOfItem(atPath: p))?[.modificationDate] as? Date) ?? .distantPast
    }
    return paths.sorted { (modified($0), $0) > (modified($1), $1) }
  }

  /// `path` when it is a directory, else the newest `.old-*` sibling a crash left behind.
  func readablePath() throws(TrainingError) -> String {
    if isDirectory(path) { return path }
    if let old = siblings(".old-").first(where: isDirectory) { return old }
    throw .cannotRead(path: path, reason: "no checkpoint directory here")
  }

  func recover() throws(TrainingError) {
    for temporary in siblings(".tmp-") { try? fileManager.removeItem(atPath: temporary) }
    var olds = siblings(".old-")
    if !fileManager.fileExists(atPath: path), let newest = olds.first {
      guard rename(newest, path) == 0 else { throw .writeFailed(path: path, reason: "cannot restore \(newest): \(Self.errnoText)") }
      olds.removeFirst()
    }
    for old in olds { try? fileManager.removeItem(atPath: old) }
  }

  /// Fills a fresh `<path>.tmp-<random>` with `fill` and moves it into place.
  func replace(_ fill: (String) throws(TrainingError) -> Void) throws(TrainingError) {
    let temporary = path + ".tmp-" + Self.randomSuffix()
    do {
      try fileManager.createDirectory(atPath: parent, withIntermediateDirectories: true)
      try fileManager.createDirectory(atPath: temporary, withIntermediateDirectories: false)
    } catch {
      throw .writeFailed(path: temporary, reason: (error as NSError).localizedDescription)
    }
    do {
      try fill(temporary)
      AtomicFile.syncDirectory(temporary)
    } catch {
      try? fileManager.removeItem(atPath: temporary)
      throw error
    }
    var old: String?
    if fileManager.fileExists(atPath: path) {
      let moved = path + ".old-" + Self.randomSuffix()
      guard rename(path, moved) == 0 else {
        let reason = Self.errnoText
        try? fileManager.removeItem(atPath: temporary)
        throw .writeFailed(path: path, reason: "cannot move the previous checkpoint aside: \(reason)")
      }
      old = moved
    }
    guard rename(temporary, path) == 0 else {
      let reason = Self.errnoText
      if let old { _ = rename(old, path) }
      try? fileManager.removeItem(atPath: temporary)
      throw .writeFailed(path: path, reason: reason)
    }
    AtomicFile.syncDirectory(parent)
    if let old { try? fileManager.removeItem(atPath: old) }
  }

  private static func randomSuffix() -> String {
    String(UInt64.random(in: 0...UInt64.max), radix: 16)
  }

  private static var errnoText: String { String(cString: strerror(errno)) }

  /// The JSON path of a decoding error, e.g. `state.rng.state[2]`.
  static func keyPath(_ error: any Error) -> String {
    func render(_ path: [any CodingKey]) -> String {
      path.reduce("") { text, key in
        if let i = key.intValue { return text + "[\(i)]" }
        return text.isEmpty ? key.stringValue : text + "." + key.stringValue
      }
    }
    switch error {
    case let DecodingError.keyNotFound(key, context): return render(context.codingPath + [key])
    case let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
      let DecodingError.dataCorrupted(context):
      let rendered = render(context.codingPath)
      return rendered.isEmpty ? "<document>" : rendered
    default: return "<document>"
    }
  }

  /// What was wrong, in a few words.
  static func reason(_ error: any Error) -> String {
    switch error {
    case DecodingError.keyNotFound: return "missing"
    case let DecodingError.typeMismatch(type, _): return "has the wrong type, expected \(type)"
    case let DecodingError.valueNotFound(type, _): return "is null, expected \(type)"
    case DecodingError.dataCorrupted: return "invalid: \(JSONLReader.reason(error))"
    default: return "\(error)"
    }
  }
}
