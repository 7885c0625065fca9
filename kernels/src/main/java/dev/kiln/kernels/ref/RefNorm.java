package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.NormDesc;
import dev.kiln.kernels.desc.NormDesc.NormKind;

import java.lang.foreign.MemorySegment;

/**
 * Reference batch, layer and RMS normalisation in double.
 *
 * <p>Each statistic covers a set of elements: for BATCH channel ch, all (b, ch, sp) (n*spatial elements);
 * for LAYER and RMS row b, all (b, ch) (c elements). Gamma and beta are indexed by channel ch in all three.
 * Training: mean = average, var = biased variance (RMS: mean = 0, var = mean of squares), rstd =
 * 1/sqrt(var + eps), y = (x - mean) * rstd * gamma + beta. Inference (BATCH): the same with the running
 * MEAN and VARIANCE. Backward, with xhat = (x - mean) * rstd and g = dy * gamma, over each set of N:
 * dx = rstd (g - mean(g) - xhat mean(g xhat)) (RMS drops the mean(g) term), dgamma = sum dy xhat, dbeta =
 * sum dy, where mean and rstd are the saved MEAN and RSTD read from the arguments.
 */
final class RefNorm {
    private RefNorm() {}

    static void run(NormDesc d, Args args) {
        DType t = d.dtype();
        boolean rms = d.norm() == NormKind.RMS;
        MemorySegment x = args.host(Arg.SRC), gamma = args.host(Arg.GAMMA);
        int sets = d.stats();
        long per = d.count() / sets;
        switch (d.mode()) {
            case TRAINING, INFERENCE -> {
                MemorySegment beta = rms ? null : args.host(Arg.BETA), y = args.host(Arg.DST);
                boolean train = d.mode() == NormDesc.Mode.TRAINING;
                for (int st = 0; st < sets; st++) {
                    double mean, rstd;
                    if (train) {
                        double sum = 0, sq = 0;
                        for (long e = 0; e < per; e++) sum += Mem.f(t, x, index(d, st, e));
                        mean = rms ? 0 : sum / per;
                        for (long e = 0; e < per; e++) { double c = Mem.f(t, x, index(d, st, e)) - mean; sq += c * c; }
                        rstd = 1 / Math.sqrt(sq / per + d.eps());
                        if (!rms) Mem.f(t, args.host(Arg.MEAN), st, mean);
                        Mem.f(t, args.host(Arg.RSTD), st, rstd);
                    } else {
                        mean = Mem.f(t, args.host(Arg.MEAN), st);
                        rstd = 1 / Math.sqrt(Mem.f(t, args.host(Arg.VARIANCE), st) + d.eps());
                    }
                    for (long e = 0; e < per; e++) {
                        long at = index(d, st, e);
                        int ch = channel(d, st, e);
                        double v = (Mem.f(t, x, at) - mean) * rstd * Mem.f(t, gamma, ch) + (rms ? 0 : Mem.f(t, beta, ch));
                        Mem.f(t, y, at, v);
                    }
                }
            }
            case BACKWARD -> backward(d, args, rms, sets, per);
        }
    }

    private static void backward(NormDesc d, Args args, boolean rms, int sets, long per) {
        DType t = d.dtype();
        MemorySegment x = args.host(Arg.SRC), gamma = args.host(Arg.GAMMA), dy = args.host(Arg.DIFF_DST);
        MemorySegment meanSeg = rms ? null : args.host(Arg.MEAN), rstdSeg = args.host(Arg.RSTD), dx = args.host(Arg.DIFF_SRC);
        double[] dgamma = new double[d.c()], dbeta = new double[d.c()];
        for (int st = 0; st < sets; st++) {
            double mean = rms ? 0 : Mem.f(t, meanSeg, st), rstd = Mem.f(t, rstdSeg, st);
            double sumG = 0, sumGX = 0;
            for (long e = 0; e < per; e++) {
                long at = index(d, st, e);
                int ch = channel(d, st, e);
                double xhat = (Mem.f(t, x, at) - mean) * rstd, g = Mem.f(t, dy, at);
                sumG += g * Mem.f(t, gamma, ch);
                sumGX += g * Mem.f(t, gamma, ch) * xhat;
                dgamma[ch] += g * xhat;
                dbeta[ch] += g;
            }
            double meanG = rms ? 0 : sumG / per, meanGX = sumGX / per;
            for (long e = 0; e < per; e++) {
                long at = index(d, st, e);
                double xhat = (Mem.f(t, x, at) - mean) * rstd;
                double g = (double) Mem.f(t, dy, at) * Mem.f(t, gamma, channel(d, st, e));
                Mem.f(t, dx, at, rstd * (g - meanG - xhat * meanGX));
            }
        }
        MemorySegment dg = args.host(Arg.DIFF_GAMMA);
        for (int ch = 0; ch < d.c(); ch++) Mem.f(t, dg, ch, dgamma[ch]);
        if (!rms) {
            MemorySegment db = args.host(Arg.DIFF_BETA);
            for (int ch = 0; ch < d.c(); ch++) Mem.f(t, db, ch, dbeta[ch]);
        }
    }

    /** Flat index of element e of statistic set st. */
    private static long index(NormDesc d, int st, long e) {
        if (d.norm() != NormKind.BATCH) return (long) st * d.c() + e;
        long b = e / d.spatial(), sp = e % d.spatial();
        return (b * d.c() + st) * d.spatial() + sp;
    }

    /** The channel (gamma/beta index) of element e of statistic set st. */
    private static int channel(NormDesc d, int st, long e) { return d.norm() == NormKind.BATCH ? st : (int) e; }
}
