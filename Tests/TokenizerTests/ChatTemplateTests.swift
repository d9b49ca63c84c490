import Foundation
import GGUF
import Testing
import Tokenizer

/// ChatML rendering and template parsing on in-memory templates (the comparison with
/// transformers on the real model is in `ReferenceTokenizerTests`).
struct ChatTemplateTests {
  let template: ChatTemplate

  init() throws {
    template = try ChatTemplate(gguf: TinyVocabulary.gguf().file())
  }

  /// transformers' `apply_chat_template` on SmolLM2's template (recorded in the fixture, so
  /// this runs without the model).
  @Test func smolLM2RenderingMatchesTransformers() throws {
    let fixture = try Reference.fixture()
    #expect(fixture.modelSHA256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
    let smol = try ChatTemplate(template: fixture.chatTemplate)
    #expect(smol.defaultSystemPrompt == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
    #expect(fixture.chatCases.count >= 8)
    for c in fixture.chatCases {
      let text = smol.render(c.messages, addGenerationPrompt: c.addGenerationPrompt)
      #expect(sameScalars(text, c.text), "render(\(c.messages), addGenerationPrompt: \(c.addGenerationPrompt)) = \(text.debugDescription)")
    }
  }

  @Test func defaultSystemPromptIsReadFromTheTemplate() {
    #expect(template.defaultSystemPrompt == "Be brief.")
  }

  @Test func insertsTheDefaultSystemPromptBeforeANonSystemFirstMessage() {
    let text = template.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
    #expect(text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
  }

  @Test func keepsAGivenSystemMessage() {
    let messages = [ChatMessage(role: "system", content: "S"), ChatMessage(role: "user", content: "U"),
                    ChatMessage(role: "assistant", content: "A")]
    #expect(template.render(messages, addGenerationPrompt: false)
      == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n")
  }

  @Test func noMessagesRenderNoSystemPrompt() {
    #expect(template.render([], addGenerationPrompt: false) == "")
    #expect(template.render([], addGenerationPrompt: true) == "<|im_start|>assistant\n")
  }

  @Test func escapedNewlinesAndTemplatesWithoutDefault() throws {
    let escaped = try ChatTemplate(template: "{{ '<|im_start|>system\\nDon\\'t panic.<|im_end|>\\n' }}{{ message['content'] }}")
    #expect(escaped.defaultSystemPrompt == "Don't panic.")
    let plain = try ChatTemplate(
      template: "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}")
    #expect(plain.defaultSystemPrompt == nil)
    #expect(plain.render([ChatMessage(role: "user", content: "x")], addGenerationPrompt: false) == "<|im_start|>user\nx<|im_end|>\n")
    // A system header followed by an expression is not a default prompt; a later literal is.
    let qwenLike = try ChatTemplate(template:
      "{% if messages[0]['role'] == 'system' %}{{ '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}"
      + "{% else %}{{ '<|im_start|>system\nYou are Qwen.<|im_end|>\n' }}{% endif %}{{ message['content'] }}")
    #expect(qwenLike.defaultSystemPrompt == "You are Qwen.")
  }

  @Test func messagesAreCodable() throws {
    let messages = [ChatMessage(role: "user", content: "hé\n😀"), ChatMessage(role: "assistant", content: "")]
    let data = try JSONEncoder().encode(messages)
    #expect(try JSONDecoder().decode([ChatMessage].self, from: data) == messages)
  }

  @Test func rejectsMissingWrongAndNonChatMLTemplates() {
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
    #expect(throws: TokenizerError.unsupportedChatTemplate(key: key, reason: "no ChatML markers <|im_start|> and <|im_end|>")) {
      _ = try ChatTemplate(template: "{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}")
    }
  }
}
