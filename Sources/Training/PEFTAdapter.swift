import Foundation
import Llama

/// LoRA adapters in PEFT's on-disk format: a directory with `adapter_config.json` and
/// `adapter_model.safetensors` (tensor names `base_model.model.model.layers.{i}.<module>.lora_A.weight`,
/// transformers' q/k row order). An adapter saved here loads in PEFT and vice versa
/// (`scripts/fixtures/training_fixtures.py --check-swift-adapter DIR`).
public enum PEFTAdapter {
  public static let configFile = "adapter_config.json"
  public static let weightsFile = "adapter_model.safetensors"

  /// The keys of `adapter_config.json` we read and write (PEFT writes many more; unknown keys
  /// are ignored on load).
  struct Config: Codable {
    var peft_type = "LORA"
    var task_type = "CAUSAL_LM"
    var r: Int
    var lora_alpha: Float
    var lora_dropout: Float
    var target_modules: [String]
    var bias = "none"
    var fan_in_fan_out = false
    var use_rslora = false
    var use_dora = false
    var inference_mode = true
    var init_lora_weights = true
    var base_model_name_or_path: String?
    var peft_version: String?
  }

  /// Writes `lora` for `model` into `directory` (created if needed; files replaced atomically).
  public static func save(_ lora: LoRAParameters, model: LlamaConfig, baseModel: String?, to directory: String) throws(TrainingError) {
    do {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
      throw .writeFailed(path: directory, reason: error.localizedDescription)
    }
    var writer = SafeTensorsWriter(metadata: ["format": "pt"])
    for slot in lora.slots {
      for m in LoRAMatrix.allCases {
        let data = lora.exportMatrix(slot: slot, matrix: m, model: model)
        try writer.add(LoRAParameters.peftName(layer: slot.layer, target: slot.target, matrix: m),
                       try FloatTensor(shape: lora.peftShape(slot, m), values: data))
      }
    }
    try writer.write(to: directory + "/" + weightsFile)
    let config = Config(r: lora.config.rank, lora_alpha: lora.config.alpha, lora_dropout: lora.config.dropout,
                        target_modules: lora.config.targets.map(\.shortName), base_model_name_or_path: baseModel,
                        peft_version: "0.21.2")
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    do {
      let data = try encoder.encode(config)
      try data.write(to: URL(fileURLWithPath: directory + "/" + configFile), options: .atomic)
    } catch {
      throw .writeFailed(path: directory + "/" + configFile, reason: error.localizedDescription)
    }
  }

  /// Reads a PEFT LoRA adapter for a model of configuration `model`, checking every shape.
  public static func load(from directory: String, model: LlamaConfig) throws(TrainingError) -> LoRAParameters {
    let configPath = directory + "/" + configFile
    guard let data = FileManager.default.contents(atPath: configPath) else {
      throw .cannotRead(path: configPath, reason: "missing (an adapter directory holds \(configFile) and \(weightsFile))")
    }
    let config: Config
    do { config = try JSONDecoder().decode(Config.self, from: data) } catch {
      throw .invalidJSON(path: configPath, line: 1, reason: "\(error)")
    }
    guard config.peft_type == "LORA" else {
      throw .invalidValue(key: "\(configPath): peft_type", value: config.peft_type, expected: "LORA")
    }
    guard !config.use_dora, !config.use_rslora, !config.fan_in_fan_out else {
      throw .invalidValue(key: "\(configPath): use_dora/use_rslora/fan_in_fan_out", value: "true", expected: "plain LoRA (all false)")
    }
    var targets: [LoRATarget] = []
    for name in config.target_modules {
      guard let t = LoRATarget(shortName: name) else {
        throw .invalidValue(key: "\(configPath): target_modules", value: name, expected: "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj")
      }
      targets.append(t)
    }
    let loraConfig = LoRAConfig(rank: config.r, alpha: config.lora_alpha, dropout: config.lora_dropout, targets: targets)
    try loraConfig.validate()
    let file = try SafeTensorsFile(path: directory + "/" + weightsFile)
    let lora = LoRAParameters(model: model, lora: loraConfig)
    for slot in lora.slots {
      for m in LoRAMatrix.allCases {
        let name = LoRAParameters.peftName(layer: slot.layer, target: slot.target, matrix: m)
        // PEFT may also save with the adapter name inside the key ("...lora_A.default.weight").
        let alt = name.replacingOccurrences(of: ".weight", with: ".default.weight")
        let key = file.info(name) != nil ? name : alt
        guard file.info(key) != nil else { throw .missingTensor(path: file.path, tensor: name) }
        let t = try file.floatTensor(key)
        let expected = lora.peftShape(slot, m)
        guard t.shape == expected else {
          throw .invalidValue(key: "\(file.path): \(name) shape", value: "\(t.shape)", expected: "\(expected)")
        }
        if let bad = t.values.firstIndex(where: { !$0.isFinite }) {
          throw .invalidValue(key: "\(file.path): \(name)[\(bad)]", value: "\(t.values[bad])",
                              expected: "finite weights (a NaN or infinite LoRA weight makes every prediction meaningless)")
        }
        lora.importMatrix(t.values, slot: slot, matrix: m, model: model)
      }
    }
    return lora
  }
}
