import GGUF
import Testing

/// Bit patterns of floats, so comparisons are exact (-0 ≠ +0, NaN payloads matter).
func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

/// Expects two bit-pattern arrays to be identical, reporting the first differences.
func expectBitIdentical(_ actual: [UInt32], _ expected: [UInt32], _ label: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
  #expect(actual.count == expected.count, "\(label): \(actual.count) values, expected \(expected.count)",
          sourceLocation: sourceLocation)
  let diffs = zip(actual, expected).enumerated().filter { $0.element.0 != $0.element.1 }
  let shown = diffs.prefix(4).map { d in
    "[\(d.offset)] \(Float(bitPattern: d.element.0)) (0x\(String(d.element.0, radix: 16))) vs "
      + "\(Float(bitPattern: d.element.1)) (0x\(String(d.element.1, radix: 16)))"
  }
  #expect(diffs.isEmpty, "\(label): \(diffs.count) values differ: \(shown.joined(separator: "; "))",
          sourceLocation: sourceLocation)
}

/// The wire type ids of a value, flattened the way Python's `GGUFReader.fields[k].types` lists them.
func wireTypes(_ value: MetadataValue) -> [UInt32] {
  switch value {
  case .uint8: return [0]
  case .int8: return [1]
  case .uint16: return [2]
  case .int16: return [3]
  case .uint32: return [4]
  case .int32: return [5]
  case .float32: return [6]
  case .bool: return [7]
  case .string: return [8]
  case let .array(items): return [9] + (items.first.map(wireTypes) ?? [])
  case .uint64: return [10]
  case .int64: return [11]
  case .float64: return [12]
  }
}

/// Runs `body` and returns the `GGUFError` it threw, or nil when it succeeded. (Closures infer
/// `any Error` as their thrown type, so the cast is checked here: any other error is an issue.)
func gguferror<T>(_ body: () throws -> T, sourceLocation: SourceLocation = #_sourceLocation) -> GGUFError? {
  do { _ = try body(); return nil } catch let error as GGUFError { return error } catch {
    Issue.record("expected a GGUFError, got \(error)", sourceLocation: sourceLocation)
    return nil
  }
}

/// The error that parsing `bytes` throws, or nil when it parses.
func readError(_ bytes: [UInt8]) -> GGUFError? {
  do { _ = try GGUFFile(bytes: bytes); return nil } catch { return error }
}

/// The error that opening `path` throws, or nil when it opens.
func openError(_ path: String) -> GGUFError? {
  do { _ = try GGUFFile(path: path); return nil } catch { return error }
}
