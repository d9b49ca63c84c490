import FileIO
import Foundation
import Testing

struct OutputFolderTests {
  static let kind = OutputKind(command: "p2p test", entries: ["out.txt", "manifest.json"]) { dir in
    FileManager.default.fileExists(atPath: dir + "/manifest.json")
  }

  static func folder() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("p2p-out-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  static func refused(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch let e as OutputError {
      if case let .refused(_, reason) = e { return reason }
      return nil
    } catch { return nil }
  }

  @Test func newAndEmptyFoldersAreAccepted() throws {
    let root = try Self.folder()
    #expect(try OutputFolder.check(root + "/fresh", kind: Self.kind, replace: false) == .new)
    #expect(try OutputFolder.check(root, kind: Self.kind, replace: false) == .empty)
    #expect(try OutputFolder.check(root + "/", kind: Self.kind, replace: false) == .empty)
  }

  @Test func aFileOrAForeignFolderIsRefusedEvenWithOverwrite() throws {
    let root = try Self.folder()
    try Data("mine".utf8).write(to: URL(fileURLWithPath: root + "/notes.txt"))
    for replace in [false, true] {
      #expect(Self.refused { try OutputFolder.check(root, kind: Self.kind, replace: replace) }?.contains("not empty") == true)
      #expect(Self.refused { try OutputFolder.check(root + "/notes.txt", kind: Self.kind, replace: replace) }?.contains("is a file") == true)
    }
    #expect(Self.refused { try OutputFolder.check("/dev/null", kind: Self.kind, replace: true) } != nil)
  }

  @Test func ownOutputNeedsTheFlagAndOnlyOwnEntriesAreRemoved() throws {
    let root = try Self.folder()
    try Data("{}".utf8).write(to: URL(fileURLWithPath: root + "/manifest.json"))
    try Data("old".utf8).write(to: URL(fileURLWithPath: root + "/out.txt"))
    try FileManager.default.createDirectory(atPath: root + "/victim", withIntermediateDirectories: true)
    try Data("adapter".utf8).write(to: URL(fileURLWithPath: root + "/victim/adapter.bin"))
    #expect(Self.refused { try OutputFolder.check(root, kind: Self.kind, replace: false) }?.contains("--overwrite") == true)
    #expect(try OutputFolder.check(root, kind: Self.kind, replace: true) == .own)
    try OutputFolder.removeOwnEntries(in: root, kind: Self.kind)
    #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["victim"])
    #expect(FileManager.default.contents(atPath: root + "/victim/adapter.bin") == Data("adapter".utf8))
  }

  @Test func anOutputEqualToOrAboveAnInputIsRefused() throws {
    let root = try Self.folder()
    try FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
    let input = root + "/data/train.tsv"
    try Data("sentence\tlabel\n".utf8).write(to: URL(fileURLWithPath: input))
    #expect(Self.refused { try OutputFolder.check(root + "/data/train.tsv", kind: Self.kind, inputs: [input], replace: true) }?
      .contains("same as the input") == true)
    #expect(Self.refused { try OutputFolder.check(root + "/data/", kind: Self.kind, inputs: [input], replace: true) }?
      .contains("above the input") == true)
    #expect(Self.refused { try OutputFolder.check(root, kind: Self.kind, inputs: [root + "/data"], replace: true) }?
      .contains("above the input") == true)
    // A relative spelling of the same folder is the same folder.
    let cwd = FileManager.default.currentDirectoryPath
    _ = FileManager.default.changeCurrentDirectoryPath(root)
    defer { _ = FileManager.default.changeCurrentDirectoryPath(cwd) }
    #expect(Self.refused { try OutputFolder.check(".", kind: Self.kind, inputs: [input], replace: true) } != nil)
    #expect(try OutputFolder.check("sibling", kind: Self.kind, inputs: [input], replace: false) == .new)
  }

  @Test func staleTemporariesOfDeadProcessesAreCleaned() throws {
    let root = try Self.folder()
    let out = root + "/ds"
    // A pid that cannot be running (above the kernel's pid_max of 2^22).
    let dead = out + ".tmp-p2p-2147483000-abcd1234"
    let live = out + ".tmp-p2p-\(getpid())-abcd1234"
    // Folders that only look like an older version's temporaries may be the user's (a dated
    // backup holding the command's file names): never removed.
    let backup = out + ".tmp-20261205"
    let foreign = out + ".tmp-9Z8Y7X6W"
    for d in [dead, live, backup, foreign] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
    try Data().write(to: URL(fileURLWithPath: backup + "/out.txt"))
    try Data().write(to: URL(fileURLWithPath: foreign + "/thesis.tex"))
    let removed = OutputFolder.cleanStaleTemporaries(of: out)
    #expect(removed == [dead])
    for kept in [live, backup, foreign] { #expect(FileManager.default.fileExists(atPath: kept)) }
  }
}
