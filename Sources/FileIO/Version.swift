/// The toolkit's version, printed by `p2p --version` and recorded with results.
public enum P2PVersion {
  public static let string = "0.20.0"
}
