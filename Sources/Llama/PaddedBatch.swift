extension LlamaModel {
  /// Runs a padded batch (B, T) with an attention mask (1 = real token, 0 = padding) as
  /// produced by tokenizers with left or right padding. Real tokens of a row must be
  /// contiguous; their positions count from the row's first real token (as in generation).
  /// Padding is dropped before the forward pass, so it costs nothing.
  /// Returns (B, T) logit rows for `.all` (zeros at padded positions) or (B, 1) for `.last`.
  public func forward(padded tokens: [[Int]], mask: [[Int]], logits request: LogitsRequest) throws(ModelError) -> [[ArraySlice<Float>]] {
    guard tokens.count == mask.count else { throw .badMask("\(mask.count) mask rows for \(tokens.count) token rows") }
    var sequences: [[Int]] = []
    var firstReal: [Int] = []
    for (b, (row, m)) in zip(tokens, mask).enumerated() {
      guard row.count == m.count else { throw .badMask("row \(b): \(m.count) mask entries for \(row.count) tokens") }
      guard m.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw .badMask("row \(b): entries must be 0 or 1") }
      guard let first = m.firstIndex(of: 1), let last = m.lastIndex(of: 1) else { throw .badMask("row \(b) has no real token") }
      guard m[first...last].allSatisfy({ $0 == 1 }) else { throw .badMask("row \(b): real tokens are not contiguous") }
      sequences.append(Array(row[first...last]))
      firstReal.append(first)
    }
    let out = try forward(sequences, logits: request)
    if request.positions != .all { return (0..<tokens.count).map { [out.row($0)] } }
    let zero = ArraySlice([Float](repeating: 0, count: out.width))
    return tokens.indices.map { b in
      tokens[b].indices.map { t in
        let i = t - firstReal[b]
        return i >= 0 && i < sequences[b].count ? out.row(out.rowStart[b] + i) : zero
      }
    }
  }
}
