package dev.kiln.cpu.norm;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.NormDesc;
import dev.kiln.kernels.desc.NormDesc.NormKind;
import dev.kiln.kernels.spi.Support;

import java.lang.foreign.MemorySegment;

import static dev.kiln.cpu.norm.NormSums.F;

/**
 * Batch, layer and RMS normalisation in f32, every mode of {@link NormDesc} (f64 descriptors stay with the
 * reference: the registration declines them). Batch norm is here; layer and RMS norm, whose statistics are
 * per row, are in {@link NormRows}.
 *
 * <p>Batch norm takes whole channels per task (a channel's statistics cover n x spatial elements, n runs of
 * spatial), so each channel is summed in one fixed order and results do not depend on the thread count.
 * Training reads the channel three times: the mean (summed shifted by the channel's first element), the
 * centred squares (two passes: no cancellation, unlike E[x^2] - mean^2), then the normalised output; a
 * channel of a typical CNN activation fits in L2, so memory sees about one read and one write. Backward reads
 * x and dy twice: the sums for dgamma and dbeta, then dx. Statistics are in double between the f32 blocks
 * of {@link NormSums}.
 */
public final class VectorNorm {
    private VectorNorm() {}

    /** Elements per task (about 128 KiB of f32), whole channels or rows; fixed by the shape alone. */
    static final int TASK_ELEMENTS = 1 << 15;

    /** Every f32 descriptor the reference takes. */
    public static Support supports(NormDesc d) { return Support.YES; }

    public static void run(Width w, NormDesc d, Args a) {
        if (d.norm() != NormKind.BATCH) {
            NormRows.run(w, d, a);
            return;
        }
        long perChannel = (long) d.n() * d.spatial();
        int channelsPerTask = (int) Math.max(1, TASK_ELEMENTS / perChannel);
        CpuThreads.parallelFor(Math.ceilDiv(d.c(), channelsPerTask), task -> {
            double[] acc = new double[2];
            for (int ch = task * channelsPerTask, end = Math.min(d.c(), ch + channelsPerTask); ch < end; ch++) {
                switch (d.mode()) {
                    case TRAINING -> batchTraining(w, d, a, ch);
                    case INFERENCE -> batchInference(w, d, a, ch);
                    case BACKWARD -> batchBackward(w, d, a, ch, acc);
                }
            }
        });
    }

    /** Offset of image b's run of channel ch. */
    private static long runOf(NormDesc d, int b, int ch) { return ((long) b * d.c() + ch) * d.spatial(); }

    private static void batchTraining(Width w, NormDesc d, Args a, int ch) {
        MemorySegment x = a.host(Arg.SRC), y = a.host(Arg.DST);
        int n = d.n(), sp = d.spatial();
        double count = (double) n * sp;
        float first = x.getAtIndex(F, runOf(d, 0, ch));
        double sum = 0;
        for (int b = 0; b < n; b++) sum += NormSums.sumShifted(w, x, runOf(d, b, ch), sp, first);
        double mean = first + sum / count;
        float meanF = (float) mean;
        double sq = 0;
        for (int b = 0; b < n; b++) sq += NormSums.sumSquares(w, x, runOf(d, b, ch), sp, meanF);
        double rstd = 1 / Math.sqrt(sq / count + d.eps());
        a.host(Arg.MEAN).setAtIndex(F, ch, meanF);
        a.host(Arg.RSTD).setAtIndex(F, ch, (float) rstd);
        float scale = (float) (rstd * a.host(Arg.GAMMA).getAtIndex(F, ch)), shift = a.host(Arg.BETA).getAtIndex(F, ch);
        float meanLow = (float) (mean - meanF);
        for (int b = 0; b < n; b++) NormSums.affine(w, x, y, runOf(d, b, ch), sp, meanF, meanLow, scale, shift);
    }

    private static void batchInference(Width w, NormDesc d, Args a, int ch) {
        MemorySegment x = a.host(Arg.SRC), y = a.host(Arg.DST);
        float mean = a.host(Arg.MEAN).getAtIndex(F, ch);
        double rstd = 1 / Math.sqrt(a.host(Arg.VARIANCE).getAtIndex(F, ch) + d.eps());
        float scale = (float) (rstd * a.host(Arg.GAMMA).getAtIndex(F, ch)), shift = a.host(Arg.BETA).getAtIndex(F, ch);
        for (int b = 0; b < d.n(); b++) NormSums.affine(w, x, y, runOf(d, b, ch), d.spatial(), mean, 0f, scale, shift);
    }

    /**
     * With xhat = (x - mean) rstd and g = dy gamma over the channel's N elements: dbeta = sum dy, dgamma =
     * sum dy xhat, and dx = rstd (g - mean(g) - xhat mean(g xhat)) where mean(g) = gamma dbeta / N and
     * mean(g xhat) = gamma dgamma / N, i.e. dx = dy (rstd gamma) + (x - mean) b + c0 with per-channel b, c0.
     */
    private static void batchBackward(Width w, NormDesc d, Args a, int ch, double[] acc) {
        MemorySegment x = a.host(Arg.SRC), dy = a.host(Arg.DIFF_DST), dx = a.host(Arg.DIFF_SRC);
        int n = d.n(), sp = d.spatial();
        double count = (double) n * sp;
        float mean = a.host(Arg.MEAN).getAtIndex(F, ch);
        double rstd = a.host(Arg.RSTD).getAtIndex(F, ch), gamma = a.host(Arg.GAMMA).getAtIndex(F, ch);
        acc[0] = 0;
        acc[1] = 0;
        for (int b = 0; b < n; b++) NormSums.centredDot(w, x, dy, runOf(d, b, ch), sp, mean, acc);
        double dbeta = acc[0], dgamma = acc[1] * rstd;
        a.host(Arg.DIFF_BETA).setAtIndex(F, ch, (float) dbeta);
        a.host(Arg.DIFF_GAMMA).setAtIndex(F, ch, (float) dgamma);
        double meanG = gamma * dbeta / count, meanGX = gamma * dgamma / count;
        float ca = (float) (rstd * gamma), cb = (float) (-rstd * rstd * meanGX), c0 = (float) (-rstd * meanG);
        for (int b = 0; b < n; b++) NormSums.batchDx(w, x, dy, dx, runOf(d, b, ch), sp, mean, ca, cb, c0);
    }
}
