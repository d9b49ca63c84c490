// swift-tools-version:6.0
import PackageDescription

/// Kernels are built for the host CPU: a default release build emits baseline x86-64 (SSE2) and
/// loses 4x on SIMD code (DESIGN.md §5, pitfall 2). `P2P_PORTABLE=1` builds for Haswell instead.
let cpuFlags: [SwiftSetting] = {
  #if arch(x86_64)
  let portable = Context.environment["P2P_PORTABLE"] == "1"
  return [.unsafeFlags(["-target-cpu", portable ? "haswell" : "native"])]
  #else
  return []
  #endif
}()
/// `P2P_FUZZ=1` (scripts/fuzz-readers.sh only, in its own scratch path `.build-fuzz`) adds the
/// libFuzzer targets below and keeps the runtime checks `-Ounchecked` would remove, so an overflow
/// or out-of-range index traps where it happens. The default build graph does not change.
let fuzzing = Context.environment["P2P_FUZZ"] == "1"
let engine: [SwiftSetting] = cpuFlags + (fuzzing ? [] : [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))])

let package = Package(
  name: "P2P",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "p2p", targets: ["p2p"]),
    .library(name: "P2PKit", targets: ["FileIO", "TensorCore", "GGUF", "Jinja", "Tokenizer", "Llama", "Training", "Checkpoint", "Backdoor", "Defense", "Evaluation", "Inference", "Experiments"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),
    .target(name: "FileIO", swiftSettings: cpuFlags),
    .target(name: "TensorCore", dependencies: ["CBLAS"], swiftSettings: engine),
    .target(name: "GGUF", swiftSettings: engine),
    .target(name: "Jinja", swiftSettings: cpuFlags),
    .target(name: "Tokenizer", dependencies: ["GGUF", "Jinja"], swiftSettings: engine),
    .target(name: "Llama", dependencies: ["TensorCore", "GGUF", "Tokenizer"], swiftSettings: engine),
    .target(name: "Training", dependencies: ["TensorCore", "Llama"], swiftSettings: engine),
    .target(name: "Checkpoint", dependencies: ["GGUF", "Llama", "Tokenizer", "Training"], swiftSettings: cpuFlags),
    .target(name: "Backdoor", dependencies: ["FileIO", "TensorCore"], swiftSettings: cpuFlags),
    .target(name: "Defense", dependencies: ["Backdoor", "TensorCore"], swiftSettings: cpuFlags),
    .target(name: "Evaluation", dependencies: ["Backdoor", "Defense", "FileIO", "TensorCore"], swiftSettings: cpuFlags),
    .target(name: "Inference", dependencies: ["Defense", "Evaluation", "Llama", "TensorCore", "Tokenizer"], swiftSettings: cpuFlags),
    .target(
      name: "Experiments",
      dependencies: [
        "Backdoor", "Checkpoint", "Defense", "Evaluation", "FileIO", "GGUF", "Inference", "Llama", "Tokenizer", "Training", "TensorCore",
        .product(name: "Yams", package: "Yams"),
      ],
      swiftSettings: cpuFlags),
    .executableTarget(
      name: "p2p",
      dependencies: [
        "FileIO", "TensorCore", "GGUF", "Jinja", "Tokenizer", "Llama", "Training", "Checkpoint", "Backdoor", "Defense", "Evaluation",
        "Inference", "Experiments",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: cpuFlags),
    .target(name: "TestSupport", dependencies: ["TensorCore", "GGUF", "Llama"], swiftSettings: cpuFlags),
    .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Backdoor", "Defense", "FileIO", "Inference", "Llama", "TensorCore", "TestSupport"],
                swiftSettings: cpuFlags),
    .testTarget(name: "DefenseTests", dependencies: ["Defense", "Backdoor", "TensorCore", "TestSupport"],
                resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
    .testTarget(name: "GenerationTests", dependencies: ["Backdoor", "Defense", "Evaluation", "TensorCore", "TestSupport"],
                resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
    .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Checkpoint", "FileIO", "GGUF", "Backdoor", "Evaluation", "Defense", "Inference", "Llama", "Tokenizer", "Training", "TestSupport"],
                resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
    .testTarget(name: "BackdoorTests", dependencies: ["Backdoor", "FileIO", "TensorCore"], swiftSettings: cpuFlags),
    .testTarget(name: "FileIOTests", dependencies: ["FileIO"], swiftSettings: cpuFlags),
    .testTarget(name: "TrainingTests", dependencies: ["Training", "Llama", "TensorCore", "GGUF", "TestSupport"],
                resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
    .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "GGUF", "Llama", "TestSupport", "Tokenizer", "Training"], swiftSettings: cpuFlags),
    .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"], swiftSettings: cpuFlags),
    .testTarget(name: "GGUFTests", dependencies: ["GGUF"],
                resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
    .testTarget(name: "JinjaTests", dependencies: ["Jinja"], resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
    .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "GGUF", "Jinja"],
                resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
    .testTarget(name: "LlamaTests", dependencies: ["Llama", "TensorCore", "GGUF", "TestSupport"],
                resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
  ],
  swiftLanguageModes: [.v6]
)

// libFuzzer targets for the readers of untrusted files (Fuzz/*/*Fuzz.swift, scripts/fuzz-readers.sh),
// built with `-sanitize=fuzzer,address -parse-as-library`; P2PFuzzMain (C) hands `main` to libFuzzer.
if fuzzing {
  package.targets += [
    .target(name: "P2PFuzzMain", path: "Fuzz/Main"),
    .executableTarget(name: "p2p-fuzz-datasets", dependencies: ["P2PFuzzMain", "Backdoor", "FileIO"],
                      path: "Fuzz/Datasets", swiftSettings: cpuFlags),
    .executableTarget(name: "p2p-fuzz-experiments", dependencies: ["P2PFuzzMain", "Experiments", "Backdoor", "FileIO"],
                      path: "Fuzz/Experiments", swiftSettings: cpuFlags),
    .executableTarget(name: "p2p-fuzz-safetensors", dependencies: ["P2PFuzzMain", "Training", "Llama"],
                      path: "Fuzz/SafeTensors", swiftSettings: cpuFlags),
  ]
}
