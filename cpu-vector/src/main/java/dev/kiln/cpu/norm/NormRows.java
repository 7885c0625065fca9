package dev.kiln.cpu.norm;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.NormDesc;
import dev.kiln.kernels.desc.NormDesc.Mode;
import dev.kiln.kernels.desc.NormDesc.NormKind;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static dev.kiln.cpu.norm.NormSums.BLOCK;
import static dev.kiln.cpu.norm.NormSums.F;
import static dev.kiln.cpu.norm.NormSums.NATIVE;

/**
 * Layer and RMS norm: statistics per row of c, gamma and beta per column. Tasks are fixed runs of whole
 * rows ({@link VectorNorm#TASK_ELEMENTS} elements), so rows never depend on the thread count.
 *
 * <p>Forward reads a row three times (mean, centred squares, output), which stays in L1/L2 for transformer
 * widths: one read and one write to memory. Backward reads x and dy twice per row; dgamma and dbeta sum over
 * rows, so backward runs at most 64 tasks of whole rows, each adding into its own f32 partial rows (moved
 * into double rows every 256 rows), and the double rows are added in task order at the end: an order that
 * depends on the shape alone.
 */
final class NormRows {
    private NormRows() {}

    /** Most partial dgamma/dbeta rows (tasks) of a backward pass: 64, fewer for wide rows (4M doubles each). */
    private static final int MAX_PARTIALS = 64, PARTIAL_BUDGET = 1 << 22;
    /** Rows a task adds into its f32 partial rows before they go into its double rows. */
    private static final int FLUSH_ROWS = 256;

    static void run(Width w, NormDesc d, Args a) {
        int rows = d.n(), c = d.c(), perTask = Math.max(1, VectorNorm.TASK_ELEMENTS / c);
        boolean centred = d.norm() != NormKind.RMS;
        if (d.mode() != Mode.BACKWARD) {
            MemorySegment x = a.host(Arg.SRC), y = a.host(Arg.DST), gamma = a.host(Arg.GAMMA), rstd = a.host(Arg.RSTD);
            MemorySegment beta = centred ? a.host(Arg.BETA) : null, mean = centred ? a.host(Arg.MEAN) : null;
            CpuThreads.parallelFor(Math.ceilDiv(rows, perTask), t -> {
                for (int r = t * perTask, end = Math.min(rows, r + perTask); r < end; r++) forward(w, d, x, y, gamma, beta, mean, rstd, r);
            });
            return;
        }
        // dgamma and dbeta sum over rows: a bounded number of tasks, each with its own partial rows
        int maxTasks = Math.clamp(PARTIAL_BUDGET / c, 2, MAX_PARTIALS);
        int rowsPerTask = Math.max(perTask, Math.ceilDiv(rows, maxTasks)), tasks = Math.ceilDiv(rows, rowsPerTask);
        double[] dg = new double[tasks * c], db = new double[tasks * c];
        CpuThreads.parallelFor(tasks, t -> {
            float[] pg = new float[c], pb = new float[c];
            for (int r = t * rowsPerTask, end = Math.min(rows, r + rowsPerTask); r < end; ) {
                for (int stop = Math.min(end, r + FLUSH_ROWS); r < stop; r++) backward(w, d, a, r, centred, pg, pb);
                flush(pg, dg, t * c);
                flush(pb, db, t * c);
            }
        });
        addPartials(dg, tasks, c, a.host(Arg.DIFF_GAMMA));
        if (centred) addPartials(db, tasks, c, a.host(Arg.DIFF_BETA));
    }

    /** Adds the f32 partial row into the task's double row and zeroes it. */
    private static void flush(float[] partial, double[] into, int at) {
        for (int j = 0; j < partial.length; j++) {
            into[at + j] += partial[j];
            partial[j] = 0;
        }
    }

    /** One row: MEAN (null for RMS: mean 0, no beta) and RSTD from two passes, then the normalised row. */
    private static void forward(Width w, NormDesc d, MemorySegment x, MemorySegment y, MemorySegment gamma, MemorySegment beta,
                                MemorySegment meanOut, MemorySegment rstdOut, int r) {
        int c = d.c();
        long off = (long) r * c;
        float mean = 0, meanLow = 0;
        if (meanOut != null) {
            float first = x.getAtIndex(F, off);
            double exact = first + NormSums.sumShifted(w, x, off, c, first) / c;
            mean = (float) exact;
            meanLow = (float) (exact - mean);
            meanOut.setAtIndex(F, r, mean);
        }
        float rstd = (float) (1 / Math.sqrt(NormSums.sumSquares(w, x, off, c, mean) / c + d.eps()));
        rstdOut.setAtIndex(F, r, rstd);
        normalise(w, x, y, gamma, beta, off, c, mean, meanLow, rstd);
    }

