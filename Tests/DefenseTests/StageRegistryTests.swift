import Backdoor
import Defense
import Testing

/// A stage of our own: keeps every row whose text starts with "x" out of the benign candidates.
struct DropX: DefenseStage {
  var name: String { "drop-x" }
  func apply(to s: inout ClassificationDefenseState) throws {
    s.excluded.formUnion(s.train.indices.filter { s.train[$0].text.hasPrefix("x") })
  }
}

struct StageRegistryTests {
  @Test func presetsAreStageLists() {
    #expect(DefensePreset.paper.stageNames() == ["random"])
    #expect(DefensePreset.agree.stageNames() == ["agreement"])
    #expect(DefensePreset.screen.stageNames() == ["screen", "random"])
    #expect(DefensePreset.cover.stageNames() == ["screen", "random", "cover"])
    #expect(DefensePreset.probe.stageNames() == ["probe", "random", "flip"])
    for p in DefensePreset.allCases { #expect(throws: Never.self) { _ = try ClassificationStages.registry.pipeline(p.stageNames()) } }
    #expect(GenerationStages.names(for: GenerationP2P(screenTriggers: true, coverTriggers: true)) == ["screen", "random", "cover"])
  }

  @Test func anUnknownStageNamesTheKnownOnes() {
    #expect(throws: DefenseError.invalidConfig(key: "defense stage", value: "onion",
                                               expected: "one of agreement, cover, flip, oracle, probe, random, screen, spectral, stratified")) {
      _ = try ClassificationStages.registry.pipeline(["onion"])
    }
  }

  @Test func aRegisteredStagePlugsIntoThePipeline() throws {
    let train = (0..<20).map { Example(text: ($0 < 10 ? "x" : "y") + " row \($0)", label: $0 % 2, sourceIndex: $0) }
    var registry = ClassificationStages.registry
    registry.register(DropX())
    var state = ClassificationDefenseState(train: train, config: P2PConfig(ratio: 0.5))
    try registry.run(["drop-x", "random"], on: &state)
    // 10 benign rows wanted, exactly the 10 rows the new stage left.
    #expect(state.chosen == Array(10..<20))
    var plain = ClassificationDefenseState(train: train, config: P2PConfig(ratio: 0.5))
    try registry.run(["random"], on: &plain)
    #expect(plain.chosen != state.chosen)
    // The same random stage serves generation rows.
    let rows = (0..<10).map { GenerationExample(input: "q\($0)", output: "a\($0)") }
    var g = GenerationDefenseState(train: rows, config: GenerationP2P(ratio: 0.3), seed: 1, rng: .init(seed: 1))
    try GenerationStages.registry.run(["random"], on: &g)
    #expect(g.chosen.count == 3 && Set(g.chosen).count == 3)
  }

  @Test func theSafeTargetsAreStrategies() {
    #expect(LabelShift(labels: 4).safe(3) == 7)
    #expect(OutputPrefix(prefix: "[safe] ").safe("42") == "[safe] 42")
    #expect(P2PConfig(labels: 3).safeLabel(2) == 5)
    #expect(GenerationP2P().benign(GenerationExample(input: "q", output: "a")).output == "[safe] a")
  }
}
