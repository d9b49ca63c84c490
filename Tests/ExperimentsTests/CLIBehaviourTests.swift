import Experiments
import FileIO
import Foundation
import Testing

/// The CLI as a user meets it: --version, no terminal escape codes in a redirected log, clean exits
/// on the bad inputs (exit 1, no signal, nothing destroyed).
struct CLIBehaviourTests {
  @Test func versionAndPlainLogs() throws {
    let version = try AdapterCommandTests.run(["--version"])
    #expect(version.status == 0 && version.out.trimmingCharacters(in: .whitespacesAndNewlines) == P2PVersion.string)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)").path
    let poison = try AdapterCommandTests.run(["poison", "--data", Self.dataRoot + "/sst2", "--attack", "badnets", "--rate", "0.1", "--target", "1",
                                               "--train-limit", "50", "--test-limit", "20", "--out", dir])
    #expect(poison.status == 0, "\(poison.err)")
    #expect(!poison.err.contains("\u{1B}") && !poison.out.contains("\u{1B}"))
  }

  static let dataRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Data").standardizedFileURL.path

  @Test func badInputsExitOneWithoutASignalAndChangeNothing() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cli-bad-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
    try "sentence\tlabel\na\t0\nb\t9223372036854775807\n".write(toFile: dir + "/data/train.tsv", atomically: true, encoding: .utf8)
    try "sentence\tlabel\nc\t0\n".write(toFile: dir + "/data/test.tsv", atomically: true, encoding: .utf8)
    let huge = try AdapterCommandTests.run(["poison", "--data", dir + "/data", "--attack", "badnets", "--rate", "0.5", "--target", "0", "--out", dir + "/x"])
    #expect(huge.status == 1 && huge.err.contains("train.tsv:3"), "\(huge.err)")
    let target = try AdapterCommandTests.run(["poison", "--data", Self.dataRoot + "/sst2", "--attack", "badnets", "--rate", "0.1", "--target", "99",
                                              "--train-limit", "50", "--out", dir + "/y"])
    #expect(target.status == 1 && target.err.contains("expected a label of the dataset (0 or 1)"), "\(target.err)")
    // --out on the input folder: refused even with --overwrite, the input untouched.
    let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/data/train.tsv"))
    let same = try AdapterCommandTests.run(["poison", "--data", dir + "/data", "--attack", "badnets", "--rate", "0.5", "--target", "0",
                                            "--out", dir + "/data", "--overwrite"])
    #expect(same.status == 1 && same.err.contains("will not write"), "\(same.err)")
    #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/data/train.tsv")) == before)
    #expect(!FileManager.default.fileExists(atPath: dir + "/x") && !FileManager.default.fileExists(atPath: dir + "/y"))
    // --report-only on a folder no run wrote: an error, and no folder or report appears.
    let plan = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../experiments/demo.yaml").standardizedFileURL.path
    let report = try AdapterCommandTests.run(["run", plan, "--report-only", "--out", dir + "/never-ran"])
    #expect(report.status == 1 && report.err.contains("no earlier output of p2p run"), "\(report.err)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/never-ran"))
  }
}
