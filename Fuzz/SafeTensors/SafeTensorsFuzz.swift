// libFuzzer target for the safetensors reader (`SafeTensorsFile`) and the PEFT adapter loader
// (`PEFTAdapter.load`). Built by scripts/fuzz-readers.sh (SwiftPM target `p2p-fuzz-safetensors`,
// only in the package when P2P_FUZZ=1); see that script for how to run it.
//
// An input is a safetensors file, or `adapter_config.json` bytes, the separator below and a
// safetensors file (then both files of a PEFT adapter folder come from the input; without the
// separator the config is a fixed one for the tiny model). Both readers must return or throw
// `TrainingError`: a trap, a crash or an ASan report is a finding, and so is a broken invariant
// (checked with `check`, which calls `fatalError`):
//  - the same bytes read from a `Data` slice that does not start at index 0 give the same file;
//  - every tensor's range lies in the data section, `bytes(name)` has its size, `info(name)`
//    finds it, and F32/F16/BF16/F64 tensors convert to Float with their shape (other dtypes
//    throw `safeTensorsUnsupportedDType`);
//  - the converted tensors and the metadata, rewritten with `SafeTensorsWriter`, read back equal
//    (bit for bit) and rewrite to the same bytes;
//  - an adapter that loads for the tiny model has one slot per (layer, module), and saves with
//    `PEFTAdapter.save` and loads back to the same parameters, bit for bit.
//
// `P2P_FUZZ_SEEDS=DIR Fuzz/safetensors-fuzz` writes small seed inputs (adapters of the tiny
// model, tensors of every convertible dtype) into DIR and exits.

import Foundation
import Llama
import Training
#if canImport(Glibc)
import Glibc
#endif

/// A broken invariant: `fatalError`, whose message (unlike `precondition`'s) an optimized build
/// still prints, so the finding says what broke.
private func fail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
  fatalError("fuzz invariant broken: " + message, file: file, line: line)
}

private func check(_ ok: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
  if !ok { fail(message(), file: file, line: line) }
}

/// Between the `adapter_config.json` bytes and the safetensors bytes of a PEFT adapter input.
private let separator = Array("\n@@adapter_model.safetensors@@\n".utf8)

/// A Llama of two layers, hidden size 8, 2 query heads of dimension 4 and 1 KV head: small enough
/// that every valid adapter is a few hundred floats, with q/k row permutation and GQA geometry.
private let tinyModel = LlamaConfig(layerCount: 2, hiddenSize: 8, feedForwardSize: 12, headCount: 2, kvHeadCount: 1,
                                    vocabularySize: 32)

private let defaultConfig = Array("""
  {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 2, "lora_alpha": 4, "lora_dropout": 0.0,
   "target_modules": ["q_proj", "v_proj"], "bias": "none"}
  """.utf8)

private let workDirectory: String = {
  let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
  let dir = base + "/p2p-fuzz-safetensors-\(getpid())"
  try? FileManager.default.createDirectory(atPath: dir + "/adapter", withIntermediateDirectories: true)
  atexit { try? FileManager.default.removeItem(atPath: workDirectory) }
  return dir
}()

private func write(_ bytes: [UInt8], to path: String) {
  guard (try? Data(bytes).write(to: URL(fileURLWithPath: path))) != nil else { fail("fuzz harness: cannot write \(path)") }
}

/// The case of an error, without its values.
private func kind(_ error: TrainingError) -> String { Mirror(reflecting: error).children.first?.label ?? "\(error)" }

private func same(_ a: [Float], _ b: [Float]) -> Bool { a.map(\.bitPattern) == b.map(\.bitPattern) }

/// The file's tensors converted to Float (nil for dtypes that do not convert), after checking the
/// per-tensor invariants.
private func checkTensors(_ file: SafeTensorsFile, dataSize: Int) -> [String: FloatTensor] {
  var out: [String: FloatTensor] = [:]
  check(zip(file.tensors, file.tensors.dropFirst()).allSatisfy { $0.name < $1.name }, "tensors not sorted by distinct names")
  for t in file.tensors {
    check(file.info(t.name) == t, "info('\(t.name)') does not find the tensor")
    check(t.dataOffsets.lowerBound >= 0 && t.dataOffsets.upperBound <= dataSize, "'\(t.name)' accepted outside the data section")
    check(t.shape.allSatisfy { $0 >= 0 }, "'\(t.name)' has a negative dimension")
    do {
      let bytes = try file.bytes(t.name)
      check(bytes.count == t.dataOffsets.count, "bytes('\(t.name)') has \(bytes.count) bytes, its range \(t.dataOffsets.count)")
      _ = bytes.reduce(0, &+)  // touch every byte (ASan)
    } catch { fail("bytes('\(t.name)') of a listed tensor threw \(error)") }
    do {
      let f = try file.floatTensor(t.name)
      check([.f32, .f16, .bf16, .f64].contains(t.dtype), "\(t.dtype) tensor '\(t.name)' converted to Float")
      check(f.shape == t.shape && f.values.count * t.dtype.bits / 8 == t.dataOffsets.count,
                   "'\(t.name)': converted shape \(f.shape) / \(f.values.count) values for \(t.shape), \(t.dataOffsets.count) bytes")
      let flat = try file.floats(t.name)
      check(same(flat, f.values), "floats('\(t.name)') differs from floatTensor")
      out[t.name] = f
    } catch {
      guard case .safeTensorsUnsupportedDType = error, ![.f32, .f16, .bf16, .f64].contains(t.dtype) else {
        fail("floatTensor('\(t.name)') of dtype \(t.dtype) threw \(error)")
      }
    }
  }
  for missing in ["", "__metadata__", "\u{0}"] where file.info(missing) == nil {
    do { _ = try file.bytes(missing); fail("bytes of a missing tensor returned") } catch {
      guard case .missingTensor = error else { fail("bytes of a missing tensor threw \(error)") }
    }
  }
  return out
}

