import Foundation
import Testing
import Training

/// The epoch-end hook (model selection saves each epoch's adapter there) runs once per epoch,
/// before that epoch's checkpoint: a checkpoint that says an epoch is done implies the hook ran.
struct EpochEndTests {
  @Test func theHookRunsBeforeTheEpochsCheckpoint() throws {
    let dir = TrainerTests.tempDir()
    var seen: [Int] = []
    var checkpointEpochAtHook: [Int] = []
    let trainer = try Trainer(base: TrainerTests.model(), examples: TrainerTests.examples(), config: TrainerTests.config(), checkpointDirectory: dir)
    _ = try trainer.run(epochEnd: { (epoch: Int) throws(TrainingError) in
      seen.append(epoch)
      let state = try? Checkpoint<TrainingConfig>.load(from: dir + "/checkpoint").state
      checkpointEpochAtHook.append(state?.epoch ?? 0)
    })
    #expect(seen == [1, 2, 3])
    // At each hook, the last checkpoint is still inside the epoch (or the previous epoch's end).
    #expect(zip(seen, checkpointEpochAtHook).allSatisfy { $1 < $0 })
  }
}
