/// A Hugging Face checkpoint folder that cannot be read as a model: names the file and the key.
public enum CheckpointError: Error, CustomStringConvertible, Sendable, Equatable {
  case cannotRead(path: String, reason: String)
  case invalid(path: String, key: String, found: String, expected: String)
  case missingTensor(path: String, tensor: String)

  public var description: String {
    switch self {
    case let .cannotRead(path, reason): return "\(path): \(reason)"
    case let .invalid(path, key, found, expected): return "\(path): '\(key)' is \(found); expected \(expected)"
    case let .missingTensor(path, tensor): return "\(path): no tensor '\(tensor)' in the checkpoint's safetensors files"
    }
  }
}
