// libFuzzer target for the experiment-file decoder: `ExperimentPlan.load(path)` (TextFile,
// `StrictYAML.check` on Yams' `compose`,
// `YAMLDecoder().decode` and `plan.cells()`). Built by scripts/fuzz-readers.sh (SwiftPM target
// `p2p-fuzz-experiments`, only in the package when P2P_FUZZ=1); see that script for how to run it.
//
// `load` must return a plan or throw `ExperimentError`: a trap, a crash, an ASan report or any
// other error type is a finding, and so is a broken invariant (checked with `check`, which calls
// `fatalError`):
//  - the file with LF line ends and the same file with CRLF line ends and a UTF-8 byte-order
//    mark load the same plan or fail with the same message;
//  - a plan that loads has a non-empty grid: `cells()` (or `generationCells()`)
//    succeeds again, with distinct keys, rates in [0, 1], P2P ratios in (0, 1] and targets that
//    are labels of the cell's dataset.
//
// The process works in a scratch folder (its current directory) holding two tiny datasets,
// `tiny/` (TSV, 2 labels) and `tiny3/` (CSV, 3 labels), so dataset paths in a plan resolve there.

import Backdoor
import Experiments
import FileIO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A broken invariant: `fatalError`, whose message (unlike `precondition`'s) an optimized build
/// still prints, so the finding says what broke.
private func fail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
  fatalError("fuzz invariant broken: " + message, file: file, line: line)
}

private func check(_ ok: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
  if !ok { fail(message(), file: file, line: line) }
}

private let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

/// The scratch folder, created with the tiny datasets and made the current directory on first use.
private let workDirectory: String = {
  let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
  let dir = base + "/p2p-fuzz-experiments-\(getpid())"
  let files = [
    "tiny/train.tsv": "sentence\tlabel\na good film\t1\na bad film\t0\n",
    "tiny/test.tsv": "sentence\tlabel\nfine\t1\nawful\t0\n",
    "tiny3/train.csv": "sentence,label\n\"one, two\",0\nthree,1\nfour,2\n",
    "tiny3/test.csv": "sentence,label\nfive,2\n",
  ]
  for (name, text) in files {
    try? FileManager.default.createDirectory(atPath: dir + "/" + (name as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    check(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(text.utf8)), "fuzz harness: cannot write \(name)")
  }
  check(FileManager.default.changeCurrentDirectoryPath(dir), "fuzz harness: cannot enter \(dir)")
  atexit { try? FileManager.default.removeItem(atPath: workDirectory) }
  return dir
}()

private func write(_ bytes: [UInt8], _ name: String) -> String {
  let path = workDirectory + "/" + name
  guard (try? Data(bytes).write(to: URL(fileURLWithPath: path))) != nil else { fail("fuzz harness: cannot write \(path)") }
  return path
}

/// `bytes` with LF line ends only: leading BOMs removed, every run of CRs before an LF dropped.
private func lfOnly(_ bytes: [UInt8]) -> [UInt8] {
  var b = bytes[...]
  while b.starts(with: bom) { b = b.dropFirst(3) }
  var out: [UInt8] = []
  for byte in b {
    if byte == 0x0A { while out.last == 0x0D { out.removeLast() } }
    out.append(byte)
  }
  return out
}

private func crlf(_ bytes: [UInt8]) -> [UInt8] { bytes.flatMap { $0 == 0x0A ? [0x0D, 0x0A] : [$0] } }

/// Loads `bytes` as `plan.yaml`: the plan, or the message of its `ExperimentError`.
private func load(_ bytes: [UInt8]) -> Result<ExperimentPlan, ExperimentError> {
  let path = write(bytes, "plan.yaml")
  do { return .success(try ExperimentPlan.load(path)) } catch let error as ExperimentError {
    _ = error.description
    return .failure(error)
  } catch {
    fail("ExperimentPlan.load threw \(type(of: error)), not ExperimentError: \(error)")
  }
}

private func checkPlan(_ plan: ExperimentPlan) {
  if plan.generationTask != nil {
    do {
      let cells = try plan.generationCells()
      check(!cells.isEmpty, "a generation plan that loads has no cells")
      check(Set(cells.map(\.key)).count == cells.count, "generation cell keys are not distinct")
      for c in cells {
        check(c.attack.rate >= 0 && c.attack.rate <= 1, "generation cell \(c.key): rate \(c.attack.rate)")
        if let d = c.defense { check(d.ratio > 0 && d.ratio <= 1, "generation cell \(c.key): ratio \(d.ratio)") }
      }
    } catch { fail("a generation plan that loads has no grid: \(error)") }
    return
  }
  do {
    let cells = try plan.cells()
    check(!cells.isEmpty, "a plan that loads has no cells")
    check(Set(cells.map(\.key)).count == cells.count, "cell keys are not distinct")
    for c in cells {
      check(c.attack.rate >= 0 && c.attack.rate <= 1, "cell \(c.key): rate \(c.attack.rate)")
      check(c.attack.count >= 1, "cell \(c.key): count \(c.attack.count)")
      let labels = try DatasetCatalog.labelSet(of: c.dataset, root: DataRoot.find()).count
      check(c.attack.target >= 0 && c.attack.target < labels, "cell \(c.key): target \(c.attack.target) of \(labels) labels")
      if let d = c.defense { check(d.ratio > 0 && d.ratio <= 1, "cell \(c.key): ratio \(d.ratio)") }
      check(!c.key.isEmpty && !c.key.contains("/"), "cell key '\(c.key)' is not a file name")
    }
  } catch { fail("a plan that loads has no grid: \(error)") }
}

/// One input: see the header comment.
@_cdecl("LLVMFuzzerTestOneInput")
public func experimentsFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  let lf = lfOnly(bytes)
  let plain = load(lf)
  if case let .success(plan) = plain { checkPlan(plan) }
  // NaN compares unequal, so compare the printed forms.
  let other = load(bom + crlf(lf))
  check("\(other)" == "\(plain)", "the CRLF+BOM file loads as \(other), the LF file as \(plain)")
  if lf != bytes { _ = load(bytes) }
  return 0
}
