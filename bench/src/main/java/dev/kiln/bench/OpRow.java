package dev.kiln.bench;

import dev.kiln.kernels.io.Json;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * One measured line of {@code kiln bench conv} or {@code kiln bench elementwise}. {@code shape} is the op's
 * shape string ({@code N,C,H,W,K,R,S,stride,pad,groups} for conv), {@code direction} the pass (fwd,
 * bwd-data, bwd-weights; fwd or bwd for element-wise ops), {@code seconds} the median time of one call.
 * Rates: GFLOP/s from the op's own FLOP count and GB/s of compulsory traffic ({@link OpRunner#bytes}); the
 * shares are of the FMA peak and of the copy bandwidth measured at the same thread count (NaN for device
 * backends, whose limits are not the host's). {@code check} says how the result was verified.
 */
record OpRow(String op, String backend, String shape, String direction, int threads, double seconds, double gflops,
             double pctPeak, double gbps, double pctBandwidth, String check) {

    private static final String ROW = "%-10s %-8s %-28s %-11s %7s %10s %9s %6s %8s %6s  %s%n";

    static void header(PrintWriter out) {
        out.printf(Locale.ROOT, ROW, "op", "backend", "shape", "direction", "threads", "time(ms)", "GFLOP/s", "%peak",
                "GB/s", "%bw", "check");
        out.flush();
    }

    void print(PrintWriter out) {
        out.printf(Locale.ROOT, ROW, op, backend, shape, direction, threads, fixed(seconds * 1e3, 3), fixed(gflops, 1),
                fixed(pctPeak, 0), fixed(gbps, 1), fixed(pctBandwidth, 0), check);
        out.flush();
    }

    private static String fixed(double v, int digits) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%." + digits + "f", v);
    }

    /**
     * A JSON array, one object per row. Compute-bound tables ({@code memoryBound} false, conv) have exactly the
     * keys op, backend, shape, direction, threads, seconds, gflops, pct_peak; memory-bound ones (element-wise)
     * op, backend, shape, direction, threads, seconds, gbps, pct_bandwidth. Missing figures are null.
     */
    static String json(List<OpRow> rows, boolean memoryBound) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < rows.size(); i++) {
            OpRow r = rows.get(i);
            sb.append(i == 0 ? "\n  {" : ",\n  {")
                    .append("\"op\": ").append(Json.quote(r.op()))
                    .append(", \"backend\": ").append(Json.quote(r.backend()))
                    .append(", \"shape\": ").append(Json.quote(r.shape()))
                    .append(", \"direction\": ").append(Json.quote(r.direction()))
                    .append(", \"threads\": ").append(r.threads())
                    .append(", \"seconds\": ").append(num(r.seconds(), "%.6g"));
            if (memoryBound) sb.append(", \"gbps\": ").append(num(r.gbps(), "%.6g")).append(", \"pct_bandwidth\": ").append(num(r.pctBandwidth(), "%.6g"));
            else sb.append(", \"gflops\": ").append(num(r.gflops(), "%.6g")).append(", \"pct_peak\": ").append(num(r.pctPeak(), "%.6g"));
            sb.append('}');
        }
        return sb.append(rows.isEmpty() ? "]\n" : "\n]\n").toString();
    }

    static void writeJson(Path file, List<OpRow> rows, boolean memoryBound) throws IOException { Report.writeFile(file, json(rows, memoryBound)); }

    private static String num(double v, String format) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, format, v) : "null";
    }
}
