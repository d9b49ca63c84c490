/// The revision of the rules by which the screening pipelines decide: which words are suspicious
/// (`TriggerScreen`), which the insertion test releases (`InsertionTest`), the default's choice of
/// path (`P2PConfig.resolvingAutomatic`), which labels the relative spectral screen judges and
/// which end of each (`RelativeSpectral`), the probe's clusters (`ProbeScreen`), the benign rows
/// (`StratifiedSelection`) and the flips (`FlipCover`), and the generation screen
/// (`GenerationTriggerScreen`).
///
/// A grid cell whose defense follows these rules (`P2PConfig.followsScreenRules`) records the
/// revision in its fingerprint and manifest; a cell that recorded another revision, or none (it ran
/// before the rules were versioned), is not reused (`p2p run` stops and names it; `--rerun-changed`
/// runs it again; `scripts/study/audit_screens.py` says whether their decisions differ). Raise the
/// revision with every change that can change a decision. `ScreenRulesTests` fails when the
/// decisions of the model-free rules on its fixed inputs change while the revision did not; the
/// insertion test and the probe screen need a model and are not digested: bump by hand.
///
/// History:
/// - 1 (2026-12-05): the rules of every result measured or audited since the eighth session: the
///   share test (5 points and 2 standard errors above the reference), the flips capped at the rows
///   above the reference share, the distance end rule (2x), the balanced reclassifier, benign rows
///   stratified at 0.6 on the statistical path. Cells measured earlier recorded no revision
///   (`scripts/study/audit_screens.py` re-derives their decisions).
public enum ScreenRules {
  public static let revision = 1
}
