import Foundation

/// The moment `strftime_now` formats (transformers passes `datetime.now()`, so Llama 3.2's template
/// writes today's date into the system block). Injected, so a render can be reproduced.
public struct JinjaClock: Sendable, Equatable {
  public var year: Int
  public var month: Int  // 1...12
  public var day: Int  // 1...31
  public var hour: Int
  public var minute: Int
  public var second: Int

  public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
    self.year = year; self.month = month; self.day = day; self.hour = hour; self.minute = minute; self.second = second
  }

  /// The local date and time of `date` (the machine's time zone, as Python's `datetime.now()`).
  public init(_ date: Date, timeZone: TimeZone = .current) {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = timeZone
    let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
    self.init(year: c.year ?? 1970, month: c.month ?? 1, day: c.day ?? 1, hour: c.hour ?? 0, minute: c.minute ?? 0, second: c.second ?? 0)
  }

  private static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                               "October", "November", "December"]
  private static let weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

  /// Monday = 0 (Python's `weekday()`), by Sakamoto's method on the proleptic Gregorian calendar.
  var weekday: Int {
    let t = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]
    let y = month < 3 ? year - 1 : year
    let sunday0 = (y + y / 4 - y / 100 + y / 400 + t[month - 1] + day) % 7
    return (sunday0 + 6) % 7
  }

  var dayOfYear: Int {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return lengths.prefix(month - 1).reduce(0, +) + day
  }

  /// C-locale `strftime` for the conversions chat templates use (glibc's `%-d` style included).
  public func format(_ pattern: String, line: Int) throws(JinjaError) -> String {
    var out = ""
    var chars = pattern.makeIterator()
    func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    while let c = chars.next() {
      guard c == "%" else { out.append(c); continue }
      guard var code = chars.next() else { out.append("%"); break }
      var unpadded = false
      if code == "-", let next = chars.next() { unpadded = true; code = next }
      func num(_ v: Int, width: Int = 2) -> String {
        if unpadded { return String(v) }
        let s = String(v)
        return String(repeating: "0", count: max(0, width - s.count)) + s
      }
      switch code {
      case "Y": out += String(year)
      case "y": out += two(year % 100)
      case "m": out += num(month)
      case "d": out += num(day)
      case "e": out += day < 10 ? " \(day)" : "\(day)"
      case "H": out += num(hour)
      case "I": out += num(hour % 12 == 0 ? 12 : hour % 12)
      case "M": out += num(minute)
      case "S": out += num(second)
      case "p": out += hour < 12 ? "AM" : "PM"
      case "j": out += num(dayOfYear, width: 3)
      case "B": out += Self.months[month - 1]
      case "b", "h": out += String(Self.months[month - 1].prefix(3))
      case "A": out += Self.weekdays[weekday]
      case "a": out += String(Self.weekdays[weekday].prefix(3))
      case "%": out += "%"
      default: throw .runtime(line: line, message: "strftime_now: the conversion %\(code) is not supported")
      }
    }
    return out
  }
}
