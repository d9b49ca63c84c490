import ArgumentParser
import Checkpoint
import Tokenizer

struct Tokenize: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Print the token ids of TEXT as one JSON array.")

  @OptionGroup var modelOptions: ModelOptions
  @Flag(help: "Treat special-token text such as <|im_start|> as plain text.") var noSpecial = false
  @Flag(name: .customLong("no-bos"), help: "Do not prepend BOS (prepended when the model's tokenizer adds one, as transformers' encode does).")
  var noBOS = false
  @Argument(help: "The text to tokenize.") var text: String

  func run() throws {
    let tokenizer: BPETokenizer
    do { tokenizer = try ModelSource.tokenizer(modelOptions.model) } catch { throw CLIError("\(error)") }
    let ids = noBOS ? tokenizer.encode(text, parseSpecial: !noSpecial) : tokenizer.encodeInput(text, parseSpecial: !noSpecial)
    print("[" + ids.map(String.init).joined(separator: ", ") + "]")
  }
}
