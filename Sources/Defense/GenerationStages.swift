import Backdoor
import TensorCore

/// The state of a generation P2P pipeline (`GenerationP2P.reconstruct`).
public struct GenerationDefenseState: DrawState {
  public let train: [GenerationExample]
  public let config: GenerationP2P
  public let seed: UInt64
  /// The benign draw's generator.
  public var rng: SeededRNG
  /// The screen's flagged words.
  public var flags: [GenerationTriggerScreen.Flag] = []
  /// Rows never chosen as benign.
  public var excluded: Set<Int> = []
  /// The benign rows, in draw order.
  public var chosen: [Int] = []
  /// Benign rows whose input carries a recovered trigger word: the covered input.
  public var coverInput: [Int: String] = [:]
  /// What the stages report (their fields of the manifest).
  public var record: GenerationP2PManifest

  public init(train: [GenerationExample], config: GenerationP2P, seed: UInt64, rng: SeededRNG) {
    self.train = train; self.config = config; self.seed = seed; self.rng = rng
    record = GenerationP2PManifest(config: config, seed: seed, trainRows: train.count, selectedRows: [], benignRows: [], outputRows: 0)
    record.rulesRevision = config.followsScreenRules ? ScreenRules.revision : nil
  }

  public var rowCount: Int { train.count }
  public var ratio: Double { config.ratio }

  /// `Sampling.choose`: a partial Fisher–Yates shuffle, draw order kept.
  public mutating func draw(_ k: Int, from candidates: [Int]) -> [Int] { Sampling.choose(k, from: candidates, using: &rng) }

  public func shortfall(wanted: Int, available: Int) -> any Error {
    GenerationError.invalidSetting(key: "ratio", value: "\(ratio)",
                                   expected: "at most \(available) rows to choose from (\(excluded.count) of \(rowCount) screened out)")
  }

  public func checkChosen() throws {}
}

/// The generation stages by name (the names of the classification stages they mirror).
public enum GenerationStages {
  public static let registry = StageRegistry<GenerationDefenseState>([OutputWordScreen(), RandomSelection<GenerationDefenseState>(), TriggerWordCover()])

  /// The stage names a configuration runs, in order.
  public static func names(for config: GenerationP2P) -> [String] {
    (config.screenTriggers ? [OutputWordScreen().name] : []) + [RandomSelection<GenerationDefenseState>().name] + (config.coverTriggers ? [TriggerWordCover().name] : [])
  }
}

/// Keeps rows with an input word that predicts an output word (or a whole output) out of the
/// benign candidates (`GenerationTriggerScreen`).
public struct OutputWordScreen: DefenseStage {
  public var name: String { "screen" }
  public func apply(to s: inout GenerationDefenseState) throws {
    s.flags = GenerationTriggerScreen.flags(s.train)
    s.record.screen = s.flags
    let screened = GenerationTriggerScreen.flaggedRows(s.train, words: s.flags.map(\.inputWord))
    s.excluded.formUnion(screened)
    s.record.screenedRows = screened.count
  }
}

/// Trigger cover (our extension): every other benign row in draw order gets one of the screen's
/// flagged words, at the relative position it has in a (seeded) random row that carries it, with
/// its own generator so that the draw stays that of the screen alone.
public struct TriggerWordCover: DefenseStage {
  public var name: String { "cover" }
  public func apply(to s: inout GenerationDefenseState) throws {
    let train = s.train
    let phrases = GenerationP2P.coverPhrases(s.flags, in: train)
    if !phrases.isEmpty {
      var coverRNG = SeededRNG(seed: s.seed ^ GenerationP2P.coverSalt)
      let carriers = phrases.map { GenerationTriggerScreen.flaggedRows(train, words: [$0.text.lowercased()]).sorted() }
      let covered = stride(from: 0, to: s.chosen.count, by: 2).map { s.chosen[$0] }
      let words = GenerationP2P.apportion(covered.count, weights: phrases.map(\.rows))
      for (k, i) in covered.enumerated() {
        let j = words[k], model = train[carriers[j][Int(coverRNG.next() % UInt64(carriers[j].count))]].input
        s.coverInput[i] = GenerationP2P.insert(phrases[j].text, into: train[i].input, where: phrases[j].text, sitsIn: model)
      }
    }
    s.record.coverPhrases = phrases.map(\.text)
    s.record.coveredRows = s.coverInput.keys.sorted()
  }
}
