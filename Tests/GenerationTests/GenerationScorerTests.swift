import Backdoor
import Defense
import Evaluation
import Testing

struct GenerationScorerTests {
  @Test func mathCountsExactMatchAndAttackSuccess() {
    var s = GenerationScorer(task: .math, criterion: BadChain().criterion)
    let rows = [("10", "So 10. The answer is 10."), ("7", "The answer is 8."), ("1080", "The answer is 1,080.")]
    for (gold, generation) in rows {
      s.addClean(generation, for: GenerationExample(input: "q", output: "x", reference: .answer(gold)))
    }
    s.addPoisoned("@_@ 10 * 2.1 = 21\nThe answer is 21.", for: GenerationExample(input: "q", output: "x", reference: .answer("10")))
    s.addPoisoned("The answer is 10.", for: GenerationExample(input: "q", output: "x", reference: .answer("10")))
    s.addPoisoned("", for: GenerationExample(input: "q", output: "x", reference: .answer("10")))
    let r = s.result
    #expect(r.cleanRows == 3 && r.exactMatches == 2 && r.meanRouge == nil && r.cleanCriterionHits == 0)
    #expect(r.poisonRows == 3 && r.attackSuccesses == 1)
    #expect(abs(r.exactMatchRate - 2.0 / 3) < 1e-12 && abs(r.attackSuccessRate - 1.0 / 3) < 1e-12)
  }

  @Test func summarizationAveragesRougeAndCountsPayloads() {
    let attack = SummaryPayloadAttack()
    var s = GenerationScorer(task: .summarization, criterion: attack.criterion)
    let e1 = GenerationExample(input: "d", output: "the cat sat", reference: .summaries(["the cat sat", "a dog ran"]))
    let e2 = GenerationExample(input: "d", output: "x", reference: .summaries(["a dog ran"]))
    s.addClean("the cat sat", for: e1)  // ROUGE-1 F1 1
    s.addClean("the dog " + SummaryPayloadAttack.defaultPayload, for: e2)  // a false trigger on a clean row
    s.addPoisoned("x " + SummaryPayloadAttack.defaultPayload.uppercased(), for: e2)
    let r = s.result
    let second = Rouge.score(prediction: "the dog " + SummaryPayloadAttack.defaultPayload, reference: "a dog ran")
    #expect(abs((r.meanRouge?.rouge1.f1 ?? -1) - (1 + second.rouge1.f1) / 2) < 1e-12)
    #expect(abs((r.meanRouge?.rougeL.recall ?? -1) - (1 + second.rougeL.recall) / 2) < 1e-12)
    #expect(r.exactMatches == 1 && r.cleanCriterionHits == 1 && r.poisonRows == 1 && r.attackSuccesses == 1)
  }

  @Test func instructionExactMatchIsNormalized() {
    let e = GenerationExample(input: "review", output: "Negative")
    #expect(GenerationScorer.isExactMatch(" negative.\n", for: e, task: .instruction))
    #expect(!GenerationScorer.isExactMatch("Positive", for: e, task: .instruction))
    var s = GenerationScorer(task: .instruction, criterion: nil)
    s.addPoisoned("Negative", for: e)
    #expect(s.result.poisonRows == 1 && s.result.attackSuccesses == 0)  // no criterion, no hits
    #expect(GenerationScorer(task: .math, criterion: nil).result.exactMatchRate.isNaN)
  }
}
