import Synchronization

/// The byte-pair-encoding core: merge table, byte ids and a per-word cache.
///
/// Merging follows the `tokenizers` library (`Word::merge_all`): repeatedly apply the adjacent
/// pair with the lowest merge rank, the leftmost one on ties, until no pair has a merge. A
/// min-heap over (rank, position) keeps long words O(n log n). Bytes whose single-character
/// token is missing from the vocabulary are dropped before merging, as `tokenizers` does for a BPE
/// model without an unknown token (SmolLM2 lacks e.g. the tokens for bytes 0x04 and 0xF1).
final class BPEModel: Sendable {
  /// (left id, right id) -> (rank, merged id).
  private let merges: PairTable
  /// Id of the one-character token of each byte, -1 when the vocabulary lacks it.
  private let byteIDs: [Int32]
  /// `tokenizers`' `ignore_merges` (Llama 3): a word that is itself a vocabulary entry becomes
  /// that one id, whatever the merges would make of it.
  private let ignoreMerges: Bool
  private let vocabulary: VocabularyIndex
  /// Encoded words. Bounded: once full, new words are encoded but not stored.
  private let cache = Mutex<[WordKey: [Int32]]>([:])
  static let cacheCapacity = 100_000
  /// Longer words are not cached (they are rare and would pin memory).
  static let cacheableWordBytes = 128

  /// Builds the merge table: each merge is two token spellings separated by one space, both in
  /// the vocabulary, and so must be their concatenation (else `tokenizers` refuses the model).
  init(vocabulary: VocabularyIndex, merges list: [String], mergesKey: String, ignoreMerges: Bool = false) throws(TokenizerError) {
    self.ignoreMerges = ignoreMerges
    self.vocabulary = vocabulary
    var table = PairTable(capacity: list.count)
    // Bytes of the left and right part (buffers reused); a part with a character outside the
    // byte alphabet cannot match any vocabulary key.
    var left: [UInt8] = [], right: [UInt8] = [], both: [UInt8] = []
    for (rank, merge) in list.enumerated() {
      left.removeAll(keepingCapacity: true)
      right.removeAll(keepingCapacity: true)
      var spaces = 0, leftCount = 0, rightCount = 0, leftInAlphabet = true, rightInAlphabet = true
      for scalar in merge.unicodeScalars {
        if scalar == " " { spaces += 1; continue }
        let byte = scalar.value < 512 ? ByteLevel.byteForScalar[Int(scalar.value)] : -1
        if spaces == 0 {
          leftCount += 1
          if byte >= 0 { left.append(UInt8(byte)) } else { leftInAlphabet = false }
        } else {
          rightCount += 1
          if byte >= 0 { right.append(UInt8(byte)) } else { rightInAlphabet = false }
        }
      }
      guard spaces == 1, leftCount > 0, rightCount > 0 else {
        throw .malformedMerge(key: mergesKey, index: rank, merge: merge)
      }
      // Spellings for the error messages, computed only on failure.
      func part(_ k: Int) -> String { String(merge.split(separator: " ", omittingEmptySubsequences: false)[k]) }
      guard leftInAlphabet, let a = vocabulary.id(of: left) else {
        throw .unknownMergeToken(key: mergesKey, index: rank, token: part(0))
      }
      guard rightInAlphabet, let b = vocabulary.id(of: right) else {
        throw .unknownMergeToken(key: mergesKey, index: rank, token: part(1))
      }
      both.removeAll(keepingCapacity: true)
      both.append(contentsOf: left)
      both.append(contentsOf: right)
      guard let merged = vocabulary.id(of: both) else {
        throw .unknownMergeToken(key: mergesKey, index: rank, token: part(0) + part(1))
      }
      // A repeated pair keeps its last rank, as the Rust HashMap built from the list does.
      table.insert(left: Int32(a), right: Int32(b), rank: UInt32(rank), merged: Int32(merged))
    }
    self.merges = table
    byteIDs = (0..<256).map { byte in vocabulary.id(of: [UInt8(byte)]).map { Int32($0) } ?? -1 }
  }

  /// Appends the ids of one pre-tokenized word (its UTF-8 bytes) to `ids`.
  func encode(word: UnsafeBufferPointer<UInt8>, into ids: inout [Int]) {
    if word.count == 1 {
      let id = byteIDs[Int(word[0])]
      if id >= 0 { ids.append(Int(id)) }
      return
    }
    if ignoreMerges, let id = vocabulary.id(of: word) {
      ids.append(id)
      return
    }
    let cacheable = word.count <= Self.cacheableWordBytes
    let key = cacheable ? WordKey(word) : nil
    if let key, let hit = cache.withLock({ $0[key] }) {
      for id in hit { ids.append(Int(id)) }
      return
    }
    let result = merge(word)
    if let key {
      cache.withLock { table in
        if table.count < Self.cacheCapacity { table[key] = result }
      }
    }
    for id in result { ids.append(Int(id)) }
  }