private func checkSafeTensors(_ bytes: [UInt8]) {
  let file: SafeTensorsFile
  do { file = try SafeTensorsFile(data: Data(bytes), path: "input") } catch {
    _ = error.description
    // The same bytes in a slice that does not start at index 0 must fail the same way (the same
    // case: with several bad header entries, which one JSONDecoder reports first varies).
    let first = error
    do {
      _ = try SafeTensorsFile(data: Data([0xA5] + bytes).dropFirst(), path: "input")
      fail("a slice of the bytes parses, the bytes fail with \(first)")
    } catch {
      check(kind(error) == kind(first), "a slice of the bytes fails with \(error), the bytes with \(first)")
    }
    return
  }
  let headerLength = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
  let tensors = checkTensors(file, dataSize: bytes.count - 8 - headerLength)
  do {
    let slice = try SafeTensorsFile(data: Data([0xA5] + bytes).dropFirst(), path: "input")
    check(slice.tensors == file.tensors && slice.metadata == file.metadata, "a slice of the same bytes parses differently")
    for t in file.tensors {
      let (a, b) = (try slice.bytes(t.name), try file.bytes(t.name))
      check(a == b, "a slice gives other bytes for '\(t.name)'")
    }
  } catch { fail("a slice of bytes that parse throws \(error)") }

  // Rewrite the convertible tensors and the metadata; the writer's output must read back equal.
  var writer = SafeTensorsWriter(metadata: file.metadata)
  for (name, t) in tensors where !name.isEmpty { try? writer.add(name, t) }
  let once = writer.bytes()
  do {
    let back = try SafeTensorsFile(data: once, path: "rewritten")
    check(back.metadata == file.metadata, "metadata changed in a rewrite: \(back.metadata) vs \(file.metadata)")
    check(back.tensors.map(\.name) == writer.tensors.keys.sorted(), "tensor names changed in a rewrite")
    var again = SafeTensorsWriter(metadata: back.metadata)
    for t in back.tensors {
      let f = try back.floatTensor(t.name)
      check(t.dtype == .f32 && f.shape == writer.tensors[t.name]?.shape && same(f.values, writer.tensors[t.name]?.values ?? []),
                   "tensor '\(t.name)' changed in a rewrite")
      try again.add(t.name, f)
    }
    check(again.bytes() == once, "SafeTensorsWriter output is not a fixed point")
  } catch {
    fail("SafeTensorsWriter wrote a file that does not read back: \(error)")
  }
}

private func checkAdapter(config: [UInt8], weights: [UInt8]) {
  let dir = workDirectory + "/adapter"
  write(config, to: dir + "/" + PEFTAdapter.configFile)
  write(weights, to: dir + "/" + PEFTAdapter.weightsFile)
  let lora: LoRAParameters
  do { lora = try PEFTAdapter.load(from: dir, model: tinyModel) } catch {
    _ = error.description
    return
  }
  check(lora.values.array.allSatisfy(\.isFinite), "a loaded adapter holds a non-finite weight")
  // Each (layer, module) once: a module listed twice in target_modules gave two slots, which
  // `merge(into:)` added twice (Fuzz/crashes-found/README.md; LoRAConfig.validate refuses it now).
  let slots = Set(lora.slots.map { "\($0.layer).\($0.target)" })
  if slots.count != lora.slots.count {
    fail("target_modules \(lora.config.targets.map(\.shortName)) loads as \(lora.slots.count) slots for \(slots.count) modules: merge(into:) would add the same delta twice")
  }
  let resaved = workDirectory + "/resaved"
  do {
    try PEFTAdapter.save(lora, model: tinyModel, baseModel: "tiny", to: resaved)
    let back = try PEFTAdapter.load(from: resaved, model: tinyModel)
    check(back.config == lora.config && back.slots == lora.slots, "the adapter's configuration changed in a save and load")
    check(same(back.values.array, lora.values.array), "the adapter's weights changed in a save and load")
  } catch {
    fail("an adapter that loaded does not save and load back: \(error)")
  }
}

