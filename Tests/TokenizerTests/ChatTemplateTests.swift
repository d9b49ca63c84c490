import Foundation
import GGUF
import Jinja
import Testing
import Tokenizer

/// Chat templates rendered as transformers renders them: the real templates of SmolLM2, Llama 3.1,
/// Llama 3.2, Qwen2.5 and Qwen3 over 476 conversations (Fixtures/chat-templates, written by
/// scripts/fixtures/chat_templates.py with transformers' `render_jinja_template`), plus the GGUF
/// reading and the errors.
struct ChatTemplateTests {
  struct FamilyFixture {
    let clock: JinjaClock
    let tokens: [String: (bos: String?, eos: String?)]
    let cases: [JinjaValue]
  }

  static func familyFixture() throws -> FamilyFixture {
    let url = try #require(Bundle.module.url(forResource: "cases", withExtension: "json", subdirectory: "Fixtures/chat-templates"),
                           "Fixtures/chat-templates/cases.json is missing: run scripts/fixtures/chat_templates.py")
    let root = try JinjaJSONReader.read(String(contentsOf: url, encoding: .utf8))
    guard case .object(let o) = root, case .array(let clock)? = o["clock"], case .object(let families)? = o["families"],
          case .array(let cases)? = o["cases"] else { throw JinjaError.syntax(line: 1, message: "bad fixture") }
    let c = clock.map { $0.integer ?? 0 }
    var tokens: [String: (bos: String?, eos: String?)] = [:]
    for (family, value) in families.pairs {
      guard case .object(let t) = value else { continue }
      tokens[family] = (t["bos_token"]?.stringValue, t["eos_token"]?.stringValue)
    }
    return FamilyFixture(clock: JinjaClock(year: c[0], month: c[1], day: c[2], hour: c[3], minute: c[4], second: c[5]),
                         tokens: tokens, cases: cases)
  }

  static func templateSource(_ family: String) throws -> String {
    let url = try #require(Bundle.module.url(forResource: family, withExtension: "jinja", subdirectory: "Fixtures/chat-templates"))
    return try String(contentsOf: url, encoding: .utf8)
  }

  @Test func theFamiliesTemplatesRenderAsTransformersRendersThem() throws {
    let fixture = try Self.familyFixture()
    #expect(fixture.cases.count == 476)
    var templates: [String: ChatTemplate] = [:]
    var counts: [String: Int] = [:]
    for value in fixture.cases {
      guard case .object(let c) = value, let family = c["family"]?.stringValue, case .array(let rawMessages)? = c["messages"],
            case .bool(let agp)? = c["addGenerationPrompt"], case .object(let variables)? = c["variables"] else {
        Issue.record("malformed case \(value.repr)")
        continue
      }
      if templates[family] == nil {
        let t = try #require(fixture.tokens[family])
        templates[family] = try ChatTemplate(template: Self.templateSource(family), bosToken: t.bos, eosToken: t.eos)
      }
      let template = try #require(templates[family])
      let messages = rawMessages.compactMap { m -> ChatMessage? in
        guard case .object(let o) = m, let role = o["role"]?.stringValue, let content = o["content"]?.stringValue else { return nil }
        return ChatMessage(role: role, content: content)
      }
      let vars = Dictionary(uniqueKeysWithValues: variables.pairs.map { ($0.key, $0.value) })
      let label = "\(family) \(rawMessages.count) messages, agp \(agp), \(variables.keys)"
      if let expected = c["text"]?.stringValue {
        let text = try template.render(messages, addGenerationPrompt: agp, variables: vars, clock: fixture.clock)
        #expect(Array(text.unicodeScalars) == Array(expected.unicodeScalars), "\(label): \(text.debugDescription) vs \(expected.debugDescription)")
      } else {
        #expect(throws: TokenizerError.self, "\(label) should fail") {
          _ = try template.render(messages, addGenerationPrompt: agp, variables: vars, clock: fixture.clock)
        }
      }
      counts[family, default: 0] += 1
    }
    #expect(counts == ["smollm2": 28, "llama-3.1": 140, "llama-3.2": 140, "qwen2.5": 56, "qwen3": 112])
  }

  /// The SmolLM2 cases recorded with the model's tokenizer (tokenizer_fixtures.py) agree too.
  @Test func smolLM2RenderingMatchesTransformers() throws {
    let fixture = try Reference.fixture()
    #expect(fixture.modelSHA256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
    #expect(try fixture.chatTemplate == Self.templateSource("smollm2"))
    let smol = try ChatTemplate(template: fixture.chatTemplate, eosToken: "<|im_end|>")
    #expect(fixture.chatCases.count >= 8)
    for c in fixture.chatCases {
      let text = try smol.render(c.messages, addGenerationPrompt: c.addGenerationPrompt)
      #expect(sameScalars(text, c.text), "render(\(c.messages), addGenerationPrompt: \(c.addGenerationPrompt)) = \(text.debugDescription)")
    }
  }

  @Test func bosAndEosComeFromTheGGUFTokenizer() throws {
    let file = try TinyVocabulary.gguf().file()
    let template = try ChatTemplate(gguf: file)
    let tokenizer = try BPETokenizer(gguf: file)
    #expect(template.bosToken == tokenizer.bosID.flatMap(tokenizer.token) && template.bosToken != nil)
    #expect(template.eosToken == tokenizer.token(tokenizer.eosID) && template.eosToken == "<|im_end|>")
    let text = try template.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
    #expect(text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    let tokens = try ChatTemplate(template: "[{{ bos_token }}|{{ eos_token }}|{{ tools }}|{{ documents }}|{{ add_generation_prompt }}|{{ x }}]",
                                  bosToken: "<s>", eosToken: "</s>")
    #expect(try tokens.render([], addGenerationPrompt: true) == "[<s>|</s>|None|None|True|]")
    #expect(try tokens.render([], addGenerationPrompt: false, variables: ["x": .int(3), "bos_token": .string("B")]) == "[B|</s>|None|None|False|3]")
  }

  @Test func messagesAreCodable() throws {
    let messages = [ChatMessage(role: "user", content: "hé\n😀"), ChatMessage(role: "assistant", content: "")]
    let data = try JSONEncoder().encode(messages)
    #expect(try JSONDecoder().decode([ChatMessage].self, from: data) == messages)
  }

  @Test func missingWrongUnsupportedAndFailingTemplates() throws {
    let key = "tokenizer.chat_template"
    #expect(throws: TokenizerError.missingKey(key)) {
      var g = TinyVocabulary.gguf()
      g[key] = nil
      _ = try ChatTemplate(gguf: g.file())
    }
    #expect(throws: TokenizerError.wrongValueType(key: key, expected: "string", found: "uint32")) {
      var g = TinyVocabulary.gguf()
      g[key] = .uint32(1)
      _ = try ChatTemplate(gguf: g.file())
    }
    #expect(throws: TokenizerError.unsupportedChatTemplate(key: key, reason: "template line 2: the tag 'macro' is not supported")) {
      _ = try ChatTemplate(template: "x\n{% macro m() %}{% endmacro %}")
    }
    let strict = try ChatTemplate(template: "{% if messages[0].role != 'user' %}{{ raise_exception('Conversations must start with a user turn') }}{% endif %}")
    #expect(throws: TokenizerError.chatTemplateFailed(reason: "the template raised an error (line 1): Conversations must start with a user turn")) {
      _ = try strict.render([ChatMessage(role: "assistant", content: "x")], addGenerationPrompt: false)
    }
  }
}

extension JinjaValue {
  var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
}
