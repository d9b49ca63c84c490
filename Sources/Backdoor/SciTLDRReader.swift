/// Reads SciTLDR (Cachola et al., Findings of EMNLP 2020), abstract-only variant, as normalized in
/// the project's shared data: `{"id", "title", "document", "summary", "references"}` per line.
public enum SciTLDRReader {
  /// Rows as summarization examples: input = the abstract (`document`), output = `summary`,
  /// reference = `.summaries(references)`. A row without `references` uses `[summary]`; a
  /// present `references` must be a non-empty array of non-empty strings.
  public static func read(_ path: String) throws(GenerationError) -> [GenerationExample] {
    var out: [GenerationExample] = []
    for row in try JSONLines.rows(path) {
      let document = try row.string("document")
      let summary = try row.string("summary")
      let references = try row.optionalStrings("references") ?? [summary]
      out.append(GenerationExample(input: document, output: summary, reference: .summaries(references),
                                   sourceIndex: out.count))
    }
    return out
  }
}
