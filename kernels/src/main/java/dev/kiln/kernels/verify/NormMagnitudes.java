package dev.kiln.kernels.verify;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.NormDesc;
import dev.kiln.kernels.desc.NormDesc.Mode;
import dev.kiln.kernels.desc.NormDesc.NormKind;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumMap;
import java.util.Map;

/**
 * Element magnitudes for normalisation, worked out from the formulas because the ops are not linear: each
 * output's scale is the sum of the absolute values of the terms it is formed from, and for the normalised
 * value the size of the rounding an f32 mean leaves in {@code x - mean} ({@code rstd * mean|x|}, large when
 * a group's values are close together). The gradient of a group of two has mathematically zero DIFF_SRC
 * (x-hat is always +-1), so its expected value is pure rounding and only such a scale compares it fairly.
 */
final class NormMagnitudes {
    private NormMagnitudes() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    static Map<Arg, MemorySegment> of(NormDesc d, Map<Arg, HostBuffer> in, Closer closer) {
        Map<Arg, MemorySegment> out = new EnumMap<>(Arg.class);
        for (ArgSpec s : d.args())
            if (s.access().writes()) out.put(s.arg(), closer.add(HostBuffer.allocate(null, DType.F32, ParityInputs.allocated(s))).hostSegment());
        MemorySegment x = in.get(Arg.SRC).hostSegment(), gamma = in.get(Arg.GAMMA).hostSegment();
        boolean rms = d.norm() == NormKind.RMS;
        int groups = d.stats(), size = (int) (d.count() / groups);
        double[] dGamma = new double[d.c()], dBeta = new double[d.c()];
        for (int g = 0; g < groups; g++) {
            double mean = 0, sumAbs = 0, sumSq = 0, rstd;
            for (int m = 0; m < size; m++) {
                double v = x.getAtIndex(F, member(d, g, m));
                mean += v;
                sumAbs += Math.abs(v);
                sumSq += v * v;
            }
            mean = rms ? 0 : mean / size;
            double meanAbs = sumAbs / size, meanSq = sumSq / size;
            switch (d.mode()) {
                case TRAINING -> {
                    double var = 0;
                    for (int m = 0; m < size; m++) var += Math.pow(x.getAtIndex(F, member(d, g, m)) - mean, 2);
                    rstd = 1 / Math.sqrt(var / size + d.eps());
                    // a one-pass variance loses E[x^2] * u: relative to rstd, E[x^2] * rstd^2
                    out.get(Arg.RSTD).setAtIndex(F, g, (float) (rstd * Math.max(1, meanSq * rstd * rstd)));
                    if (!rms) out.get(Arg.MEAN).setAtIndex(F, g, (float) meanAbs);
                }
                case INFERENCE -> {
                    mean = in.get(Arg.MEAN).hostSegment().getAtIndex(F, g);
                    rstd = 1 / Math.sqrt(in.get(Arg.VARIANCE).hostSegment().getAtIndex(F, g) + d.eps());
                }
                default -> {
                    mean = rms ? 0 : in.get(Arg.MEAN).hostSegment().getAtIndex(F, g);
                    rstd = in.get(Arg.RSTD).hostSegment().getAtIndex(F, g);
                }
            }
            double noise = rstd * (meanAbs + Math.abs(mean)); // |x - mean| rounding, relative to x-hat
            if (d.mode() != Mode.BACKWARD) {
                for (int m = 0; m < size; m++) {
                    long at = member(d, g, m);
                    int j = gammaIndex(d, g, m);
                    double xh = Math.abs(x.getAtIndex(F, at) - mean) * rstd;
                    double beta = rms ? 0 : Math.abs(in.get(Arg.BETA).hostSegment().getAtIndex(F, j));
                    out.get(Arg.DST).setAtIndex(F, at, (float) (Math.abs(gamma.getAtIndex(F, j)) * (xh + noise) + beta));
                }
                continue;
            }
            MemorySegment dy = in.get(Arg.DIFF_DST).hostSegment();
            double sumG = 0, sumGx = 0;
            for (int m = 0; m < size; m++) {
                long at = member(d, g, m);
                int j = gammaIndex(d, g, m);
                double xh = Math.abs(x.getAtIndex(F, at) - mean) * rstd, dyv = Math.abs(dy.getAtIndex(F, at));
                sumG += dyv * Math.abs(gamma.getAtIndex(F, j));
                sumGx += dyv * Math.abs(gamma.getAtIndex(F, j)) * xh;
                dGamma[j] += dyv * (xh + noise);
                dBeta[j] += dyv;
            }
            double meanG = sumG / size, meanGx = sumGx / size;
            for (int m = 0; m < size; m++) {
                long at = member(d, g, m);
                double xh = Math.abs(x.getAtIndex(F, at) - mean) * rstd;
                double gy = Math.abs(dy.getAtIndex(F, at) * gamma.getAtIndex(F, gammaIndex(d, g, m)));
                // dx = rstd (g - mean g - xh mean(g xh)); the noise terms are its first-order change with xh
                double terms = gy + (rms ? 0 : meanG) + xh * meanGx + noise * (meanGx + xh * meanG);
                out.get(Arg.DIFF_SRC).setAtIndex(F, at, (float) (rstd * terms));
            }
        }
        if (d.mode() == Mode.BACKWARD)
            for (int j = 0; j < d.c(); j++) {
                out.get(Arg.DIFF_GAMMA).setAtIndex(F, j, (float) dGamma[j]);
                if (!rms) out.get(Arg.DIFF_BETA).setAtIndex(F, j, (float) dBeta[j]);
            }
        return out;
    }

    /** Element {@code m} of statistics group {@code g}: a channel over n x spatial (batch) or a row of c. */
    private static long member(NormDesc d, int g, int m) {
        return d.norm() == NormKind.BATCH ? ((long) (m / d.spatial()) * d.c() + g) * d.spatial() + m % d.spatial() : (long) g * d.c() + m;
    }

    private static int gammaIndex(NormDesc d, int g, int m) { return d.norm() == NormKind.BATCH ? g : m; }
}
