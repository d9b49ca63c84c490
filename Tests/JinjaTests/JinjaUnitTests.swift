import Foundation
import Testing
import Jinja

/// The interpreter against jinja2 as transformers configures it (Fixtures/cases.json, one feature
/// per template, written by scripts/fixtures/chat_templates.py), and hand-made cases for what the
/// fixture cannot show: refusals, error lines, the clock and the JSON reader.
struct JinjaUnitTests {
  static let clock = JinjaClock(year: 2026, month: 12, day: 5, hour: 14, minute: 3, second: 9)

  static func render(_ template: String, _ variables: [String: JinjaValue] = [:]) throws -> String {
    try JinjaTemplate(template).render(variables, clock: clock)
  }

  @Test func everyFeatureRendersAsJinja2RendersIt() throws {
    let url = try #require(Bundle.module.url(forResource: "cases", withExtension: "json", subdirectory: "Fixtures"))
    guard case .object(let root) = try JinjaJSONReader.read(String(contentsOf: url, encoding: .utf8)),
          case .array(let cases)? = root["cases"], root["clock"] == .array([2026, 12, 5, 14, 3, 9].map { .int($0) }) else {
      Issue.record("Fixtures/cases.json is not the expected shape")
      return
    }
    #expect(cases.count == 62)
    for value in cases {
      guard case .object(let c) = value, case .string(let name)? = c["name"], case .string(let source)? = c["template"],
            case .object(let variables)? = c["variables"] else {
        Issue.record("malformed case \(value.repr)")
        continue
      }
      let vars = Dictionary(uniqueKeysWithValues: variables.pairs.map { ($0.key, $0.value) })
      if case .string(let expected)? = c["text"] {
        do {
          let text = try Self.render(source, vars)
          #expect(Array(text.unicodeScalars) == Array(expected.unicodeScalars), "\(name): \(text.debugDescription) vs jinja2 \(expected.debugDescription)")
        } catch {
          Issue.record("\(name): \(error)")
        }
      } else if case .string("raised")? = c["error"], case .string(let message)? = c["message"] {
        #expect(throws: JinjaError.raised(line: 1, message: message), "\(name)") { _ = try Self.render(source, vars) }
      } else {
        #expect(throws: JinjaError.self, "\(name) should fail") { _ = try Self.render(source, vars) }
      }
    }
  }

  @Test func unsupportedTagsAndSyntaxErrorsNameTheLine() {
    #expect(throws: JinjaError.syntax(line: 3, message: "the tag 'macro' is not supported")) {
      _ = try JinjaTemplate("a\nb\n{% macro m() %}x{% endmacro %}")
    }
    #expect(throws: JinjaError.syntax(line: 2, message: "the template ends before 'else' or 'endfor'")) {
      _ = try JinjaTemplate("{% for x in y %}\n{{ x }}")
    }
    #expect(throws: JinjaError.syntax(line: 1, message: "'endif' without its opening tag")) { _ = try JinjaTemplate("{% endif %}") }
    #expect(throws: JinjaError.syntax(line: 2, message: "a tag is not closed with }}")) { _ = try JinjaTemplate("x\n{{ 1 + ") }
    #expect(throws: JinjaError.syntax(line: 1, message: "expected a value, found ')'")) { _ = try JinjaTemplate("{{ ) }}") }
    #expect(throws: JinjaError.runtime(line: 2, message: "'user' is undefined")) { _ = try Self.render("\n{{ user.name }}") }
    #expect(throws: JinjaError.runtime(line: 1, message: "no filter named 'nope'")) { _ = try Self.render("{{ 1 | nope }}") }
  }

  @Test func aLoopScopeEndsWithTheLoopAndANamespaceOutlivesIt() throws {
    #expect(try Self.render("{% set n = 0 %}{% for i in [1, 2] %}{% set n = n + i %}{% endfor %}{{ n }}") == "0")
    #expect(try Self.render("{% set ns = namespace(n=0) %}{% for i in [1, 2] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}") == "3")
    #expect(throws: JinjaError.runtime(line: 1, message: "cannot assign the attribute 'n' of 'x', which is not a namespace")) {
      _ = try Self.render("{% set x = 1 %}{% set x.n = 2 %}")
    }
  }

  @Test func theClockFormatsLikeCStrftime() throws {
    // 26 July 2024 was a Friday, 1 January 2000 a Saturday; 29 February 2024 is day 60.
    let friday = JinjaClock(year: 2024, month: 7, day: 26, hour: 0, minute: 5, second: 0)
    #expect(try friday.format("%d %b %Y|%A %a|%I:%M %p|%j|%-m/%-d|%%", line: 1) == "26 Jul 2024|Friday Fri|12:05 AM|208|7/26|%")
    #expect(try JinjaClock(year: 2000, month: 1, day: 1).format("%A %e", line: 1) == "Saturday  1")
    #expect(try JinjaClock(year: 2024, month: 2, day: 29).format("%j", line: 1) == "060")
    #expect(throws: JinjaError.runtime(line: 1, message: "strftime_now: the conversion %Q is not supported")) { _ = try friday.format("%Q", line: 1) }
  }

  @Test func theJSONReaderKeepsKeyOrderAndPythonNumberTypes() throws {
    let v = try JinjaJSONReader.read(#" {"z": [1, 2.0, 1e2, -3, true, null], "a": "\u00e9\ud83d\ude00\n\"", "m": {}} "#)
    guard case .object(let o) = v else { Issue.record("not an object"); return }
    #expect(o.keys == ["z", "a", "m"])
    #expect(o["z"] == .array([.int(1), .double(2), .double(100), .int(-3), .bool(true), .none]))
    #expect(o["a"] == .string("é😀\n\""))
    #expect(try JinjaTemplate("{{ v | tojson }}").render(["v": v], clock: Self.clock)
      == #"{"z": [1, 2.0, 100.0, -3, true, null], "a": "é😀\n\"", "m": {}}"#)
    #expect(throws: JinjaError.syntax(line: 1, message: "JSON at offset 6: expected ',' or ']'")) { _ = try JinjaJSONReader.read("[1, 2 3]") }
    #expect(throws: JinjaError.self) { _ = try JinjaJSONReader.read("{\"a\": }") }
    #expect(throws: JinjaError.self) { _ = try JinjaJSONReader.read("\"open") }
  }

  @Test func pythonReprOfValues() {
    #expect(JinjaValue.array([.string("it's"), .double(1e16), .double(0.1), .double(3), .none]).repr == #"["it's", 1e+16, 0.1, 3.0, None]"#)
    #expect(JinjaValue.string("tab\there\u{01}").repr == #"'tab\there\x01'"#)
  }
}
