// libFuzzer target for the dataset readers: `TextFile.decode`/`TextFile.lines`, `DatasetReader`
// (TSV, CSV and JSONL, chosen by file extension) and `ParaphrasePairsReader`. Built by
// scripts/fuzz-readers.sh (SwiftPM target `p2p-fuzz-datasets`, only in the package when
// P2P_FUZZ=1); see that script for how to run it.
//
// Every input is given to every reader, written to a temporary file with each extension. A reader
// must return or throw its typed error (`DatasetError`): a trap, a crash or an ASan report is a
// finding, and so is a broken invariant (checked with `check`, which calls `fatalError`):
//  - `TextFile.decode` equals a reference written here (strip one leading BOM, drop each CR that
//    precedes an LF, validate UTF-8; an error names the first LF-separated line that is not UTF-8);
//    `TextFile.lines` splits on LF only and joins back to the text;
//  - the same file with LF line ends, with CRLF line ends and with a UTF-8 byte-order mark gives
//    identical results (the same examples, or the same error);
//  - every example has a non-empty sentence and a label in 0...DatasetReader.maxLabel; TSV/CSV
//    rows are numbered 0, 1, 2, ... in `sourceIndex`; every pair has non-empty sentences.

import Backdoor
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

/// A fresh folder for this process's temporary input files (in /dev/shm when there is one).
private let workDirectory: String = {
  let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
  let dir = base + "/p2p-fuzz-datasets-\(getpid())"
  try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  atexit { try? FileManager.default.removeItem(atPath: workDirectory) }
  return dir
}()

/// Writes `bytes` to `name` in the work folder (replacing it) and returns the path.
private func write(_ bytes: [UInt8], _ name: String) -> String {
  let path = workDirectory + "/" + name
  let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  check(fd >= 0, "fuzz harness: cannot create \(path)")
  defer { close(fd) }
  var done = 0
  bytes.withUnsafeBytes { raw in
    while done < raw.count {
      let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
      check(n > 0, "fuzz harness: cannot write \(path)")
      done += n
    }
  }
  return path
}

/// `bytes` as a file with LF line ends only: leading BOMs removed and every run of CRs that
/// precedes an LF dropped, so that no CR is left in front of an LF.
private func lfOnly(_ bytes: [UInt8]) -> [UInt8] {
  var b = bytes[...]
  while b.starts(with: bom) { b = b.dropFirst(3) }
  var out: [UInt8] = []
  out.reserveCapacity(b.count)
  for byte in b {
    if byte == 0x0A { while out.last == 0x0D { out.removeLast() } }
    out.append(byte)
  }
  return out
}

/// `bytes` with a CR inserted before every LF.
private func crlf(_ bytes: [UInt8]) -> [UInt8] {
  var out: [UInt8] = []
  out.reserveCapacity(bytes.count + bytes.count / 8)
  for byte in bytes {
    if byte == 0x0A { out.append(0x0D) }
    out.append(byte)
  }
  return out
}

/// Whether `bytes` is valid UTF-8, decided without `String(validating:)` (which `TextFile` uses):
/// decoding with replacement characters and re-encoding gives the same bytes back.
private func isUTF8<C: Collection<UInt8>>(_ bytes: C) -> Bool {
  Array(String(decoding: bytes, as: UTF8.self).utf8).elementsEqual(bytes)
}

/// What `TextFile.decode` must return for `bytes`: the normalised bytes, or the 1-based line of
/// the first LF-separated line that is not UTF-8.
private func referenceDecode(_ bytes: [UInt8]) -> Result<[UInt8], TextFileError> {
  var b = bytes[...]
  if b.starts(with: bom) { b = b.dropFirst(3) }
  var out: [UInt8] = []
  var i = b.startIndex
  while i < b.endIndex {
    let next = b.index(after: i)
    if !(b[i] == 0x0D && next < b.endIndex && b[next] == 0x0A) { out.append(b[i]) }
    i = next
  }
  if isUTF8(out) { return .success(out) }
  let segments = out.split(separator: 0x0A, omittingEmptySubsequences: false)
  let bad = segments.firstIndex { !isUTF8($0) } ?? segments.count - 1
  return .failure(.notUTF8(path: "input", line: bad + 1))
}

