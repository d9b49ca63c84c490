import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What one command writes into its output folder: how its earlier output is recognised, and the
/// names of the entries it creates (the only ones it may ever replace or remove).
public struct OutputKind: Sendable {
  /// The command, for messages (`p2p poison`).
  public var command: String
  /// The entries (files or folders) this command creates in its folder.
  public var entries: [String]
  /// Whether a folder holds this command's earlier output (e.g. its manifest decodes).
  public var recognises: @Sendable (_ directory: String) -> Bool

  public init(command: String, entries: [String], recognises: @escaping @Sendable (_ directory: String) -> Bool) {
    self.command = command; self.entries = entries; self.recognises = recognises
  }
}

/// The rule every command that writes a folder follows: it writes into a new or empty folder, or
/// into one holding its own earlier output only when told (`--overwrite`, or `--resume` where a
/// command resumes), and it never deletes or replaces anything it did not create. A folder equal
/// to or above one of the command's inputs is refused. Temporary folders of killed runs
/// (`OUT.tmp-p2p-<pid>-<id>`, whose process is gone) are cleaned.
public enum OutputFolder {
  /// What is at an output path now.
  public enum State: Equatable, Sendable {
    /// Nothing: the folder will be created.
    case new
    /// An empty folder.
    case empty
    /// A folder holding this command's earlier output.
    case own
  }

  /// The path without trailing slashes (`dir/` and `dir` are one folder).
  public static func normalized(_ path: String) -> String {
    var p = path
    while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
    return p
  }

  /// Checks that `path` may receive `kind`'s output and says what is there. `inputs` are the
  /// paths the command reads (files or folders); `replace` is true when the user asked to replace
  /// or continue the command's own earlier output.
  @discardableResult
  public static func check(_ path: String, kind: OutputKind, inputs: [String] = [], replace: Bool,
                           replaceFlag: String = "--overwrite") throws(OutputError) -> State {
    let out = normalized(path)
    guard !out.isEmpty else { throw .refused(path: path, reason: "empty output path") }
    let resolvedOut = resolved(out)
    for input in inputs where !input.isEmpty {
      let r = resolved(normalized(input))
      if r == resolvedOut || r.hasPrefix(resolvedOut == "/" ? "/" : resolvedOut + "/") {
        throw .refused(path: path, reason: "it is \(r == resolvedOut ? "the same as" : "a folder above") the input '\(input)'; "
                         + "choose an output folder outside the inputs")
      }
    }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) else {
      // A dangling symbolic link also lands here: refuse to write through it.
      if (try? FileManager.default.destinationOfSymbolicLink(atPath: out)) != nil {
        throw .refused(path: path, reason: "it is a symbolic link to nothing")
      }
      return .new
    }
    guard isDirectory.boolValue else {
      throw .refused(path: path, reason: "it is a file, not a folder; \(kind.command) writes a folder (choose a new path)")
    }
    let contents = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
    if contents.isEmpty { return .empty }
    guard kind.recognises(out) else {
      throw .refused(path: path, reason: "the folder is not empty and does not hold an earlier output of \(kind.command) "
                       + "(it has \(contents.count) entr\(contents.count == 1 ? "y" : "ies"), e.g. '\(contents.sorted()[0])'); "
                       + "choose a new folder, nothing was written")
    }
    guard replace else {
      throw .refused(path: path, reason: "it holds an earlier output of \(kind.command); pass \(replaceFlag) to replace it "
                       + "(only the files \(kind.command) writes are replaced), or choose a new folder")
    }
    return .own
  }

  /// Removes the entries `kind` creates from a folder that holds its own earlier output, leaving
  /// everything else in place.
  public static func removeOwnEntries(in path: String, kind: OutputKind) throws(OutputError) {
    let out = normalized(path)
    for name in kind.entries {
      let p = out + "/" + name
      guard FileManager.default.fileExists(atPath: p) || (try? FileManager.default.destinationOfSymbolicLink(atPath: p)) != nil else { continue }
      do { try FileManager.default.removeItem(atPath: p) } catch {
        throw .cannotWrite(path: p, reason: "cannot remove the earlier output: \(error.localizedDescription)")
      }
    }
  }

  /// A fresh temporary sibling of `path` that names this process, so a later run can tell a
  /// killed run's leftover from a live one.
  public static func temporarySibling(of path: String) -> String {
    normalized(path) + ".tmp-p2p-\(getpid())-\(UUID().uuidString.prefix(8))"
  }

  /// Removes the temporary siblings of `path` left by processes that are gone: names
  /// `BASE.tmp-p2p-<pid>-<id>` whose pid no longer runs. Nothing else is touched: a folder that
  /// only looks like an older version's temporary (`BASE.tmp-<8 characters>`) may be the user's
  /// own (a dated backup). Returns the removed paths.
  @discardableResult
  public static func cleanStaleTemporaries(of path: String) -> [String] {
    let out = normalized(path)
    let parent = (out as NSString).deletingLastPathComponent
    let base = (out as NSString).lastPathComponent
    let folder = parent.isEmpty ? "." : parent
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
    var removed: [String] = []
    for name in names where name.hasPrefix(base + ".tmp-") {
      let rest = name.dropFirst(base.count + 5)
      let full = folder + "/" + name
      var stale = false
      if rest.hasPrefix("p2p-") {
        let fields = rest.dropFirst(4).split(separator: "-")
        if let pidText = fields.first, let pid = Int32(pidText), fields.count == 2 {
          stale = kill(pid, 0) != 0 && errno == ESRCH
        }
      }
      if stale, (try? FileManager.default.removeItem(atPath: full)) != nil { removed.append(full) }
    }
    return removed
  }

  /// `path` with symbolic links resolved and made absolute; for a path that does not exist yet,
  /// its deepest existing ancestor resolved plus the rest.
  public static func resolved(_ path: String) -> String {
    let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    var existing = (absolute as NSString).standardizingPath
    var tail: [String] = []
    while !FileManager.default.fileExists(atPath: existing) && existing != "/" && !existing.isEmpty {
      tail.insert((existing as NSString).lastPathComponent, at: 0)
      existing = (existing as NSString).deletingLastPathComponent
    }
    var base = (existing as NSString).resolvingSymlinksInPath
    if base.isEmpty { base = "/" }
    return tail.reduce(base) { ($0 == "/" ? "" : $0) + "/" + $1 }
  }
}

/// Why an output path was refused or could not be written.
public enum OutputError: Error, Equatable, CustomStringConvertible, Sendable {
  case refused(path: String, reason: String)
  case cannotWrite(path: String, reason: String)

  public var description: String {
    switch self {
    case let .refused(path, reason): return "will not write to '\(path)': \(reason)"
    case let .cannotWrite(path, reason): return "cannot write '\(path)': \(reason)"
    }
  }
}
