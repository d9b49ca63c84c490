import Foundation
import Backdoor
import Defense
import Evaluation
import Testing

struct RougeFixture: Decodable {
  struct Score: Decodable { var precision: Double; var recall: Double; var f1: Double }
  struct Case: Decodable {
    var name: String
    var prediction: String
    var references: [String]
    var tokens: [String]
    var scores: [String: Score]
  }
  var package: String
  var cases: [Case]

  static func load() throws -> RougeFixture {
    try JSONDecoder().decode(RougeFixture.self, from: Data(contentsOf: URL(fileURLWithPath: Fixture.path("rouge.json"))))
  }
}

struct RougeTests {
  @Test func matchesTheRougeScorePackage() throws {
    let fixture = try RougeFixture.load()
    #expect(fixture.package == "rouge-score 0.1.2")
    #expect(fixture.cases.count == 30)
    for c in fixture.cases {
      #expect(Rouge.tokenize(c.prediction) == c.tokens, "\(c.name)")
      let s = Rouge.score(prediction: c.prediction, references: c.references)
      for (type, mine) in [("rouge1", s.rouge1), ("rouge2", s.rouge2), ("rougeL", s.rougeL)] {
        let ref = try #require(c.scores[type])
        #expect(abs(mine.precision - ref.precision) <= 1e-6, "\(c.name) \(type) precision \(mine.precision) vs \(ref.precision)")
        #expect(abs(mine.recall - ref.recall) <= 1e-6, "\(c.name) \(type) recall \(mine.recall) vs \(ref.recall)")
        #expect(abs(mine.f1 - ref.f1) <= 1e-6, "\(c.name) \(type) F1 \(mine.f1) vs \(ref.f1)")
      }
    }
  }

  @Test func handComputedScores() {
    // p = the cat sat on the mat (6 tokens), r = the cat on the mat (5 tokens).
    let s = Rouge.score(prediction: "The cat sat on the mat.", reference: "the cat on the mat")
    // ROUGE-1: overlap the×2, cat, on, mat = 5; P = 5/6, R = 1, F = 10/11.
    #expect(abs(s.rouge1.precision - 5.0 / 6) < 1e-12 && s.rouge1.recall == 1 && abs(s.rouge1.f1 - 10.0 / 11) < 1e-12)
    // ROUGE-2: 5 predicted bigrams, 4 reference bigrams, 3 shared (the cat, on the, the mat).
    #expect(abs(s.rouge2.precision - 0.6) < 1e-12 && abs(s.rouge2.recall - 0.75) < 1e-12 && abs(s.rouge2.f1 - 2.0 / 3) < 1e-12)
    // ROUGE-L: LCS = the cat on the mat = 5.
    #expect(abs(s.rougeL.f1 - 10.0 / 11) < 1e-12)
    // Clipped counts: "the the the" against "the" has overlap 1, not 3.
    let clipped = Rouge.score(prediction: "the the the", reference: "the")
    #expect(abs(clipped.rouge1.precision - 1.0 / 3) < 1e-12 && clipped.rouge1.recall == 1)
    // No references and empty texts give zeros, never NaN.
    #expect(Rouge.score(prediction: "a b", references: []).rougeL == .zero)
    #expect(Rouge.score(prediction: "", reference: "").rouge1 == .zero)
  }

  @Test func multipleReferencesTakeTheBestPerVariant() {
    let s = Rouge.score(prediction: "a b c d", references: ["a b", "d c b a"])
    // ROUGE-1 is 1.0 against the second reference; ROUGE-2 (a b shared) is best against the first.
    #expect(s.rouge1.f1 == 1)
    #expect(abs(s.rouge2.f1 - 2 * (1.0 / 3) * 1 / (1.0 / 3 + 1)) < 1e-12)
  }
}
