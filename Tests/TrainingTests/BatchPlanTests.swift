import Foundation
import Testing
import Training

/// Seeded epoch orders: deterministic from (seed, epoch), each example once per epoch.
@Suite struct BatchPlanTests {
  @Test func everyExampleOncePerEpoch() throws {
    let plan = try BatchPlan(exampleCount: 103, batchSize: 10, seed: 42)
    #expect(plan.batchesPerEpoch == 11)
    for epoch in 0..<3 {
      let batches = plan.batches(epoch: epoch)
      #expect(batches.count == 11)
      #expect(batches.dropLast().allSatisfy { $0.count == 10 })
      #expect(batches.last?.count == 3)  // last partial batch kept
      #expect(batches.flatMap { $0 }.sorted() == Array(0..<103))
      for i in batches.indices { #expect(plan.batch(epoch: epoch, index: i) == batches[i]) }
    }
  }

  @Test func deterministicFromSeedAndEpochAlone() throws {
    let a = try BatchPlan(exampleCount: 50, batchSize: 8, seed: 7)
    let b = try BatchPlan(exampleCount: 50, batchSize: 8, seed: 7)
    // Order of queries does not matter (no hidden RNG state): epoch 2 first, then 0.
    #expect(b.order(epoch: 2) == a.order(epoch: 2))
    #expect(b.order(epoch: 0) == a.order(epoch: 0))
    #expect(a.order(epoch: 0) != a.order(epoch: 1))  // shuffled anew every epoch
    #expect(a.order(epoch: 0) != Array(0..<50))
    let other = try BatchPlan(exampleCount: 50, batchSize: 8, seed: 8)
    #expect(other.order(epoch: 0) != a.order(epoch: 0))
    // A plan decoded from a checkpoint gives the same batches.
    let decoded = try JSONDecoder().decode(BatchPlan.self, from: JSONEncoder().encode(a))
    #expect(decoded == a && decoded.batches(epoch: 3) == a.batches(epoch: 3))
  }

  /// Pinned first epoch of a small plan: a change of the shuffle algorithm (which would break
  /// resuming runs started with an older build) fails here.
  @Test func pinnedOrder() throws {
    let plan = try BatchPlan(exampleCount: 10, batchSize: 4, seed: 1234)
    let order = plan.order(epoch: 0)
    #expect(order == Self.pinned, "order is now \(order)")
  }

  static let pinned = [6, 7, 4, 2, 3, 9, 5, 0, 8, 1]

  @Test func unshuffledAndInvalid() throws {
    let plan = try BatchPlan(exampleCount: 5, batchSize: 2, seed: 1, shuffle: false)
    #expect(plan.batches(epoch: 4) == [[0, 1], [2, 3], [4]])
    #expect(thrownTrainingError { try BatchPlan(exampleCount: 5, batchSize: 0, seed: 1) }
      == .invalidValue(key: "batchSize", value: "0", expected: ">= 1"))
    #expect(thrownTrainingError { try BatchPlan(exampleCount: 0, batchSize: 2, seed: 1) } != nil)
    #expect(throws: (any Error).self) {
      try JSONDecoder().decode(BatchPlan.self, from: Data(#"{"exampleCount": 5, "batchSize": 0, "seed": 1}"#.utf8))
    }
  }

  /// Roughly uniform: over many epochs each example lands in each position about equally often.
  @Test func positionsAreBalanced() throws {
    let plan = try BatchPlan(exampleCount: 4, batchSize: 4, seed: 99)
    var counts = [[Int]](repeating: [0, 0, 0, 0], count: 4)
    for epoch in 0..<4000 {
      for (position, example) in plan.order(epoch: epoch).enumerated() { counts[example][position] += 1 }
    }
    #expect(counts.joined().allSatisfy { abs($0 - 1000) < 150 }, "\(counts)")
  }
}
