package dev.kiln.bench;

import dev.kiln.kernels.io.Json;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** The text table and the JSON file {@code kiln bench} writes. */
public final class Report {
    private Report() {}

    private static final String ROW = "%-5s %-8s %-16s %7s %11s %9s %6s %-9s %9s %6s  %s%n";

    /** The table header; rows follow through {@link #row}. */
    public static void header(PrintWriter out) {
        out.printf(Locale.ROOT, ROW, "op", "backend", "shape", "threads", "time(ms)", "GFLOP/s", "%peak",
                "peer", "peer GF/s", "ratio", "check");
        out.flush();
    }

    public static void row(PrintWriter out, BenchRow r) {
        out.printf(Locale.ROOT, ROW, r.op(), r.backend(), r.shape(), r.threads(), fixed(r.seconds() * 1e3, 3),
                fixed(r.gflops(), 1), fixed(r.pctPeak(), 0), r.peer() == null ? "-" : r.peer(), fixed(r.peerGflops(), 1),
                fixed(r.ratio(), 2), r.check());
        out.flush();
    }

    private static String fixed(double v, int digits) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%." + digits + "f", v);
    }

    /**
     * A JSON array with one object per row and exactly the keys op, backend, m, n, k, threads, gflops,
     * peer, peer_gflops, ratio; missing figures (no peer) are {@code null}.
     */
    public static String json(List<BenchRow> rows) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < rows.size(); i++) {
            BenchRow r = rows.get(i);
            sb.append(i == 0 ? "\n  {" : ",\n  {")
                    .append("\"op\": ").append(Json.quote(r.op()))
                    .append(", \"backend\": ").append(Json.quote(r.backend()))
                    .append(", \"m\": ").append(r.m())
                    .append(", \"n\": ").append(r.n())
                    .append(", \"k\": ").append(r.k())
                    .append(", \"threads\": ").append(r.threads())
                    .append(", \"gflops\": ").append(num(r.gflops()))
                    .append(", \"peer\": ").append(r.peer() == null ? "null" : Json.quote(r.peer()))
                    .append(", \"peer_gflops\": ").append(num(r.peerGflops()))
                    .append(", \"ratio\": ").append(num(r.ratio()))
                    .append('}');
        }
        return sb.append(rows.isEmpty() ? "]\n" : "\n]\n").toString();
    }

    public static void writeJson(Path file, List<BenchRow> rows) throws IOException { writeFile(file, json(rows)); }

    /** Writes {@code text} to {@code file}, creating its folder first: every bench command's {@code --json}. */
    static void writeFile(Path file, String text) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        Files.writeString(file, text);
    }

    private static String num(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4f", v) : "null";
    }
}