/// One input: see the header comment.
@_cdecl("LLVMFuzzerTestOneInput")
public func safeTensorsFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  if let r = bytes.firstRange(of: separator) {
    let config = Array(bytes[..<r.lowerBound]), weights = Array(bytes[r.upperBound...])
    checkSafeTensors(weights)
    checkAdapter(config: config, weights: weights)
  } else {
    checkSafeTensors(bytes)
    checkAdapter(config: defaultConfig, weights: bytes)
  }
  return 0
}

// MARK: Seeds

/// A safetensors file from raw entries (the writer only writes F32).
private func safetensors(_ entries: [(name: String, dtype: String, shape: [Int], data: [UInt8])], metadata: [String: String] = [:]) -> [UInt8] {
  var fields: [String] = []
  if !metadata.isEmpty {
    fields.append("\"__metadata__\":{" + metadata.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",") + "}")
  }
  var offset = 0, body: [UInt8] = []
  for e in entries {
    fields.append("\"\(e.name)\":{\"dtype\":\"\(e.dtype)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + e.data.count)]}")
    offset += e.data.count
    body += e.data
  }
  var header = Array("{\(fields.joined(separator: ","))}".utf8)
  header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
  var out: [UInt8] = []
  withUnsafeBytes(of: UInt64(header.count).littleEndian) { out += $0 }
  return out + header + body
}

private func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
  values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
}

private func seeds() -> [String: [UInt8]] {
  var out: [String: [UInt8]] = [:]
  var state: UInt64 = 0x9E3779B97F4A7C15
  func next() -> Float {
    state = state &* 6364136223846793005 &+ 1442695040888963407
    return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1e4
  }
  func adapter(_ config: LoRAConfig, names alt: Bool = false) -> [UInt8] {
    let lora = LoRAParameters(model: tinyModel, lora: config)
    for i in 0..<lora.values.count { lora.values.pointer[i] = next() }
    let dir = workDirectory + "/seed"
    try! PEFTAdapter.save(lora, model: tinyModel, baseModel: "tiny", to: dir)
    var weights = Array(FileManager.default.contents(atPath: dir + "/" + PEFTAdapter.weightsFile)!)
    let config = Array(FileManager.default.contents(atPath: dir + "/" + PEFTAdapter.configFile)!)
    if alt {
      // PEFT's other spelling of the names: "...lora_A.default.weight" (same length header rewrite).
      let file = try! SafeTensorsFile(data: Data(weights), path: "seed")
      var entries: [(name: String, dtype: String, shape: [Int], data: [UInt8])] = []
      for t in file.tensors { entries.append((t.name.replacingOccurrences(of: ".weight", with: ".default.weight"), "F32", t.shape, Array(try! file.bytes(t.name)))) }
      weights = safetensors(entries, metadata: ["format": "pt"])
    }
    return config + separator + weights
  }
  out["adapter-qv-r2"] = adapter(LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v]))
  out["adapter-all-r1"] = adapter(LoRAConfig(rank: 1, alpha: 2, dropout: 0.1, targets: LoRATarget.allCases))
  out["adapter-k-r3-default-names"] = adapter(LoRAConfig(rank: 3, alpha: 8, targets: [.k]), names: true)
  // Weights only (the fixed config: q, v, r=2).
  let qv = out["adapter-qv-r2"]!
  out["weights-qv-r2"] = Array(qv[(qv.firstRange(of: separator)!.upperBound)...])
  out["dtypes"] = safetensors([
    ("a_f32", "F32", [2, 2], littleEndian([Float(1.5), -2, 0, .infinity].map(\.bitPattern))),
    ("b_f16", "F16", [3], littleEndian([Float16(0.5), Float16(-1), Float16.nan].map(\.bitPattern))),
    ("c_bf16", "BF16", [1, 2], littleEndian([UInt16(0x3F80), 0xC000])),
    ("d_f64", "F64", [2], littleEndian([Double(1e-3), 1e300].map(\.bitPattern))),
    ("e_i32", "I32", [2], littleEndian([Int32(7), -7])),
    ("f_u8", "U8", [0], []),
    ("g_bool", "BOOL", [], [1]),
    ("h_f4", "F4", [4], [0x12, 0x34]),
  ], metadata: ["format": "pt", "note": "seed"])
  out["scalar-and-empty"] = safetensors([("s", "F32", [], littleEndian([Float(3).bitPattern])), ("z", "F64", [0, 5], [])])
  return out
}

/// `P2P_FUZZ_SEEDS=DIR`: write the seeds and exit before fuzzing.
@_cdecl("LLVMFuzzerInitialize")
public func safeTensorsFuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?,
                                      _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
  guard let dir = ProcessInfo.processInfo.environment["P2P_FUZZ_SEEDS"] else { return 0 }
  try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  for (name, bytes) in seeds() { write(bytes, to: dir + "/seed-" + name) }
  exit(0)
}
