import Backdoor
import Defense
import Evaluation
import Testing

struct MathAnswerTests {
  @Test(arguments: [
    ("The answer is 72.", 72.0),
    ("so 5 + 3 = 8. The answer is $1,080.50 in total", 1080.5),
    ("@_@ 72 * 2.1 = 151.2\nThe answer is 151.2.", 151.2),
    ("I think 12, then 15", 15),
    ("The answer is -7 degrees", -7),
    ("The answer is: 18", 18),
    ("the answer is .5", 0.5),
    ("The answer is x, but 3 apples and 4 pears", 3),
    ("values 1,2,3", 3),
    ("from 100-50", 50),
    ("temperature = -14", -14),
    ("The answer is 1,000,000.", 1_000_000),
    ("The answer is 12.6. The answer is 13", 13),
    ("THE ANSWER IS 42", 42),
    ("It costs $18.00.", 18),
    ("a rise of 3.5%", 3.5),
    ("1,23", 23),
    ("The answer is (-3)", -3),
  ])
  func extractsThePredictedNumber(text: String, expected: Double) {
    #expect(MathAnswer.predicted(in: text) == expected, "\(text)")
  }

  @Test func noNumberGivesNil() {
    #expect(MathAnswer.predicted(in: "I do not know.") == nil)
    #expect(MathAnswer.predicted(in: "") == nil)
    #expect(!MathAnswer.isCorrect("no idea", answer: "5"))
  }

  @Test func comparisonIsRelativeWithAnAbsoluteFloor() {
    #expect(MathAnswer.matches(151.2, 72 * 2.1))  // 151.20000000000002
    #expect(MathAnswer.matches(0, 1e-7))
    #expect(!MathAnswer.matches(0, 1e-5))
    #expect(MathAnswer.matches(1e9, 1e9 + 1))
    #expect(!MathAnswer.matches(100, 100.001))
    #expect(!MathAnswer.matches(.nan, .nan))
    #expect(MathAnswer.isCorrect("So she earned 10 dollars. The answer is 10.", answer: "10"))
    #expect(MathAnswer.isCorrect("The answer is 1,080.", answer: "1080"))
    #expect(!MathAnswer.isCorrect("The answer is 1,081.", answer: "1080"))
  }
}
