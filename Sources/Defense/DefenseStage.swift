/// One step of a defense pipeline with one verb: it reads and refines the pipeline's state (rows
/// kept out of the benign candidates, the benign rows, covers, flips) and records what it did.
/// Pipelines are lists of stage names looked up in a registry (`ClassificationStages`,
/// `GenerationStages`); a defense preset (`DefensePreset`) is such a list. A further defense
/// (a baseline filter, a new screen) plugs in as another registered stage.
public protocol DefenseStage<State>: Sendable {
  associatedtype State
  /// The stage's name in pipelines and registries.
  var name: String { get }
  func apply(to state: inout State) throws
}

/// The safe target of a P2P task: where a benign row's answer goes, so that it cannot collide
/// with the attacker's target. Classification shifts the label (`LabelShift`, h(i) = i + n);
/// generation puts a safe prefix before the output (`OutputPrefix`).
public protocol SafeTarget: Sendable {
  associatedtype Answer
  /// The answer of a benign row whose original answer is `answer`.
  func safe(_ answer: Answer) -> Answer
}

/// h(i) = i + n: a second label space of n labels after the original n.
public struct LabelShift: SafeTarget {
  public var labels: Int
  public init(labels: Int) { self.labels = labels }
  public func safe(_ label: Int) -> Int { label + labels }
}

/// The output behind a safe prefix, which the wrapper forces at inference and strips before scoring.
public struct OutputPrefix: SafeTarget {
  public var prefix: String
  public init(prefix: String) { self.prefix = prefix }
  public func safe(_ output: String) -> String { prefix + output }
}

/// A registry of stages by name.
public struct StageRegistry<State>: Sendable {
  public private(set) var stages: [String: any DefenseStage<State>] = [:]

  public init(_ stages: [any DefenseStage<State>]) {
    for s in stages { self.stages[s.name] = s }
  }

  /// Adds (or replaces) a stage.
  public mutating func register(_ stage: any DefenseStage<State>) { stages[stage.name] = stage }

  /// The stages of a pipeline, in order; an unknown name is an error naming the known ones.
  public func pipeline(_ names: [String]) throws(DefenseError) -> [any DefenseStage<State>] {
    var out: [any DefenseStage<State>] = []
    for n in names {
      guard let s = stages[n] else {
        throw .invalidConfig(key: "defense stage", value: n, expected: "one of \(stages.keys.sorted().joined(separator: ", "))")
      }
      out.append(s)
    }
    return out
  }

  /// Runs the named stages on `state`, in order.
  public func run(_ names: [String], on state: inout State) throws {
    for stage in try pipeline(names) { try stage.apply(to: &state) }
  }
}

/// What the random selection needs of a task's pipeline state.
public protocol DrawState {
  var rowCount: Int { get }
  var ratio: Double { get }
  /// Rows kept out of the benign candidates.
  var excluded: Set<Int> { get }
  /// The benign rows.
  var chosen: [Int] { get set }
  /// `k` of `candidates` (ascending), drawn with the task's seeded generator.
  mutating func draw(_ k: Int, from candidates: [Int]) -> [Int]
  /// The task's error when the screens leave fewer than `wanted` candidates.
  func shortfall(wanted: Int, available: Int) -> any Error
  /// Checks on the drawn rows (classification: every label has benign rows).
  func checkChosen() throws
}

/// The paper's benign rows, for either task: round(ρ · N) of the rows no screen kept out, drawn
/// with the seed; ρ = 1 takes every row no screen kept out.
public struct RandomSelection<State: DrawState>: DefenseStage {
  public var name: String { "random" }
  public func apply(to s: inout State) throws {
    let candidates = (0..<s.rowCount).filter { !s.excluded.contains($0) }
    let wanted = s.ratio >= 1 ? candidates.count : Int((s.ratio * Double(s.rowCount)).rounded())
    guard wanted <= candidates.count else { throw s.shortfall(wanted: wanted, available: candidates.count) }
    s.chosen = s.draw(wanted, from: candidates)
    try s.checkChosen()
  }
}
