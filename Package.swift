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
let engine: [SwiftSetting] = cpuFlags + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
  name: "P2P",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "p2p", targets: ["p2p"]),
    .library(name: "P2PKit", targets: ["TensorCore", "GGUF", "Tokenizer", "Llama", "Training", "Backdoor", "Evaluation", "Defense", "GenerationTasks", "Experiments"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),
    .target(name: "TensorCore", dependencies: ["CBLAS"], swiftSettings: engine),
    .target(name: "GGUF", swiftSettings: engine),
    .target(name: "Tokenizer", dependencies: ["GGUF"], swiftSettings: engine),
    .target(name: "Llama", dependencies: ["TensorCore", "GGUF", "Tokenizer"], swiftSettings: engine),
    .target(name: "Training", dependencies: ["TensorCore", "GGUF", "Tokenizer", "Llama"], swiftSettings: engine),
    .target(name: "Backdoor", dependencies: ["TensorCore"], swiftSettings: cpuFlags),
    .target(name: "Evaluation", dependencies: ["Backdoor", "Llama", "Tokenizer", "Training"], swiftSettings: cpuFlags),
    .target(name: "Defense", dependencies: ["Backdoor", "Evaluation", "Llama", "Tokenizer", "TensorCore"], swiftSettings: cpuFlags),
    .target(name: "GenerationTasks", dependencies: ["Backdoor", "TensorCore"], swiftSettings: cpuFlags),
    .target(
      name: "Experiments",
      dependencies: [
        "Backdoor", "Evaluation", "Defense", "GenerationTasks", "Llama", "Tokenizer", "Training", "TensorCore",
        .product(name: "Yams", package: "Yams"),
      ],
      swiftSettings: cpuFlags),
    .executableTarget(
      name: "p2p",
      dependencies: [
        "TensorCore", "GGUF", "Tokenizer", "Llama", "Training", "Backdoor", "Evaluation", "Defense",
        "GenerationTasks", "Experiments",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: cpuFlags),
    // A study tool: dumps the probe screen's inputs of a finished p2p-probe cell (scripts/study/README.md).
    .executableTarget(name: "p2p-screen-features", dependencies: ["Backdoor", "Defense", "Experiments", "Llama", "Training"],
                      path: "Sources/ScreenFeatures", swiftSettings: cpuFlags),
    .target(name: "TestSupport", dependencies: ["TensorCore", "GGUF", "Llama"], swiftSettings: cpuFlags),
    .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Backdoor", "Llama", "TestSupport"], swiftSettings: cpuFlags),
    .testTarget(name: "DefenseTests", dependencies: ["Defense", "Backdoor", "Evaluation", "Llama", "TestSupport"],
                swiftSettings: cpuFlags),
    .testTarget(name: "GenerationTasksTests", dependencies: ["GenerationTasks", "Backdoor", "TensorCore"],
                resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
    .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Backdoor", "Evaluation", "Defense", "Training", "TestSupport"],
                swiftSettings: cpuFlags),
    .testTarget(name: "BackdoorTests", dependencies: ["Backdoor", "TensorCore"], swiftSettings: cpuFlags),
    .testTarget(name: "TrainingTests", dependencies: ["Training", "Llama", "TensorCore", "GGUF", "TestSupport"],
                resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
    .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"], swiftSettings: cpuFlags),
    .testTarget(name: "GGUFTests", dependencies: ["GGUF", "TestSupport"],
                resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
    .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "GGUF", "TestSupport"],
                resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
    .testTarget(name: "LlamaTests", dependencies: ["Llama", "TensorCore", "GGUF", "Tokenizer", "TestSupport"],
                resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
  ],
  swiftLanguageModes: [.v6]
)
