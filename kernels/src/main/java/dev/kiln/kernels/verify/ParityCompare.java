package dev.kiln.kernels.verify;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.DsmmDesc;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.desc.SpmmDesc;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.Map;

/**
 * Element-by-element comparison of a backend's outputs with the reference's, over each output and its
 * poisoned guard. An element the reference left poisoned (a gap between rows, the guard past the end) must
 * still be poisoned; every other element must be within the tolerance of its expected value. Also finds
 * outputs that are almost all zero where the reference's are not ("mistrusted"): such a kernel did nothing,
 * and a loose tolerance must not let it pass.
 */
final class ParityCompare {
    private ParityCompare() {}

    /** What the comparison found; {@code detail} is null when everything matched. */
    record Outcome(double worstError, String detail) {}

    static Outcome compare(OpDesc desc, Tolerance tol, Map<Arg, MemorySegment> got, Map<Arg, MemorySegment> expected,
                           Map<Arg, MemorySegment> magnitude) {
        Worst worst = new Worst();
        String mistrusted = null;
        for (ArgSpec spec : desc.args()) {
            if (!spec.access().writes()) continue;
            MemorySegment g = got.get(spec.arg()), e = expected.get(spec.arg());
            MemorySegment mag = magnitude == null ? null : magnitude.get(spec.arg());
            boolean exact = tol.isExact() || !spec.dtype().isFloatingPoint() || spec.dtype().bits() == 16; // f16/bf16 read as bits
            long count = spec.count(), total = ParityInputs.allocated(spec);
            double typical = ParityTolerances.cancels(desc) ? meanAbs(e, spec.dtype(), count) : 0;
            long gotZero = 0, expZero = 0, compared = 0;
            for (long i = 0; i < total; i++) {
                double ev = read(e, spec.dtype(), i), gv = read(g, spec.dtype(), i);
                boolean untouched = isPoison(e, spec.dtype(), i);
                if (untouched) {
                    if (!isPoison(g, spec.dtype(), i)) {
                        worst.failures++;
                        worst.offer(spec, i, gv, ev, Double.POSITIVE_INFINITY, 0, Double.POSITIVE_INFINITY, where(spec, i));
                    }
                    continue;
                }
                double err = Math.abs(gv - ev);
                if (Double.isNaN(gv)) err = Double.POSITIVE_INFINITY;
                if (exact && sameBits(g, e, spec.dtype(), i)) err = 0; // a NaN the reference produced, reproduced
                double scale = Math.max(Math.abs(ev), mag == null ? 0 : read(mag, spec.dtype(), i)) + typical;
                double allowed = exact ? 0 : tol.allowed(scale);
                if (i < count) {
                    compared++;
                    if (gv == 0) gotZero++;
                    if (Math.abs(ev) <= allowed) expZero++; // zero within the tolerance: the reference's own rounding
                }
                double ratio = err == 0 ? 0 : allowed == 0 ? Double.POSITIVE_INFINITY : err / allowed;
                String note = isPoison(g, spec.dtype(), i) ? "never written: still the poison" : i >= count ? where(spec, i) : null;
                if (err > allowed || ratio > worst.ratio) worst.offer(spec, i, gv, ev, err, scale, ratio, note);
                if (err > allowed) worst.failures++;
            }
            if (mistrusted == null && compared > 0 && gotZero >= 0.9 * compared && expZero < 0.5 * compared)
                mistrusted = "mistrusted: output almost all zero (" + spec.arg() + ": " + gotZero + " of " + compared
                        + " elements are 0, the reference has " + expZero + " within tolerance of 0)";
        }
        String detail = worst.failures == 0 ? null : worst.describe(tol) + locate(desc, worst.arg, worst.index);
        if (mistrusted != null) detail = mistrusted + (detail == null ? "" : "; " + detail);
        return new Outcome(worst.arg == null ? 0 : worst.error, detail);
    }

