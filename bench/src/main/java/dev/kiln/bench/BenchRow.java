package dev.kiln.bench;

/**
 * One measured line of a {@code kiln bench} table. Shapes follow the GEMM convention: C is m x n, the
 * inner dimension is k (a GEMV has n = 1). {@code seconds} is the median time of one call. Figures that
 * do not apply are NaN: {@code pctPeak} for device backends (the peak is the host CPU's), the peer's
 * figures when OpenBLAS is absent. {@code check} says how the result was verified once ("ok", or why not).
 */
public record BenchRow(String op, String backend, int m, int n, int k, int threads, double seconds, double gflops,
                       double pctPeak, String peer, double peerGflops, String check) {

    /** Our rate over the peer's at the same thread count, or NaN without a peer. */
    public double ratio() { return peer == null || !(peerGflops > 0) ? Double.NaN : gflops / peerGflops; }

    /** The shape as {@code m x n x k} for GEMM and {@code m x k} for GEMV. */
    public String shape() { return op.equals("gemv") ? m + "x" + k : m + "x" + n + "x" + k; }
}
