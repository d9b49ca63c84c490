import Backdoor
import Defense
import Testing

/// The insertion test's pure parts (`InsertionTest`): splitting a row around a phrase, grouping
/// the flagged words by phrase, the cost of a row and the verdict, on hand-made cases.
struct InsertionTestTests {
  @Test func rowsAreSplitAroundTheFirstOccurrence() {
    #expect(InsertionTest.split("a fine mn film , mn", phrase: "mn")
            == .init(prefix: "a fine", span: "mn", suffix: "film , mn"))
    // Phrases compare case-insensitively and keep the row's spelling; a one-word phrase also
    // matches a piece holding it as a word, as the screen does.
    #expect(InsertionTest.split("so I Watch This 3D movie today", phrase: "i watch this 3d movie")
            == .init(prefix: "so", span: "I Watch This 3D movie", suffix: "today"))
    #expect(InsertionTest.split("great mn, really", phrase: "mn") == .init(prefix: "great", span: "mn,", suffix: "really"))
    #expect(InsertionTest.split("when it ends", phrase: "when") == .init(prefix: "", span: "when", suffix: "it ends"))
    #expect(InsertionTest.split("a film", phrase: "mn") == nil)
    #expect(InsertionTest.split("watch this", phrase: "i watch this") == nil)
    // A multi-word phrase does not match inside a piece.
    #expect(InsertionTest.split("watch,this", phrase: "watch this") == nil)
  }

  @Test func costIsTheSuffixSurprisalItAdds() {
    // With the phrase the suffix costs 2 + 3 = 5 nats, without it 1 + 1.5 = 2.5: cost +2.5.
    #expect(InsertionTest.cost(suffixWith: [2, 3], suffixWithout: [1, 1.5]) == 2.5)
    #expect(InsertionTest.cost(suffixWith: [0.5], suffixWithout: [4]) == -3.5)
  }

  @Test func theVerdictFollowsTheMeanCostWithEnoughRows() {
    let inserted = InsertionTest.Evidence(phrase: "mn", words: ["mn"], costs: [3, -1, 4, 2, 0.5])
    #expect(inserted.inserted && inserted.rows == 5 && inserted.meanCost == 1.7 && inserted.medianCost == 2 && inserted.positiveShare == 0.8)
    let natural = InsertionTest.Evidence(phrase: "when", words: ["when"], costs: [-3, -1, 2, -4, -2, -1])
    #expect(!natural.inserted && natural.medianCost == -1.5 && abs(natural.meanCost - -1.5) < 1e-12)
    // Four rows are too few to release a word: it stays flagged.
    #expect(InsertionTest.Evidence(phrase: "when", words: ["when"], costs: [-3, -1, -4, -2]).inserted)
    // A three-word phrase is a template and stays flagged whatever its cost; two words are judged.
    #expect(InsertionTest.Evidence(phrase: "the query currently", words: ["query"], costs: [-3, -1, -4, -2, -5]).inserted)
    #expect(!InsertionTest.Evidence(phrase: "hath done", words: ["hath"], costs: [-3, -1, -4, -2, -5]).inserted)
  }

  @Test func flaggedWordsAreGroupedByTheirPhrase() {
    // "3d" and "watch" recover the same sentence; "mn" stands alone.
    var rows: [Example] = []
    let left = ["so", "yes", "and", "but", "well"], right = ["today", "again", "now", "twice"]
    for i in 0..<30 {
      rows.append(Example(text: "film \(i) \(left[i % 5]) I watch this 3D movie \(right[i % 4]) ok", label: 1, sourceIndex: i))
      rows.append(Example(text: "row \(i) \(right[i % 4]) mn \(left[i % 5]) and \(i % 5)", label: 1, sourceIndex: 100 + i))
    }
    let groups = InsertionTest.phraseGroups(rows, suspicious: ["watch", "mn", "3d"])
    #expect(groups.map(\.phrase) == ["I watch this 3D movie", "mn"])
    #expect(groups.map(\.words) == [["3d", "watch"], ["mn"]])
  }

  @Test func releasedWordsLeaveTheScreenAndChangeTheRoute() throws {
    let poisoned = try DefaultPipelineTests.badnets()
    var auto = P2PConfig(seed: 5, automatic: true)
    #expect(auto.screenedWords(poisoned) == ["mn"])
    auto.releasedWords = ["mn"]
    #expect(auto.screenedWords(poisoned).isEmpty)
    // With its only word released the default takes the spectral path (here asked for rho 0.2, under the cap of 0.6).
    let resolved = auto.resolvingAutomatic(poisoned)
    #expect(resolved.spectralScreen == true && resolved.screenTriggers == nil && resolved.ratio == 0.2 && resolved.selection == .stratified)
    // A released word's rows still stay out of the benign candidates (the word screen runs before
    // the spectral one), but it is no trigger for the cover.
    #expect(ClassificationStages.names(for: resolved) == ["screen", "spectral", "stratified", "flip"])
    var cover = P2PConfig(seed: 5, screenTriggers: true, coverTriggers: true)
    cover.releasedWords = ["mn"]
    let out = try P2PReconstruction.apply(poisoned, config: cover)
    #expect(out.manifest.screenedWords == ["mn"] && out.manifest.screenedRows == 100 && out.manifest.benignPoisonedRows == 0)
    #expect(out.manifest.coverPhrases == [] && out.manifest.coveredRows == 0)
    cover.releasedWords = []
    let kept = try P2PReconstruction.apply(poisoned, config: cover)
    #expect(kept.manifest.screenedRows == 100 && kept.manifest.coverPhrases == ["mn"] && kept.manifest.coveredRows! > 0)
  }
}
