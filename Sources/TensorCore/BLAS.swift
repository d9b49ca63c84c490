import CBLAS
import Foundation

/// The one place that talks to BLAS (OpenBLAS through CBLAS), row-major throughout.
///
/// GGUF stores a weight W as [out][in], so `Y = X·Wᵀ` is `gemm(.noTrans, .trans)`,
/// `dX = dY·W` is `(.noTrans, .noTrans)` and `dW = dYᵀ·X` is `(.trans, .noTrans)` (DESIGN.md §5).
public enum BLAS {
  public enum Transpose: Sendable { case noTrans, trans
    var cblas: CBLAS_TRANSPOSE { self == .noTrans ? CblasNoTrans : CblasTrans }
  }

  /// `C (m, n) = alpha · op(A) (m, k) · op(B) (k, n) + beta · C`, all row-major with leading
  /// dimensions given in elements.
  @inline(__always)
  public static func gemm(
    _ ta: Transpose, _ tb: Transpose, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    Runtime.ensureInitialized()
    if m == 0 || n == 0 { return }
    cblas_sgemm(CblasRowMajor, ta.cblas, tb.cblas, Int32(m), Int32(n), Int32(k), alpha,
                a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  /// The kernel family OpenBLAS picked for this CPU (e.g. `Haswell`, `Zen`, `SkylakeX`).
  public static var coreName: String {
    Runtime.ensureInitialized()
    guard let p = openblas_get_corename() else { return "unknown" }
    return String(cString: p)
  }

  public static var threads: Int {
    Runtime.ensureInitialized()
    return Int(openblas_get_num_threads())
  }
}

/// Process-wide engine initialisation, done once before the first BLAS call.
///
/// OpenBLAS 0.3.21 does not know recent CPUs (Zen 3/4, Sapphire Rapids) and falls back to its
/// SSE3 `Prescott` kernels, 4.5x slower. When the environment did not set `OPENBLAS_CORETYPE`
/// we pick the best family the CPU supports and re-run OpenBLAS's dynamic dispatch
/// (DESIGN.md §5, pitfall 1). It also shortens OpenBLAS's idle spinning (see below). Values set
/// by the environment are never overridden.
public enum Runtime {
  private static let once: Bool = {
    let env = ProcessInfo.processInfo.environment
    if env["OPENBLAS_CORETYPE"] == nil, let p = openblas_get_corename(),
       String(cString: p).lowercased() == "prescott"
    {
      let flags = CPUFeatures.flags
      var core: String? = nil
      if flags.contains("avx512f") && flags.contains("avx512bw") { core = "SkylakeX" }
      else if flags.contains("avx2") && flags.contains("fma") { core = "Haswell" }
      if let core {
        setenv("OPENBLAS_CORETYPE", core, 1)
        gotoblas_dynamic_quit()
        gotoblas_dynamic_init()
      }
    }
    // OpenBLAS's idle workers spin with sched_yield for 2^28 cycles (~0.1 s) after each call,
    // stealing a core from the engine's own kernels between GEMMs: 10-15% of prefill time on
    // 2 cores. Unless the environment chose a value, park them after 2^4 cycles and restart the
    // thread server so it reads the new setting.
    if env["OPENBLAS_THREAD_TIMEOUT"] == nil {
      setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)
      openblas_read_env()
      blas_thread_shutdown_()
      blas_thread_init()
    }
    return true
  }()

  /// Safe to call from any thread, any number of times.
  @inline(__always)
  public static func ensureInitialized() { _ = once }
}

/// CPU feature flags as the kernel reports them (Linux `/proc/cpuinfo`).
public enum CPUFeatures {
  public static let flags: Set<String> = {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
    for line in text.split(separator: "\n") where line.hasPrefix("flags") {
      if let colon = line.firstIndex(of: ":") {
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
      }
    }
    return []
  }()

  public static let modelName: String = {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
    for line in text.split(separator: "\n") where line.hasPrefix("model name") {
      if let colon = line.firstIndex(of: ":") {
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      }
    }
    return "unknown"
  }()
}
