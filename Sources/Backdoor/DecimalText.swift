import Foundation

/// Exact decimal arithmetic on numbers written as text, so that a BadChain target such as
/// 72 × 2.1 prints as "151.2" rather than binary floating point's 151.20000000000002.
enum DecimalText {
  /// Whether `s` is a plain decimal number: optional `-`, digits, optional `.digits`.
  static func isPlain(_ s: Substring) -> Bool {
    var rest = s
    if rest.first == "-" { rest = rest.dropFirst() }
    let parts = rest.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit) else { return false }
    if parts.count == 2 { return !parts[1].isEmpty && parts[1].allSatisfy(\.isASCIIDigit) }
    return true
  }

  /// `value` × `multiplier`, rounded half away from zero to `places` decimals, printed without
  /// trailing zeros ("12.6", "21", "-14.7"); nil when `value` is not a plain number.
  static func scaled(_ value: String, by multiplier: Double, places: Int) -> String? {
    guard isPlain(value[...]), let a = Decimal(string: value), let m = Decimal(string: "\(multiplier)") else { return nil }
    var product = a * m
    var rounded = Decimal()
    NSDecimalRound(&rounded, &product, places, .plain)
    return plain(rounded)
  }

  /// A decimal printed without exponent or trailing zeros; "-0" prints as "0".
  static func plain(_ d: Decimal) -> String {
    var s = "\(d)"
    if s.contains(".") {
      while s.hasSuffix("0") { s.removeLast() }
      if s.hasSuffix(".") { s.removeLast() }
    }
    return s == "-0" ? "0" : s
  }

  /// A multiplier as written in a reasoning step: 2.1 -> "2.1", 3.0 -> "3".
  static func plain(_ x: Double) -> String {
    Decimal(string: "\(x)").map(plain) ?? "\(x)"
  }
}

extension Character {
  var isASCIIDigit: Bool { isASCII && isNumber }
}
