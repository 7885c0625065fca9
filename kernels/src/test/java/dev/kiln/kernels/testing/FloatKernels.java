package dev.kiln.kernels.testing;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.*;
import dev.kiln.kernels.desc.NormDesc.Mode;
import dev.kiln.kernels.desc.NormDesc.NormKind;
import dev.kiln.kernels.ref.RefActivation;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Support;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Plausible but different kernels: plain f32 loops that accumulate in float, GEMM in reverse k order. They
 * are correct to f32 precision, so the harness must pass them; a tolerance too tight for real f32 kernels
 * would fail here. (The reference accumulates in double, so it cannot show that.)
 */
final class FloatKernels {
    private FloatKernels() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    static KernelImpl impl(OpKind kind) {
        return Mutants.impl(kind, "float-" + kind.lower(), Support.YES, (desc, args) -> {
            switch (desc) {
                case GemmDesc g -> gemm(g, args);
                case ReduceDesc r -> reduce(r, args);
                case SoftmaxDesc s -> softmax(s, args);
                case NormDesc n -> norm(n, args);
                default -> throw new AssertionError("no float kernel for " + desc.opName());
            }
        });
    }

    /** Which cases these kernels cover: f32 GEMM, sums and means, softmax, norms. */
    static boolean covers(OpDesc desc) {
        return switch (desc) {
            case GemmDesc g -> g.dtype() == DType.F32;
            case ReduceDesc r -> r.op() == ReduceOp.SUM || r.op() == ReduceOp.MEAN;
            case SoftmaxDesc ignored -> true;
            case NormDesc ignored -> true;
            default -> false;
        };
    }

    private static void gemm(GemmDesc d, Args args) {
        MemorySegment a = args.host(Arg.A), b = args.host(Arg.B), c = args.host(Arg.C);
        for (int batch = 0; batch < d.batch(); batch++)
            for (int i = 0; i < d.m(); i++)
                for (int j = 0; j < d.n(); j++) {
                    float acc = 0;
                    for (int p = d.k() - 1; p >= 0; p--) {
                        long ia = batch * d.strideA() + (d.transA() == Transpose.N ? (long) i * d.lda() + p : (long) p * d.lda() + i);
                        long ib = batch * d.strideB() + (d.transB() == Transpose.N ? (long) p * d.ldb() + j : (long) j * d.ldb() + p);
                        acc = Math.fma(a.getAtIndex(F, ia), b.getAtIndex(F, ib), acc);
                    }
                    long ic = batch * d.strideC() + (long) i * d.ldc() + j;
                    float v = (float) d.alpha() * acc;
                    if (d.beta() != 0) v += (float) d.beta() * c.getAtIndex(F, ic);
                    if (d.bias()) v += args.host(Arg.BIAS).getAtIndex(F, j);
                    c.setAtIndex(F, ic, (float) RefActivation.apply(d.activation(), v));
                }
    }

    private static void reduce(ReduceDesc d, Args args) {
        MemorySegment x = args.host(Arg.SRC), y = args.host(Arg.DST);
        for (int o = 0; o < d.outer(); o++)
            for (int i = 0; i < d.inner(); i++) {
                float acc = 0;
                for (int l = 0; l < d.length(); l++) acc += x.getAtIndex(F, ((long) o * d.length() + l) * d.inner() + i);
                y.setAtIndex(F, (long) o * d.inner() + i, d.op() == ReduceOp.MEAN ? acc / d.length() : acc);
            }
    }

    private static void softmax(SoftmaxDesc d, Args args) {
        boolean fwd = d.pass() == Pass.FORWARD;
        MemorySegment x = args.host(fwd ? Arg.SRC : Arg.DST), dy = fwd ? null : args.host(Arg.DIFF_DST);
        MemorySegment out = args.host(fwd ? Arg.DST : Arg.DIFF_SRC);
        int len = d.length(), inner = d.inner();
        for (int o = 0; o < d.outer(); o++)
            for (int i = 0; i < inner; i++) {
                long base = (long) o * len * inner + i;
                if (fwd) {
                    float max = Float.NEGATIVE_INFINITY, sum = 0;
                    for (int l = 0; l < len; l++) max = Math.max(max, x.getAtIndex(F, base + (long) l * inner));
                    for (int l = 0; l < len; l++) sum += (float) Math.exp(x.getAtIndex(F, base + (long) l * inner) - max);
                    float logSum = (float) Math.log(sum);
                    for (int l = 0; l < len; l++) {
                        float v = x.getAtIndex(F, base + (long) l * inner) - max;
                        out.setAtIndex(F, base + (long) l * inner, d.log() ? v - logSum : (float) Math.exp(v) / sum);
                    }
                } else {
                    float s = 0;
                    for (int l = 0; l < len; l++) {
                        long at = base + (long) l * inner;
                        s += d.log() ? dy.getAtIndex(F, at) : dy.getAtIndex(F, at) * x.getAtIndex(F, at);
                    }
                    for (int l = 0; l < len; l++) {
                        long at = base + (long) l * inner;
                        float y = x.getAtIndex(F, at), g = dy.getAtIndex(F, at);
                        out.setAtIndex(F, at, d.log() ? g - (float) Math.exp(y) * s : y * (g - s));
                    }
                }
            }
    }