    /** Where a flat index lies in a matrix or image output, for the message; empty when it has no simple answer. */
    static String locate(OpDesc desc, Arg arg, long i) {
        return switch (desc) {
            case GemmDesc g when arg == Arg.C && g.ldc() > 0 -> {
                long b = g.batch() > 1 && g.strideC() > 0 ? i / g.strideC() : 0, r = i - b * g.strideC();
                yield " at " + (g.batch() > 1 ? "batch " + b + ", " : "") + "row " + r / g.ldc() + ", column " + r % g.ldc();
            }
            case QGemmDesc q when arg == Arg.C -> " at row " + i / q.n() + ", column " + i % q.n();
            case SpmmDesc s when arg == Arg.C -> " at row " + i / s.n() + ", column " + i % s.n();
            case DsmmDesc s when arg == Arg.C -> " at row " + i / s.n() + ", column " + i % s.n();
            case ConvDesc c when arg == Arg.DST || arg == Arg.DIFF_SRC -> {
                boolean out = arg == Arg.DST;
                long ch = out ? c.k() : c.c(), h = out ? c.p() : c.h(), w = out ? c.q() : c.w();
                yield " at n=" + i / (ch * h * w) + " " + (out ? "k=" : "c=") + i / (h * w) % ch + " y=" + i / w % h + " x=" + i % w;
            }
            default -> "";
        };
    }

    private static String where(ArgSpec spec, long i) {
        return i >= spec.count() ? "written past the end (" + spec.count() + " elements)"
                                 : "written where the reference writes nothing (a gap between rows?)";
    }

    /** The element that is worst relative to its allowed error, and how many failed. */
    private static final class Worst {
        Arg arg;
        long index, failures;
        double got, expected, error, scale, ratio = -1;
        String note;

        void offer(ArgSpec spec, long i, double got, double expected, double error, double scale, double ratio, String note) {
            if (ratio <= this.ratio) return;
            this.arg = spec.arg();
            this.index = i;
            this.got = got;
            this.expected = expected;
            this.error = error;
            this.scale = scale;
            this.ratio = ratio;
            this.note = note;
        }

        String describe(Tolerance tol) {
            return String.format(Locale.ROOT, "%d element(s) out of tolerance; worst %s[%d] got %s expected %s error %s, allowed %s (%s, scale %s)%s",
                    failures, arg, index, fmt(got), fmt(expected), fmt(error), fmt(tol.allowed(scale)), tol, fmt(scale),
                    note == null ? "" : " [" + note + "]");
        }
    }

    private static String fmt(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) return String.valueOf(v);
        if (v == Math.rint(v) && Math.abs(v) < 1e15) return String.valueOf((long) v);
        return String.format(Locale.ROOT, "%.9g", v);
    }

    private static double meanAbs(MemorySegment seg, DType dtype, long count) {
        double sum = 0;
        long n = 0;
        for (long i = 0; i < count; i++) {
            double v = read(seg, dtype, i);
            if (!Double.isNaN(v)) { sum += Math.abs(v); n++; }
        }
        return n == 0 ? 0 : sum / n;
    }

    static double read(MemorySegment seg, DType dtype, long i) {
        return switch (dtype) {
            case F32 -> seg.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            case F64 -> seg.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
            case S32 -> seg.getAtIndex(ValueLayout.JAVA_INT, i);
            case S8 -> seg.get(ValueLayout.JAVA_BYTE, i);
            case U8 -> Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, i));
            case F16, BF16 -> Short.toUnsignedInt(seg.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i)); // the bits: compared exactly
            case S4 -> { int b = seg.get(ValueLayout.JAVA_BYTE, i >> 1), nib = (i & 1) == 0 ? b & 0xF : (b >> 4) & 0xF; yield nib >= 8 ? nib - 16 : nib; }
            case B1 -> (seg.get(ValueLayout.JAVA_BYTE, i >> 3) >> (i & 7)) & 1;
            default -> throw new IllegalArgumentException("parity: cannot compare " + dtype.lower() + " outputs");
        };
    }

    private static boolean sameBits(MemorySegment a, MemorySegment b, DType dtype, long i) {
        return switch (dtype) {
            case F32 -> a.getAtIndex(ValueLayout.JAVA_INT, i) == b.getAtIndex(ValueLayout.JAVA_INT, i);
            case F64 -> a.getAtIndex(ValueLayout.JAVA_LONG, i) == b.getAtIndex(ValueLayout.JAVA_LONG, i);
            default -> false;
        };
    }

    private static boolean isPoison(MemorySegment seg, DType dtype, long i) {
        return switch (dtype) {
            case F32 -> seg.getAtIndex(ValueLayout.JAVA_INT, i) == ParityInputs.POISON_F32;
            case F64 -> seg.getAtIndex(ValueLayout.JAVA_LONG, i) == ParityInputs.POISON_F64;
            case S32 -> seg.getAtIndex(ValueLayout.JAVA_INT, i) == ParityInputs.POISON_S32;
            default -> false;
        };
    }
}
