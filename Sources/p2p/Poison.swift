import ArgumentParser
import Backdoor
import Foundation
import TensorCore

struct Poison: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Poison a classification dataset with a backdoor attack.",
    discussion: "Writes train.jsonl (poisoned training set), test-clean.jsonl, test-poison.jsonl (every non-target test row with the trigger, original labels) and manifest.json (attack, rate, target, setting, seed, poisoned rows) to --out. Rate is the fraction of the whole training set; dirty-label relabels non-target rows to the target, clean-label poisons target rows only, mixed does half of each.")

  @Option(help: "Built-in dataset name (sst2) or a directory holding train and test files (.tsv, .csv or .jsonl).") var data: String
  @Option(help: "Attack: badnets, addsent, or custom (with --trigger).") var attack: String
  @Option(help: "Fraction of the training set to poison.") var rate: Double
  @Option(help: "Target label.") var target: Int
  @Option(help: "dirty, clean or mixed.") var setting = "dirty"
  @Option(help: "BadNets trigger words (comma-separated) or the custom trigger text.") var trigger: String?
  @Option(help: "BadNets insertions per row.") var count = 1
  @Option(help: "Custom trigger placement: random, prefix or suffix.") var placement = "random"
  @Option(help: "Seed.") var seed: UInt64 = 42
  @Option(help: "Output directory.") var out: String

  func validate() throws {
    guard PoisonSetting(rawValue: setting) != nil else { throw ValidationError("--setting must be dirty, clean or mixed") }
    guard ["badnets", "addsent", "custom"].contains(attack) else { throw ValidationError("--attack must be badnets, addsent or custom") }
    guard attack != "custom" || trigger != nil else { throw ValidationError("--attack custom needs --trigger TEXT") }
    guard CustomTrigger.Placement(rawValue: placement) != nil else { throw ValidationError("--placement must be random, prefix or suffix") }
    guard count >= 1 else { throw ValidationError("--count must be >= 1") }
  }

  func run() throws {
    let (trainPath, testPath) = try files()
    let train = try DatasetReader.read(trainPath), test = try DatasetReader.read(testPath)
    var rng = SeededRNG(seed: seed)
    let inserter: any TriggerInserter = switch attack {
    case "badnets": BadNets(words: trigger.map { $0.split(separator: ",").map(String.init) } ?? ["mn"], count: count)
    case "addsent": AddSent(sentence: trigger ?? "I watch this 3D movie")
    default: CustomTrigger(text: trigger!, placement: CustomTrigger.Placement(rawValue: placement)!)
    }
    let plan = PoisonPlan(rate: rate, target: target, setting: PoisonSetting(rawValue: setting)!)
    let (rows, manifest) = try plan.apply(to: train, trigger: inserter, seed: seed, using: &rng)
    let poisonTest = PoisonPlan.poisonedTest(test, target: target, trigger: inserter, using: &rng)
    try PoisonedDataset(train: rows, testClean: test, testPoison: poisonTest, manifest: manifest).write(to: out)
    print("poisoned \(manifest.poisonedRows.count) of \(rows.count) training rows (\(attack), rate \(rate), target \(target), \(setting)); "
      + "\(poisonTest.count) triggered test rows; written to \(out)")
  }

  private func files() throws -> (String, String) {
    let dir = data == "sst2" ? try DataLocator.path("sst2/train.tsv").replacingOccurrences(of: "/train.tsv", with: "") : data
    for ext in ["tsv", "csv", "jsonl"] {
      let tr = dir + "/train." + ext, te = dir + "/test." + ext
      if FileManager.default.fileExists(atPath: tr) && FileManager.default.fileExists(atPath: te) { return (tr, te) }
    }
    throw CLIError("'\(data)' is neither a built-in dataset (sst2) nor a directory with train.{tsv,csv,jsonl} and test.{tsv,csv,jsonl}")
  }
}
