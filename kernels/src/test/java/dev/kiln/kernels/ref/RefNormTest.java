package dev.kiln.kernels.ref;

import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.NormDesc;
import dev.kiln.kernels.desc.NormDesc.Mode;
import dev.kiln.kernels.desc.NormDesc.NormKind;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.kiln.kernels.ref.RefCase.*;

/**
 * Batch, layer and RMS norm: the training forward and its saved statistics against a double forward written
 * here, batch-norm inference against the formula, and the backward pass against central finite differences
 * of that double forward (for x, gamma and beta).
 */
class RefNormTest {
    private static final double EPS = 1e-3;

    private static NormDesc[] cases(Mode mode) {
        return new NormDesc[] {
                new NormDesc(NormKind.BATCH, 3, 4, 5, EPS, mode),
                new NormDesc(NormKind.LAYER, 5, 7, 1, EPS, mode),
                new NormDesc(NormKind.RMS, 4, 9, 1, EPS, mode)};
    }

    /** Index of (b, ch, sp). */
    private static int at(NormDesc d, int b, int ch, int sp) { return (b * d.c() + ch) * d.spatial() + sp; }

    /** The training forward in double; also returns the statistics through {@code mean} and {@code rstd}. */
    static double[] forward(NormDesc d, double[] x, double[] gamma, double[] beta, double[] mean, double[] rstd) {
        double[] y = new double[x.length];
        boolean batch = d.norm() == NormKind.BATCH, rms = d.norm() == NormKind.RMS;
        for (int s = 0; s < d.stats(); s++) {
            double sum = 0, sq = 0, cnt = 0;
            for (int b = 0; b < d.n(); b++)
                for (int ch = 0; ch < d.c(); ch++)
                    for (int sp = 0; sp < d.spatial(); sp++)
                        if ((batch ? ch : b) == s) { sum += x[at(d, b, ch, sp)]; cnt++; }
            double mu = rms ? 0 : sum / cnt;
            for (int b = 0; b < d.n(); b++)
                for (int ch = 0; ch < d.c(); ch++)
                    for (int sp = 0; sp < d.spatial(); sp++)
                        if ((batch ? ch : b) == s) sq += Math.pow(x[at(d, b, ch, sp)] - mu, 2);
            double rs = 1 / Math.sqrt(sq / cnt + EPS);
            mean[s] = mu;
            rstd[s] = rs;
            for (int b = 0; b < d.n(); b++)
                for (int ch = 0; ch < d.c(); ch++)
                    for (int sp = 0; sp < d.spatial(); sp++)
                        if ((batch ? ch : b) == s) y[at(d, b, ch, sp)] = (x[at(d, b, ch, sp)] - mu) * rs * gamma[ch] + (rms ? 0 : beta[ch]);
        }
        return y;
    }

    private static double[] wide(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    @Test void trainingForwardAndStatistics() {
        Random r = seeded(41);
        for (NormDesc d : cases(Mode.TRAINING)) {
            boolean rms = d.norm() == NormKind.RMS;
            float[] x = rand(r, (int) d.count(), -2, 3), g = rand(r, d.c(), 0.5, 1.5), b = rand(r, d.c());
            RefCase.Out o = rms ? run(d, Arg.SRC, x, Arg.GAMMA, g) : run(d, Arg.SRC, x, Arg.GAMMA, g, Arg.BETA, b);
            double[] mean = new double[d.stats()], rstd = new double[d.stats()];
            double[] y = forward(d, wide(x), wide(g), wide(b), mean, rstd);
            close(y, o.f(Arg.DST), 1e-5, d.opName() + " dst");
            close(rstd, o.f(Arg.RSTD), 1e-5, d.opName() + " rstd");
            if (!rms) close(mean, o.f(Arg.MEAN), 1e-5, d.opName() + " mean");
            nonTrivial(o.f(Arg.DST), d.opName());
        }
    }

    @Test void batchInferenceUsesRunningStatistics() {
        Random r = seeded(42);
        NormDesc d = new NormDesc(NormKind.BATCH, 2, 3, 7, EPS, Mode.INFERENCE);
        float[] x = rand(r, (int) d.count(), -2, 2), g = rand(r, 3), b = rand(r, 3), mu = rand(r, 3), var = rand(r, 3, 0.1, 2);
        float[] y = run(d, Arg.SRC, x, Arg.GAMMA, g, Arg.BETA, b, Arg.MEAN, mu, Arg.VARIANCE, var).f(Arg.DST);
        double[] want = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int ch = (i / 7) % 3;
            want[i] = (x[i] - mu[ch]) / Math.sqrt(var[ch] + EPS) * g[ch] + b[ch];
        }
        close(want, y, 1e-5, "batch_norm.inference");
        nonTrivial(y, "batch_norm.inference");
    }

    @Test void backwardMatchesFiniteDifferences() {
        Random r = seeded(43);
        double h = 1e-4;
        for (NormDesc d : cases(Mode.TRAINING)) {
            boolean rms = d.norm() == NormKind.RMS;
            float[] x = rand(r, (int) d.count(), -2, 3), g = rand(r, d.c(), 0.5, 1.5), b = rand(r, d.c()), dy = rand(r, (int) d.count());
            RefCase.Out fwd = rms ? run(d, Arg.SRC, x, Arg.GAMMA, g) : run(d, Arg.SRC, x, Arg.GAMMA, g, Arg.BETA, b);
            NormDesc bd = new NormDesc(d.norm(), d.n(), d.c(), d.spatial(), d.eps(), Mode.BACKWARD);
            RefCase.Out bwd = rms
                    ? run(bd, Arg.SRC, x, Arg.GAMMA, g, Arg.RSTD, fwd.f(Arg.RSTD), Arg.DIFF_DST, dy)
                    : run(bd, Arg.SRC, x, Arg.GAMMA, g, Arg.MEAN, fwd.f(Arg.MEAN), Arg.RSTD, fwd.f(Arg.RSTD), Arg.DIFF_DST, dy);
            double[] xs = wide(x), gs = wide(g), bs = wide(b);
            close(fd(d, xs, xs, gs, bs, dy, h), bwd.f(Arg.DIFF_SRC), 1e-4, bd.opName() + " dx");
            close(fd(d, gs, xs, gs, bs, dy, h), bwd.f(Arg.DIFF_GAMMA), 1e-4, bd.opName() + " dgamma");
            if (!rms) close(fd(d, bs, xs, gs, bs, dy, h), bwd.f(Arg.DIFF_BETA), 1e-4, bd.opName() + " dbeta");
            nonTrivial(bwd.f(Arg.DIFF_SRC), bd.opName());
        }
    }

    /** Central differences of L = sum dy * y with respect to each element of {@code wrt} (one of xs, gs, bs). */
    private static double[] fd(NormDesc d, double[] wrt, double[] xs, double[] gs, double[] bs, float[] dy, double h) {
        double[] grad = new double[wrt.length], mean = new double[d.stats()], rstd = new double[d.stats()];
        for (int i = 0; i < wrt.length; i++) {
            double keep = wrt[i];
            wrt[i] = keep + h;
            double lp = dot(forward(d, xs, gs, bs, mean, rstd), dy);
            wrt[i] = keep - h;
            double lm = dot(forward(d, xs, gs, bs, mean, rstd), dy);
            wrt[i] = keep;
            grad[i] = (lp - lm) / (2 * h);
        }
        return grad;
    }

    private static double dot(double[] y, float[] dy) {
        double s = 0;
        for (int i = 0; i < y.length; i++) s += y[i] * dy[i];
        return s;
    }
}