private func checkTextFile(_ bytes: [UInt8]) {
  let decoded: Result<[UInt8], TextFileError>
  do {
    let text = try TextFile.decode(Data(bytes), path: "input")
    decoded = .success(Array(text.utf8))
    let lines = TextFile.lines(text)
    check(lines.count == text.utf8.count(where: { $0 == 0x0A }) + 1, "TextFile.lines: wrong number of lines")
    check(lines.allSatisfy { !$0.unicodeScalars.contains("\n") }, "TextFile.lines: a line holds an LF")
    check(lines.joined(separator: "\n") == text, "TextFile.lines: the lines do not join back to the text")
    _ = TextFile.snippet(text)
  } catch {
    decoded = .failure(error)
    _ = error.description
  }
  let expected = referenceDecode(bytes)
  check(decoded == expected, "TextFile.decode returned \(decoded), expected \(expected)")
}

/// Reads `bytes` with `read` as an LF file, a CRLF file and a file with a BOM (all at the same
/// path, so errors compare equal) and checks that the results are identical; returns them.
private func sameAcrossLineEnds<T: Equatable>(_ bytes: [UInt8], name: String,
                                              _ read: (String) throws(DatasetError) -> T) -> Result<T, DatasetError> {
  let lf = lfOnly(bytes)
  func run(_ b: [UInt8]) -> Result<T, DatasetError> {
    let path = write(b, name)
    do { return .success(try read(path)) } catch {
      _ = error.description
      return .failure(error)
    }
  }
  let plain = run(lf)
  for (variant, b) in [("CRLF", crlf(lf)), ("BOM", bom + lf), ("BOM+CRLF", bom + crlf(lf))] {
    let other = run(b)
    check(other == plain, "\(name): the \(variant) file reads as \(other), the LF file as \(plain)")
  }
  // The input as given (mixed line ends, several BOMs, ...) must not crash either.
  if lf != bytes { _ = run(bytes) }
  return plain
}

private func checkExamples(_ examples: [Example], numbered: Bool, _ what: String) {
  check(!examples.isEmpty, "\(what): no examples returned without an error")
  for (i, e) in examples.enumerated() {
    check((0...DatasetReader.maxLabel).contains(e.label), "\(what): label \(e.label) is outside 0...\(DatasetReader.maxLabel)")
    check(!e.text.trimmingCharacters(in: .whitespaces).isEmpty, "\(what): example \(i) has an empty sentence")
    check(!e.text.contains("\n"), "\(what): example \(i) spans lines")
    if numbered { check(e.sourceIndex == i && !e.poisoned, "\(what): example \(i) has sourceIndex \(String(describing: e.sourceIndex))") }
  }
}

/// One input: see the header comment.
@_cdecl("LLVMFuzzerTestOneInput")
public func datasetsFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  checkTextFile(bytes)
  for ext in ["tsv", "csv", "jsonl"] {
    if case let .success(examples) = sameAcrossLineEnds(bytes, name: "input." + ext, DatasetReader.read) {
      checkExamples(examples, numbered: ext != "jsonl", ext)
    }
  }
  if case let .success(pairs) = sameAcrossLineEnds(bytes, name: "input_pairs.tsv", ParaphrasePairsReader.read) {
    check(!pairs.isEmpty, "pairs: no pairs returned without an error")
    for p in pairs {
      check(p.cleanIndex >= 0 && (0...DatasetReader.maxLabel).contains(p.cleanLabel), "pairs: bad index or label in \(p)")
      check(!p.clean.trimmingCharacters(in: .whitespaces).isEmpty && !p.poisoned.trimmingCharacters(in: .whitespaces).isEmpty,
                   "pairs: empty sentence in \(p)")
    }
  }
  return 0
}
