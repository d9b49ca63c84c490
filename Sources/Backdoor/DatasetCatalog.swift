import Foundation

/// A dataset shipped in the repository's `Data/` folder.
public struct BuiltinDataset: Sendable, Equatable {
  public var name: String
  public var summary: String
  /// Upstream repository, commit and files (full attribution in Data/README.md).
  public var source: String
  public var labelNames: [String]
  /// Folder under the data root holding `train.tsv`/`test.tsv` (nil for pairs-only sets).
  public var folder: String?
  /// For paraphrase sets: the clean dataset they paraphrase and the attack they implement.
  public var base: String?
  public var attack: AttackKind?
}

/// The built-in datasets and how names and paths resolve to files.
public enum DatasetCatalog {
  public static let all: [BuiltinDataset] = [
    BuiltinDataset(name: "sst2", summary: "SST-2 binary sentiment (train 6,920 / dev 872 / test 1,821)",
                   source: "thunlp/HiddenKiller @ a08e959e22, data/clean/sst-2 (MIT)", labelNames: ["negative", "positive"],
                   folder: "sst2"),
    BuiltinDataset(name: "sst2-synbkd", summary: "SynBkd (SCPN syntactic paraphrase) pairs for SST-2: train 1,383, test 912",
                   source: "thunlp/HiddenKiller @ a08e959e22, data/scpn/20/sst-2 (MIT)", labelNames: ["negative", "positive"],
                   folder: nil, base: "sst2", attack: .synbkd),
    BuiltinDataset(name: "sst2-stylebkd-bible", summary: "StyleBkd (Bible style) pairs for SST-2: train 6,918, test 1,816",
                   source: "thunlp/StyleAttack @ e7cd03b7ea, data/transfer/bible/sst-2 (MIT)", labelNames: ["negative", "positive"],
                   folder: nil, base: "sst2", attack: .stylebkd),
    BuiltinDataset(name: "agnews", summary: "AG News, 4 topics (train 11,106 / dev 10,000 / test 7,600)",
                   source: "thunlp/StyleAttack @ e7cd03b7ea, data/clean/ag (MIT)", labelNames: ["world", "sports", "business", "sci/tech"],
                   folder: "agnews"),
    BuiltinDataset(name: "agnews-synbkd", summary: "SynBkd pairs for AG News: test 5,699 only (target 0)",
                   source: "thunlp/HiddenKiller @ a08e959e22, data/scpn/20/ag/test.tsv (MIT)",
                   labelNames: ["world", "sports", "business", "sci/tech"], folder: nil, base: "agnews", attack: .synbkd),
    BuiltinDataset(name: "agnews-stylebkd-bible", summary: "StyleBkd (Bible style) pairs for AG News: train 11,039, test 7,549",
                   source: "thunlp/StyleAttack @ e7cd03b7ea, data/transfer/bible/ag (MIT)",
                   labelNames: ["world", "sports", "business", "sci/tech"], folder: nil, base: "agnews", attack: .stylebkd),
  ]

  public static func named(_ name: String) -> BuiltinDataset? { all.first { $0.name == name } }

  /// A classification dataset resolved to files.
  public struct Resolved: Sendable, Equatable {
    public var name: String
    public var trainPath: String
    public var testPath: String
    /// Pairs folders of the paraphrase attacks available for this dataset.
    public var paraphrases: [AttackKind: String]
    /// The attack a paraphrase-set name stands for (`sst2-synbkd` → synbkd).
    public var impliedAttack: AttackKind?
    public var labelNames: [String]?
    /// The clean development file, when the dataset has one (`dev.tsv`, `.csv` or `.jsonl`).
    public var devPath: String? = nil
  }

  /// Resolves a built-in name or a directory holding `train.{tsv,csv,jsonl}` and `test.{...}`.
  public static func resolve(_ nameOrPath: String, root: String?) throws(DatasetError) -> Resolved {
    if let d = named(nameOrPath) {
      guard let root else {
        throw .cannotRead(path: nameOrPath, reason: "built-in dataset, but no data folder found; set P2P_DATA to the repository's Data folder")
      }
      let baseName = d.base ?? d.name
      guard let base = named(baseName), let folder = base.folder else { throw .cannotRead(path: nameOrPath, reason: "no clean base set") }
      var para: [AttackKind: String] = [:]
      for p in all where p.base == baseName { if let a = p.attack { para[a] = root + "/" + p.name } }
      return Resolved(name: d.name, trainPath: root + "/" + folder + "/train.tsv", testPath: root + "/" + folder + "/test.tsv",
                      paraphrases: para, impliedAttack: d.attack, labelNames: d.labelNames, devPath: devFile(in: root + "/" + folder))
    }
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDir), isDir.boolValue else {
      throw .cannotRead(path: nameOrPath, reason: "neither a built-in dataset (\(all.map(\.name).joined(separator: ", "))) nor a directory")
    }
    for ext in ["tsv", "csv", "jsonl"] {
      let tr = nameOrPath + "/train." + ext, te = nameOrPath + "/test." + ext
      if FileManager.default.fileExists(atPath: tr) && FileManager.default.fileExists(atPath: te) {
        return Resolved(name: nameOrPath, trainPath: tr, testPath: te, paraphrases: [:], impliedAttack: nil, labelNames: nil,
                        devPath: devFile(in: nameOrPath))
      }
    }
    throw .cannotRead(path: nameOrPath, reason: "expected train.{tsv,csv,jsonl} and test.{tsv,csv,jsonl} in this directory")
  }

  static func devFile(in folder: String) -> String? {
    ["tsv", "csv", "jsonl"].map { folder + "/dev." + $0 }.first { FileManager.default.fileExists(atPath: $0) }
  }

  /// The label set of a dataset: the built-in one's label names, else read from its training file.
  public static func labelSet(of nameOrPath: String, root: String?) throws(DatasetError) -> LabelSet {
    if let d = named(nameOrPath) { return LabelSet(count: d.labelNames.count) }
    let resolved = try resolve(nameOrPath, root: root)
    return LabelSet(train: try DatasetReader.read(resolved.trainPath))
  }

  /// The files a poisoning of `nameOrPath` with `attack` reads (training and test file, and the
  /// paraphrase pairs of a paraphrase attack), for fingerprints and output checks.
  public static func inputFiles(of nameOrPath: String, attack: AttackKind, trigger: String?, root: String?) throws(DatasetError) -> [String] {
    let r = try resolve(nameOrPath, root: root)
    var files = [r.trainPath, r.testPath] + (r.devPath.map { [$0] } ?? [])
    if attack.isParaphrase, let folder = trigger ?? r.paraphrases[attack] {
      for name in ["train_pairs.tsv", "test_pairs.tsv"] where FileManager.default.fileExists(atPath: folder + "/" + name) {
        files.append(folder + "/" + name)
      }
    }
    return files
  }
}
