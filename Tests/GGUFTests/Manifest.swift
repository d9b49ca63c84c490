/// `Fixtures/gguf_fixtures.json`: what Python's `gguf.GGUFReader` reported for each fixture file,
/// and where the real-model blocks come from.
struct Manifest: Decodable {
  struct Tensor: Decodable {
    let name: String
    let type: UInt32
    let dimensions: [Int]
    /// Relative to the data section.
    let offset: Int
    let bytes: Int
  }

  struct File: Decodable {
    let dataOffset: Int
    let alignment: Int
    let size: Int
    let keys: [String]
    /// Wire type ids per key, arrays followed by their element types (`[9, 9, 5]`).
    let types: [String: [UInt32]]
    let tensors: [Tensor]

    enum CodingKeys: String, CodingKey {
      case dataOffset = "data_offset", alignment, size, keys, types, tensors
    }
  }

  struct RealBlocks: Decodable {
    let tensor: String
    let type: UInt32
    let blocks: Int
    /// Absolute offset of the tensor in the model file.
    let fileOffset: Int
    let sha256: String

    enum CodingKeys: String, CodingKey {
      case tensor, type, blocks, fileOffset = "file_offset", sha256
    }
  }

  let generator: String
  /// Keyed by fixture file name (`python_all_types.gguf.bin`).
  let files: [String: File]
  /// Keyed by fixture stem (`real_token_embd_q8_0`); empty when made without the model.
  let realBlocks: [String: RealBlocks]

  enum CodingKeys: String, CodingKey {
    case generator, files, realBlocks = "real_blocks"
  }

  init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    generator = try c.decode(String.self, forKey: .generator)
    files = try c.decode([String: File].self, forKey: .files)
    realBlocks = try c.decodeIfPresent([String: RealBlocks].self, forKey: .realBlocks) ?? [:]
  }
}
