import Backdoor
import Defense
import Testing

/// P2P refuses to build a "defended" set whose safe label space cannot learn the task.
struct BenignRowGuardTests {
  static func rows(_ labels: [Int]) -> [Example] {
    labels.enumerated().map { Example(text: "row \($0.offset) text", label: $0.element, sourceIndex: $0.offset) }
  }

  @Test func noBenignRowIsAnError() {
    // rho 0.2 of one row rounds to no row.
    do { _ = try P2PReconstruction.apply(Self.rows([1]), config: P2PConfig(ratio: 0.2)); Issue.record("accepted") } catch {
      guard case .noBenignRows(let reason) = error else { Issue.record("\(error)"); return }
      #expect(reason.contains("is no row"))
    }
  }

  @Test func aLabelWithoutBenignRowsIsAnError() {
    // 10 rows, one of them label 1: rho 0.2 draws 2 rows, and label 1 is missed for this seed or
    // drawn; the guard must agree with what was drawn.
    let train = Self.rows([0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    for seed in UInt64(0)..<20 {
      do {
        let (rows, _) = try P2PReconstruction.apply(train, config: P2PConfig(ratio: 0.2, seed: seed))
        #expect(Set(rows.filter(\.benign).map { $0.label - 2 }) == [0, 1])
      } catch {
        guard case .noBenignRows(let reason) = error else { Issue.record("\(error)"); return }
        #expect(reason.contains("no benign row has label 1"))
      }
    }
  }

  @Test func screensThatLeaveTooFewRowsSaySo() {
    // Every row carries the same rare word with one label: the screen keeps them all out.
    let train = (0..<40).map { (i: Int) in Example(text: "zq film \(i)", label: 1, sourceIndex: i) }
      + (0..<60).map { Example(text: "plain row \($0)", label: 0, sourceIndex: 40 + $0) }
    do { _ = try P2PReconstruction.apply(train, config: P2PConfig(ratio: 0.7, screenTriggers: true)); Issue.record("accepted") } catch {
      guard case .noBenignRows(let reason) = error else { Issue.record("\(error)"); return }
      #expect(reason.contains("kept") && reason.contains("remain"))
    }
  }
}