    /** Members of statistic group {@code g}: a channel over n x spatial (batch norm) or a row of c (layer, RMS). */
    private static long member(NormDesc d, int g, int m) {
        return d.norm() == NormKind.BATCH ? ((long) (m / d.spatial()) * d.c() + g) * d.spatial() + m % d.spatial() : (long) g * d.c() + m;
    }

    private static int gammaIndex(NormDesc d, int g, int m) { return d.norm() == NormKind.BATCH ? g : m; }

    private static void norm(NormDesc d, Args args) {
        MemorySegment x = args.host(Arg.SRC), gamma = args.host(Arg.GAMMA);
        boolean rms = d.norm() == NormKind.RMS;
        int groups = d.stats(), size = (int) (d.count() / groups);
        float[] dGamma = new float[d.c()], dBeta = new float[d.c()];
        for (int g = 0; g < groups; g++) {
            float mean = 0, rs;
            if (d.mode() == Mode.TRAINING) {
                if (!rms) {
                    for (int m = 0; m < size; m++) mean += x.getAtIndex(F, member(d, g, m));
                    mean /= size;
                }
                float sq = 0;
                for (int m = 0; m < size; m++) {
                    float v = x.getAtIndex(F, member(d, g, m)) - mean;
                    sq += v * v;
                }
                rs = (float) (1 / Math.sqrt(sq / size + d.eps()));
                args.host(Arg.RSTD).setAtIndex(F, g, rs);
                if (!rms) args.host(Arg.MEAN).setAtIndex(F, g, mean);
            } else if (d.mode() == Mode.INFERENCE) {
                mean = args.host(Arg.MEAN).getAtIndex(F, g);
                rs = (float) (1 / Math.sqrt(args.host(Arg.VARIANCE).getAtIndex(F, g) + d.eps()));
            } else {
                mean = rms ? 0 : args.host(Arg.MEAN).getAtIndex(F, g);
                rs = args.host(Arg.RSTD).getAtIndex(F, g);
            }
            if (d.mode() != Mode.BACKWARD) {
                for (int m = 0; m < size; m++) {
                    long at = member(d, g, m);
                    int j = gammaIndex(d, g, m);
                    float v = (x.getAtIndex(F, at) - mean) * rs * gamma.getAtIndex(F, j);
                    args.host(Arg.DST).setAtIndex(F, at, rms ? v : v + args.host(Arg.BETA).getAtIndex(F, j));
                }
                continue;
            }
            MemorySegment dy = args.host(Arg.DIFF_DST), dx = args.host(Arg.DIFF_SRC);
            float meanG = 0, meanGx = 0;
            for (int m = 0; m < size; m++) {
                long at = member(d, g, m);
                int j = gammaIndex(d, g, m);
                float xh = (x.getAtIndex(F, at) - mean) * rs, gy = dy.getAtIndex(F, at) * gamma.getAtIndex(F, j);
                meanG += gy;
                meanGx += gy * xh;
                dGamma[j] += dy.getAtIndex(F, at) * xh;
                dBeta[j] += dy.getAtIndex(F, at);
            }
            meanG /= size;
            meanGx /= size;
            for (int m = 0; m < size; m++) {
                long at = member(d, g, m);
                float xh = (x.getAtIndex(F, at) - mean) * rs, gy = dy.getAtIndex(F, at) * gamma.getAtIndex(F, gammaIndex(d, g, m));
                dx.setAtIndex(F, at, rs * (gy - (rms ? 0 : meanG) - xh * meanGx));
            }
        }
        if (d.mode() != Mode.BACKWARD) return;
        for (int j = 0; j < d.c(); j++) {
            args.host(Arg.DIFF_GAMMA).setAtIndex(F, j, dGamma[j]);
            if (!rms) args.host(Arg.DIFF_BETA).setAtIndex(F, j, dBeta[j]);
        }
    }
}