    /** {@code y = ((x - mean - meanLow) * rstd) * gamma + beta} along one row (beta null: zero; meanLow as in {@link NormSums#affine}). */
    private static void normalise(Width w, MemorySegment x, MemorySegment y, MemorySegment gamma, MemorySegment beta,
                                  long off, int c, float mean, float meanLow, float rstd) {
        var s = w.floats();
        int l = s.length(), i = 0;
        FloatVector vm = FloatVector.broadcast(s, mean), vl = FloatVector.broadcast(s, meanLow), vr = FloatVector.broadcast(s, rstd),
                zero = FloatVector.zero(s);
        for (; i <= c - l; i += l) {
            long at = (off + i) * 4, col = 4L * i;
            FloatVector b = beta == null ? zero : FloatVector.fromMemorySegment(s, beta, col, NATIVE);
            FloatVector.fromMemorySegment(s, x, at, NATIVE).sub(vm).sub(vl).mul(vr)
                    .fma(FloatVector.fromMemorySegment(s, gamma, col, NATIVE), b).intoMemorySegment(y, at, NATIVE);
        }
        for (; i < c; i++) {
            float b = beta == null ? 0f : beta.getAtIndex(F, i);
            y.setAtIndex(F, off + i, Math.fma((x.getAtIndex(F, off + i) - mean - meanLow) * rstd, gamma.getAtIndex(F, i), b));
        }
    }

    /**
     * One row of the backward pass, with xhat = (x - mean) rstd and g = dy gamma: adds dy xhat and dy to the
     * task's partial dgamma and dbeta, sums g and g xhat, then writes dx = rstd (g - mean(g) - xhat mean(g xhat))
     * as (x - mean) b + (g rstd + c0) (RMS: no mean(g) term).
     */
    private static void backward(Width w, NormDesc d, Args a, int r, boolean centred, float[] dg, float[] db) {
        MemorySegment x = a.host(Arg.SRC), dy = a.host(Arg.DIFF_DST), gamma = a.host(Arg.GAMMA), dx = a.host(Arg.DIFF_SRC);
        var s = w.floats();
        int c = d.c(), l = s.length();
        long off = (long) r * c;
        float mean = centred ? a.host(Arg.MEAN).getAtIndex(F, r) : 0f, rstd = a.host(Arg.RSTD).getAtIndex(F, r);
        FloatVector vm = FloatVector.broadcast(s, mean), vr = FloatVector.broadcast(s, rstd);
        double sumG = 0, sumGX = 0;
        for (int from = 0; from < c; from += BLOCK) {
            int end = Math.min(c, from + BLOCK), i = from;
            FloatVector aG = FloatVector.zero(s), aGX = aG;
            for (; i <= end - l; i += l) {
                long at = (off + i) * 4;
                FloatVector dv = FloatVector.fromMemorySegment(s, dy, at, NATIVE);
                FloatVector xh = FloatVector.fromMemorySegment(s, x, at, NATIVE).sub(vm).mul(vr);
                FloatVector g = dv.mul(FloatVector.fromMemorySegment(s, gamma, 4L * i, NATIVE));
                aG = aG.add(g);
                aGX = g.fma(xh, aGX);
                dv.fma(xh, FloatVector.fromArray(s, dg, i)).intoArray(dg, i);
                dv.add(FloatVector.fromArray(s, db, i)).intoArray(db, i);
            }
            float pG = Lanes.sum(aG), pGX = Lanes.sum(aGX);
            for (; i < end; i++) {
                float dv = dy.getAtIndex(F, off + i), xh = (x.getAtIndex(F, off + i) - mean) * rstd, g = dv * gamma.getAtIndex(F, i);
                pG += g;
                pGX = Math.fma(g, xh, pGX);
                dg[i] = Math.fma(dv, xh, dg[i]);
                db[i] += dv;
            }
            sumG += pG;
            sumGX += pGX;
        }
        double meanG = centred ? sumG / c : 0, meanGX = sumGX / c;
        float b = (float) (-(double) rstd * rstd * meanGX), c0 = (float) (-rstd * meanG);
        FloatVector vb = FloatVector.broadcast(s, b), vc = FloatVector.broadcast(s, c0);
        int i = 0;
        for (; i <= c - l; i += l) {
            long at = (off + i) * 4;
            FloatVector g = FloatVector.fromMemorySegment(s, dy, at, NATIVE).mul(FloatVector.fromMemorySegment(s, gamma, 4L * i, NATIVE));
            FloatVector.fromMemorySegment(s, x, at, NATIVE).sub(vm).fma(vb, g.fma(vr, vc)).intoMemorySegment(dx, at, NATIVE);
        }
        for (; i < c; i++) {
            float g = dy.getAtIndex(F, off + i) * gamma.getAtIndex(F, i);
            dx.setAtIndex(F, off + i, Math.fma(x.getAtIndex(F, off + i) - mean, b, Math.fma(g, rstd, c0)));
        }
    }

    /** {@code out[j] = sum over tasks t of partials[t*c + j]}, tasks in order, in double. */
    private static void addPartials(double[] partials, int tasks, int c, MemorySegment out) {
        for (int j = 0; j < c; j++) {
            double acc = 0;
            for (int t = 0; t < tasks; t++) acc += partials[t * c + j];
            out.setAtIndex(F, j, (float) acc);
        }
    }
}
