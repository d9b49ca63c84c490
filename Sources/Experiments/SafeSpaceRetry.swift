import Defense
import Evaluation

/// The default pipeline's second try (our extension). The safe-space check (`SafeSpaceCheck`)
/// judges a trained adapter without gold test labels; when it fails for an adapter whose relative
/// spectral screen flipped rows into the safe space, the flips are the likely cause: a ranking that
/// put clean rows of the flagged label at the trigger's end teaches the safe space to give that
/// label's text another label (AG News StyleBkd seed 2: 42 of 100 flips clean World rows, and the
/// wrapper never answered World). The pipeline then trains once more with its flips confirmed row
/// by row (`P2PConfig.confirmFlips`: only rows that a classifier reading their text gives another
/// label), checks that adapter, and keeps the better of the two (`prefersRetry`). Nothing is tuned
/// to the attack; the retry costs a second training only where the first check failed.
public enum SafeSpaceRetry {
  /// The second try's folder inside the first's (`p2p defend`'s output, a grid cell).
  public static let folder = "retry"
  /// Where `p2p defend` keeps the first try when the second one is kept.
  public static let firstAttemptFolder = "first-attempt"
  /// `p2p defend`'s record of a second try (`RetryRecord`), next to the adapter.
  public static let recordFile = "retry.json"

  /// The configuration of the second try: `requested` (the pipeline as asked for, before the data
  /// chose its screen) with confirmed flips; nil when the first try (`ran`, as resolved) passed its
  /// check, was not the default pipeline, flipped no rows (`flipped`) with the spectral screen, or
  /// already confirmed its flips.
  public static func config(requested: P2PConfig, ran: P2PConfig?, flipped: Int?, check: SafeSpaceCheck?) -> P2PConfig? {
    guard let check, check.warning != nil, (flipped ?? 0) > 0, let ran, ran.automatic == true, ran.spectralScreen == true,
          ran.confirmFlips != true, ran.retried != true, requested.automatic == true else { return nil }
    var next = requested
    next.confirmFlips = true
    next.retried = true
    // The insertion test's verdicts on flagged words carry over (the same rows, the same base model).
    next.releasedWords = ran.releasedWords
    return next
  }

  /// Whether the second try's check is better than the first's: answering a label word for most
  /// inputs first (the shares count answered inputs only), then fewer labels dropped, then (with
  /// dev inputs) the smaller dev macro-F1 loss to the plain prompt. A tie keeps the first try.
  public static func prefersRetry(first: SafeSpaceCheck, retry: SafeSpaceCheck) -> Bool {
    func rank(_ c: SafeSpaceCheck) -> (Int, Int, Double) {
      let loss = c.macroF1.flatMap { m in c.plainMacroF1.map { $0 - m } } ?? 0
      return (c.mostlyUnanswered ? 1 : 0, c.droppedLabels.count, loss.isFinite ? loss : .infinity)
    }
    let a = rank(first), b = rank(retry)
    if b.0 != a.0 { return b.0 < a.0 }
    if b.1 != a.1 { return b.1 < a.1 }
    return b.2 < a.2
  }

  /// The record of a finished second try: both checks, and the try kept (`prefersRetry`).
  public static func record(first: SafeSpaceCheck, retry: SafeSpaceCheck) -> RetryRecord {
    RetryRecord(reason: first.warning ?? "", kept: prefersRetry(first: first, retry: retry) ? .retry : .first,
                firstCheck: first, retryCheck: retry)
  }

  /// The record of a second try that did not finish (`error`): the first try is kept.
  public static func record(first: SafeSpaceCheck, retryError error: String) -> RetryRecord {
    RetryRecord(reason: first.warning ?? "", kept: .first, firstCheck: first, retryCheck: nil, retryError: error)
  }
}

/// What a cell or `p2p defend` records of a second try (`SafeSpaceRetry`).
public struct RetryRecord: Codable, Sendable, Equatable {
  /// Why the first try failed its check (`SafeSpaceCheck.warning`).
  public var reason: String
  /// Which try is the result.
  public enum Kept: String, Codable, Sendable {
    /// The first: the second try's check was no better, or the second try failed (`retryError`).
    case first
    /// The second try.
    case retry
  }
  public var kept: Kept
  public var firstCheck: SafeSpaceCheck
  /// nil when the second try did not finish (`retryError`).
  public var retryCheck: SafeSpaceCheck?
  /// Why the second try did not finish (it threw; the first try is kept).
  public var retryError: String?
  /// The try not kept, as measured on the test split (grid cells only): accuracy, macro-F1 and ASR.
  public var otherAccuracy: Double?
  public var otherMacroF1: Double?
  public var otherASR: Double?
  /// The training seconds of the try not kept (the result's `trainingSeconds` counts both).
  public var otherTrainingSeconds: Double?

  public init(reason: String, kept: Kept, firstCheck: SafeSpaceCheck, retryCheck: SafeSpaceCheck?, retryError: String? = nil) {
    self.reason = reason; self.kept = kept; self.firstCheck = firstCheck; self.retryCheck = retryCheck; self.retryError = retryError
  }

  /// "the safe-space check failed (…); trained again with confirmed flips: kept the second try, whose check passes".
  public var summary: String {
    let head = "the first try's safe-space check failed; trained again with confirmed flips (\(SafeSpaceRetry.folder)/): "
    if let retryError { return head + "the second try failed (\(retryError)); kept the first try" }
    let second = retryCheck?.warning == nil ? "whose check passes" : "whose check also fails"
    return head + (kept == .retry ? "kept the second try, \(second)" : "kept the first try (the second one's check was no better)")
  }
}
