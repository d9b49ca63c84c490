import Testing
import Training

/// Loss masks, truncation, the causal shift and padding.
@Suite struct BatchingTests {
  @Test func maskCoversTheCompletion() throws {
    let e = try TokenizedExample(prompt: [10, 11, 12], completion: [20, 21], maxLength: 8)
    #expect(e.tokens == [10, 11, 12, 20, 21])
    #expect(e.lossMask == [false, false, false, true, true])
    // targets[t] = tokens[t + 1] where that token is a completion token.
    #expect(e.targets == [-1, -1, 20, 21, -1])
  }

  @Test func truncation() throws {
    // Too long: the prompt loses its start, the completion stays whole.
    var e = try TokenizedExample(prompt: [1, 2, 3, 4, 5], completion: [8, 9], maxLength: 4)
    #expect(e.tokens == [4, 5, 8, 9])
    #expect(e.lossMask == [false, false, true, true])
    // The completion fills the window but for one prompt token.
    e = try TokenizedExample(prompt: [1, 2, 3], completion: [7, 8, 9], maxLength: 4)
    #expect(e.tokens == [3, 7, 8, 9])
    // The completion alone is too long: last prompt token, then the completion's start.
    e = try TokenizedExample(prompt: [1, 2, 3], completion: [6, 7, 8, 9], maxLength: 3)
    #expect(e.tokens == [3, 6, 7])
    #expect(e.lossMask == [false, true, true])
    #expect(e.targets == [6, 7, -1])
    // No prompt: the completion's start.
    e = try TokenizedExample(prompt: [], completion: [6, 7, 8, 9], maxLength: 3)
    #expect(e.tokens == [6, 7, 8])
    #expect(e.targets == [7, 8, -1])
    // Exactly at the limit: untouched.
    e = try TokenizedExample(prompt: [1, 2], completion: [3, 4], maxLength: 4)
    #expect(e.tokens == [1, 2, 3, 4])
    #expect(thrownTrainingError { try TokenizedExample(prompt: [1], completion: [2], maxLength: 1) }
      == .invalidValue(key: "maxLength", value: "1", expected: ">= 2"))
    #expect(thrownTrainingError { try TokenizedExample(tokens: [1, 2], lossMask: [true]) } != nil)
  }

  /// Two examples of lengths 5 and 3, pad id 0.
  static func examples() throws -> [TokenizedExample] {
    [
      try TokenizedExample(prompt: [11, 12, 13], completion: [14, 15], maxLength: 16),
      try TokenizedExample(prompt: [21, 22], completion: [23], maxLength: 16),
    ]
  }

  @Test func rightPadding() throws {
    let b = try TrainingBatch(examples: Self.examples(), padding: .right, padToken: 0)
    #expect(b.sequences == [[11, 12, 13, 14, 15], [21, 22, 23]])
    #expect(b.sequenceTargets == [[-1, -1, 14, 15, -1], [-1, 23, -1]])
    #expect(b.inputTokens == [[11, 12, 13, 14, 15], [21, 22, 23, 0, 0]])
    #expect(b.attentionMask == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    #expect(b.targets == [[-1, -1, 14, 15, -1], [-1, 23, -1, -1, -1]])
    #expect(b.sequenceLength == 5 && b.targetCount == 3)
  }

  @Test func leftPadding() throws {
    let b = try TrainingBatch(examples: Self.examples(), padding: .left, padToken: 2)
    #expect(b.inputTokens == [[11, 12, 13, 14, 15], [2, 2, 21, 22, 23]])
    #expect(b.attentionMask == [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    #expect(b.targets == [[-1, -1, 14, 15, -1], [-1, -1, -1, 23, -1]])
    #expect(b.sequences == [[11, 12, 13, 14, 15], [21, 22, 23]])
  }

  /// Whatever the side, each real position's target is the next real token when it is a
  /// completion token: the shift never crosses into padding.
  @Test(arguments: [PaddingSide.left, .right])
  func targetsAreTheNextCompletionToken(side: PaddingSide) throws {
    let examples = try Self.examples()
    let b = try TrainingBatch(examples: examples, padding: side, padToken: 99)
    for (row, e) in examples.enumerated() {
      let real = b.attentionMask[row].indices.filter { b.attentionMask[row][$0] == 1 }
      #expect(real.map { b.inputTokens[row][$0] } == e.tokens)
      #expect(real.map { b.targets[row][$0] } == e.targets)
      for t in b.targets[row].indices where b.attentionMask[row][t] == 0 { #expect(b.targets[row][t] == -1) }
    }
  }

  @Test func rejectsEmptyInput() throws {
    #expect(thrownTrainingError { try TrainingBatch(examples: [], padding: .right, padToken: 0) } != nil)
    let empty = try TokenizedExample(tokens: [], lossMask: [])
    #expect(thrownTrainingError { try TrainingBatch(examples: [empty], padding: .right, padToken: 0) }
      == .invalidValue(key: "batch[0]", value: "0 tokens", expected: "a non-empty example"))
  }
}
