/// Everything that can go wrong in the Training module. Each case says where (file, 1-based line,
/// key or tensor name) and what was expected, so a user can tell a malformed dataset line from a
/// truncated checkpoint or a bad flag without reading the code.
///
/// The enum is meant to grow: add a case (with its location and expectation) rather than
/// stretching an existing one, and describe it in `description`.
public enum TrainingError: Error, Equatable, CustomStringConvertible, Sendable {
  // MARK: Configuration and arguments

  /// A configuration value or argument (`key`) is outside what is supported.
  case invalidValue(key: String, value: String, expected: String)

  // MARK: Files

  /// A file or directory cannot be read (missing, permissions, I/O error).
  case cannotRead(path: String, reason: String)
  /// A file or directory cannot be written or renamed into place.
  case writeFailed(path: String, reason: String)

  // MARK: JSONL datasets

  /// Line `line` (1-based) of `path` is not one valid JSON object.
  case invalidJSON(path: String, line: Int, reason: String)
  /// Line `line` of `path` lacks the required key `key`.
  case missingKey(path: String, line: Int, key: String)
  /// `key` on line `line` of `path` holds a `found` where `expected` is required.
  case wrongType(path: String, line: Int, key: String, expected: String, found: String)
  /// `key` on line `line` of `path` is an empty string where text is required.
  case emptyValue(path: String, line: Int, key: String)
  /// `path` holds no example at all (only blank lines, or nothing).
  case emptyDataset(path: String)

  // MARK: safetensors

  /// The file is shorter than its own structure says: `needed` bytes are required for `what`.
  case safeTensorsTruncated(path: String, what: String, needed: Int, fileSize: Int)
  /// The JSON header is unusable (length limit, not UTF-8, not JSON, not an object, bad entry).
  case safeTensorsBadHeader(path: String, key: String, reason: String)
  /// `tensor` has a dtype string that the safetensors format does not define.
  case safeTensorsUnknownDType(path: String, tensor: String, dtype: String)
  /// `tensor` has a dtype this reader cannot convert to Float (only F32, F16, BF16, F64 can).
  case safeTensorsUnsupportedDType(path: String, tensor: String, dtype: String)
  /// `tensor`'s `data_offsets` [begin, end) are reversed or run past the data section.
  case safeTensorsOffsetsOutOfRange(path: String, tensor: String, begin: Int, end: Int, dataSize: Int)
  /// Two tensors' byte ranges overlap.
  case safeTensorsOverlap(path: String, first: String, second: String)
  /// `tensor`'s shape and dtype need `expectedBytes`, its offsets span `foundBytes`.
  case safeTensorsSizeMismatch(path: String, tensor: String, shape: [Int], expectedBytes: Int, foundBytes: Int)
  /// A tensor that must be present is absent.
  case missingTensor(path: String, tensor: String)

  // MARK: Checkpoints

  /// A checkpoint's `state.json` or tensor set is inconsistent: `key` names the field.
  case corruptCheckpoint(path: String, key: String, reason: String)
  /// A training step produced a NaN or infinite loss or gradient; training stopped before the
  /// optimizer applied it (the last checkpoint is kept).
  case nonFinite(step: Int, what: String, value: Double, checkpoint: String?)

  public var description: String {
    switch self {
    case let .invalidValue(key, value, expected):
      return "invalid value '\(value)' for \(key): expected \(expected)"
    case let .cannotRead(path, reason): return "cannot read '\(path)': \(reason)"
    case let .writeFailed(path, reason): return "cannot write '\(path)': \(reason)"
    case let .invalidJSON(path, line, reason): return "\(path):\(line): not a valid JSON object: \(reason)"
    case let .missingKey(path, line, key): return "\(path):\(line): missing key \"\(key)\""
    case let .wrongType(path, line, key, expected, found):
      return "\(path):\(line): \"\(key)\" is \(found), expected \(expected)"
    case let .emptyValue(path, line, key): return "\(path):\(line): \"\(key)\" is empty, expected non-empty text"
    case let .emptyDataset(path): return "'\(path)' contains no examples"
    case let .safeTensorsTruncated(path, what, needed, size):
      return "safetensors file '\(path)' is truncated: \(what) needs \(needed) bytes, the file has \(size)"
    case let .safeTensorsBadHeader(path, key, reason):
      return Self.safeTensors(path, "bad header entry '\(key)': \(reason)")
    case let .safeTensorsUnknownDType(path, tensor, dtype):
      return Self.safeTensors(path, "tensor '\(tensor)' has unknown dtype '\(dtype)'")
    case let .safeTensorsUnsupportedDType(path, tensor, dtype):
      return Self.safeTensors(path, "tensor '\(tensor)' has dtype \(dtype); expected F32, F16, BF16 or F64")
    case let .safeTensorsOffsetsOutOfRange(path, tensor, begin, end, size):
      return Self.safeTensors(path, "tensor '\(tensor)' data_offsets [\(begin), \(end)) are outside the data section of \(size) bytes")
    case let .safeTensorsOverlap(path, first, second):
      return Self.safeTensors(path, "tensors '\(first)' and '\(second)' overlap")
    case let .safeTensorsSizeMismatch(path, tensor, shape, expected, found):
      return Self.safeTensors(path, "tensor '\(tensor)' of shape \(shape) needs \(expected) bytes, its data_offsets span \(found)")
    case let .missingTensor(path, tensor): return "'\(path)' has no tensor '\(tensor)'"
    case let .nonFinite(step, what, value, checkpoint):
      return "training stopped at step \(step): the \(what) is \(value) (not finite); nothing of this step was applied"
        + (checkpoint.map { "; the last checkpoint in \($0), if one was written, is kept" } ?? "")
        + ". Lower --lr, check the data for very long or empty rows, or enable --max-grad-norm"
    case let .corruptCheckpoint(path, key, reason): return "checkpoint '\(path)': \(key): \(reason)"
    }
  }

  /// A message about the safetensors file at `path` (all but the truncation message start so).
  private static func safeTensors(_ path: String, _ detail: String) -> String { "safetensors file '\(path)': \(detail)" }
}
