import TestSupport
import Testing

/// The closeness measures every reference test relies on must fail on NaN.
struct ClosenessTests {
  @Test func nanIsNeverClose() {
    #expect(Closeness.maxAbsDiff([1, 2, 3], [1, 2.5, 3]) == 0.5)
    #expect(Closeness.maxAbsDiff([1, .nan, 3], [1, 2, 3]) == .infinity)
    #expect(Closeness.maxAbsDiff([1, 2], [1, .nan]) == .infinity)
    #expect(!(Closeness.relativeError([.nan], [1]) <= 1e-3))
  }
}
