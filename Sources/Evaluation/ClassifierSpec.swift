import Backdoor
import Defense
import FileIO
import Foundation

/// How a trained adapter classifies, saved next to it as `classifier.json` so `evaluate` reads
/// the model exactly as it was trained: a plain prompt-based classifier, or a P2P-defended one
/// (then only through the P2P wrapper).
public struct ClassifierSpec: AdapterSpec, Sendable, Equatable {
  public enum Kind: String, Codable, Sendable { case plain, p2p }
  public var kind: Kind
  /// Prompt template and label words of a plain classifier.
  public var template: PromptTemplate?
  /// The defense configuration of a P2P classifier.
  public var p2p: P2PConfig?
  /// P2P: offsets added to the safe label words' scores before the argmax, one per label
  /// (`SafeSpaceCalibration`, fitted on clean dev rows by `p2p calibrate`); nil: none.
  public var safeBias: [Float]?
  /// The sha256 of the adapter weights this file belongs to (`adapter_model.safetensors` beside
  /// it); a mismatch is an error, never a silent switch to another classifier.
  public var adapterSHA256: String?

  public static let fileName = "classifier.json"

  public static func plain(_ template: PromptTemplate) -> ClassifierSpec { ClassifierSpec(kind: .plain, template: template, p2p: nil) }
  public static func defended(_ config: P2PConfig) -> ClassifierSpec { ClassifierSpec(kind: .p2p, template: nil, p2p: config) }

  public var labels: Int { p2p?.labels ?? template?.labelWords.count ?? 0 }

  /// Whether this spec classifies as `other` does (the recorded adapter hash aside).
  public func classifiesLike(_ other: ClassifierSpec) -> Bool { kind == other.kind && template == other.template && p2p == other.p2p }

  public func validate() throws {
    switch kind {
    case .plain:
      guard let template else { throw ExperimentError.invalid(key: "classifier.template", expected: "a prompt template for a plain classifier") }
      try template.validate()
    case .p2p:
      guard let p2p else { throw ExperimentError.invalid(key: "classifier.p2p", expected: "the P2P configuration of a defended classifier") }
      try p2p.validate()
      if let b = safeBias, b.count != p2p.labels || !b.allSatisfy(\.isFinite) {
        throw ExperimentError.invalid(key: "classifier.safeBias", expected: "\(p2p.labels) finite offsets, one per label")
      }
    }
  }

  public static let defendedKind = AdapterWeights.DefendedOutput.classification
  public static let rerunHint = "re-run `p2p defend` (or restore the file)"
}

/// The file beside an adapter that says how it is used (`classifier.json`, `generator.json`),
/// tied to the adapter's weights by their sha256.
public protocol AdapterSpec: Codable {
  static var fileName: String { get }
  /// The kind of `p2p defend` output whose adapters need this file.
  static var defendedKind: AdapterWeights.DefendedOutput { get }
  /// How to get the file back when a defended adapter lacks it.
  static var rerunHint: String { get }
  var adapterSHA256: String? { get set }
  func validate() throws
}

extension AdapterSpec {
  /// Writes the file with the hash of the adapter weights already saved in `directory`.
  public func save(in directory: String) throws {
    try validate()
    var spec = self
    spec.adapterSHA256 = AdapterWeights.sha256(in: directory)
    try JSONOutput.write(spec, to: directory + "/" + Self.fileName)
  }

  /// Reads the file from an adapter directory and checks it belongs to the adapter weights there;
  /// nil when the file does not exist.
  public static func load(from directory: String) throws -> Self? {
    let path = directory + "/" + fileName
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    let spec: Self
    do {
      spec = try JSONDecoder().decode(Self.self, from: data)
      try spec.validate()
    } catch { throw ExperimentError.badFile(path: path, reason: DecodingMessage.reason(error)) }
    try AdapterWeights.verify(spec.adapterSHA256, in: directory, spec: path)
    return spec
  }

  /// How an adapter folder is used, for every command that loads one: its spec file; nil only for
  /// a plain adapter (no spec, no P2P manifest). A P2P output without its spec is an error, so a
  /// defended adapter can never be used without the wrapper by accident.
  public static func forAdapter(_ directory: String) throws -> Self? {
    if let spec = try load(from: directory) { return spec }
    if AdapterWeights.defendedOutput(directory) == defendedKind {
      throw ExperimentError.badFile(path: directory + "/" + fileName, reason: "missing next to a P2P manifest: this is a defended adapter, "
                                    + "and without \(fileName) its wrapper is unknown; \(rerunHint)")
    }
    return nil
  }
}

/// The adapter weights of an output folder and the checks that tie a spec to them.
public enum AdapterWeights {
  public static let fileName = "adapter_model.safetensors"

  public static func sha256(in directory: String) -> String? { SHA256.file(directory + "/" + fileName) }

  /// Throws when `expected` (a spec's recorded hash) is not the hash of the weights in `directory`.
  public static func verify(_ expected: String?, in directory: String, spec: String) throws {
    guard let expected else { return }  // written before hashes were recorded
    guard let actual = sha256(in: directory) else {
      throw ExperimentError.badFile(path: directory + "/" + fileName, reason: "missing; \(spec) belongs to an adapter here")
    }
    guard actual == expected else {
      throw ExperimentError.badFile(path: directory + "/" + fileName, reason: "these are not the weights \(spec) was written for "
                                    + "(sha256 \(actual.prefix(12)), expected \(expected.prefix(12))): the adapter was replaced or edited")
    }
  }

  /// What kind of `p2p defend` output the folder is (by its P2P manifest), if any.
  public enum DefendedOutput: Sendable { case classification, generation }

  public static func defendedOutput(_ directory: String) -> DefendedOutput? {
    switch JSONOutput.manifestKind(in: directory) {
    case .classificationDefense: return .classification
    case .generationDefense: return .generation
    default: break
    }
    // Manifests written before the "kind" key.
    guard let data = FileManager.default.contents(atPath: directory + "/manifest.json"),
          let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
    if object["config"] != nil && object["benignSourceRows"] != nil { return .classification }
    if object["p2p"] != nil && object["task"] != nil { return .generation }
    return nil
  }
}