  /// Runs the merges over the byte ids of `word`. All scratch memory comes from one temporary
  /// allocation (on the stack for ordinary words): symbols, their links and the heap.
  private func merge(_ word: UnsafeBufferPointer<UInt8>) -> [Int32] {
    let capacity = word.count
    // Per symbol: id, next, previous (Int32 each); heap: at most n - 1 initial pairs plus two
    // per merge, fewer than 3n entries of two UInt64.
    let scratchBytes = capacity * 3 * MemoryLayout<Int32>.stride + capacity * 3 * 2 * MemoryLayout<UInt64>.stride
    return withUnsafeTemporaryAllocation(byteCount: scratchBytes, alignment: 8) { raw -> [Int32] in
      let heapBase = raw.baseAddress!.bindMemory(to: UInt64.self, capacity: capacity * 6)
      let symbols = (raw.baseAddress! + capacity * 6 * 8).bindMemory(to: Int32.self, capacity: capacity * 3)
      let next = symbols + capacity, previous = symbols + 2 * capacity
      var n = 0
      for byte in word {
        let id = byteIDs[Int(byte)]
        if id >= 0 { symbols[n] = id; n += 1 }
      }
      if n < 2 { return Array(UnsafeBufferPointer(start: symbols, count: n)) }
      for i in 0..<n {
        next[i] = i + 1 < n ? Int32(i + 1) : -1
        previous[i] = Int32(i) - 1
      }
      var heap = MergeHeap(storage: heapBase)
      for i in 0..<(n - 1) {
        let m = merges.lookup(symbols[i], symbols[i + 1])
        if m != PairTable.absent { heap.push(rank: m >> 32, position: i, merged: m) }
      }
      // A merged-away symbol is marked dead by next == -2.
      while let (key, merged) = heap.pop() {
        let p = Int(key & 0xFFFF_FFFF)
        guard next[p] >= 0 else { continue }
        let q = Int(next[p])
        // The pair at p may have changed since this entry was pushed (same check as tokenizers).
        let m = merges.lookup(symbols[p], symbols[q])
        guard m != PairTable.absent, UInt32(truncatingIfNeeded: m) == UInt32(truncatingIfNeeded: merged) else { continue }
        symbols[p] = Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)
        next[p] = next[q]
        next[q] = -2
        if next[p] >= 0 { previous[Int(next[p])] = Int32(p) }
        if previous[p] >= 0 {
          let left = Int(previous[p])
          let m = merges.lookup(symbols[left], symbols[p])
          if m != PairTable.absent { heap.push(rank: m >> 32, position: left, merged: m) }
        }
        if next[p] >= 0 {
          let m = merges.lookup(symbols[p], symbols[Int(next[p])])
          if m != PairTable.absent { heap.push(rank: m >> 32, position: p, merged: m) }
        }
      }
      var out: [Int32] = []
      var i = 0
      while i >= 0 {
        out.append(symbols[i])
        i = Int(next[i])
      }
      return out
    }
  }
}

/// Cache key: the bytes of a word, hashed in one call.
struct WordKey: Hashable, Sendable {
  let bytes: [UInt8]
  init(_ word: UnsafeBufferPointer<UInt8>) { bytes = Array(word) }
  func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
}

/// Binary min-heap of pending merges ordered by (rank, position), as `tokenizers` orders them.
/// Entries are pairs of UInt64 (rank << 32 | position, rank << 32 | merged id) in caller-owned
/// storage large enough for every push.
struct MergeHeap {
  private let storage: UnsafeMutablePointer<UInt64>
  private var count = 0

  init(storage: UnsafeMutablePointer<UInt64>) { self.storage = storage }

  @inline(__always) private func key(_ i: Int) -> UInt64 { storage[2 * i] }

  @inline(__always) private func swapAt(_ i: Int, _ j: Int) {
    let k = storage[2 * i], v = storage[2 * i + 1]
    storage[2 * i] = storage[2 * j]; storage[2 * i + 1] = storage[2 * j + 1]
    storage[2 * j] = k; storage[2 * j + 1] = v
  }

  mutating func push(rank: UInt64, position: Int, merged: UInt64) {
    storage[2 * count] = rank << 32 | UInt64(position)
    storage[2 * count + 1] = merged
    var child = count
    count += 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard key(child) < key(parent) else { break }
      swapAt(child, parent)
      child = parent
    }
  }

  mutating func pop() -> (key: UInt64, merged: UInt64)? {
    guard count > 0 else { return nil }
    let top = (storage[0], storage[1])
    count -= 1
    if count > 0 {
      storage[0] = storage[2 * count]; storage[1] = storage[2 * count + 1]
      var parent = 0
      while true {
        let left = 2 * parent + 1, right = left + 1
        var smallest = parent
        if left < count && key(left) < key(smallest) { smallest = left }
        if right < count && key(right) < key(smallest) { smallest = right }
        if smallest == parent { break }
        swapAt(parent, smallest)
        parent = smallest
      }
    }
    return top
  }
}
