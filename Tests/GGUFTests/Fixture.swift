import Foundation
import GGUF

/// Access to the reference fixtures written by `scripts/fixtures/gguf_fixtures.py`
/// (Tests/GGUFTests/Fixtures, copied into the test bundle).
enum Fixture {
  struct Missing: Error, CustomStringConvertible {
    let name: String
    var description: String { "fixture '\(name)' is missing: run scripts/fixtures/gguf_fixtures.py" }
  }

  static func url(_ name: String, _ ext: String) throws -> URL {
    guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures") else {
      throw Missing(name: "\(name).\(ext)")
    }
    return url
  }

  static func bytes(_ name: String, _ ext: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: url(name, ext)))
  }

  /// A Python-written GGUF file (stored as `<name>.gguf.bin`: the repository ignores *.gguf).
  static func gguf(_ name: String) throws -> [UInt8] { try bytes("\(name).gguf", "bin") }

  /// A raw little-endian float32 file as bit patterns (exact comparison, NaN included).
  static func floatBits(_ name: String) throws -> [UInt32] {
    let raw = try bytes(name, "f32")
    return stride(from: 0, to: raw.count - 3, by: 4).map { i in
      UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16 | UInt32(raw[i + 3]) << 24
    }
  }

  static func manifest() throws -> Manifest {
    try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: url("gguf_fixtures", "json")))
  }
}
