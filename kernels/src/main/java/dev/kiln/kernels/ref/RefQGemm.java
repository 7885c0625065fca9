package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.QGemmDesc;

import java.lang.foreign.MemorySegment;

/**
 * Reference low-bit GEMM: C[i][j] = sum over p of A[i][p] * B[j][p] (B holds n rows of k), by type:
 * <ul>
 * <li>S8S8, U8S8: exact, summed in a long; stored as s32, or as f32 = acc * SRC_SCALES[i] * SCALES[j]
 *     computed in double, or as s8 = clamp(rint(that double), -128, 127).</li>
 * <li>S4: C[i][j] = sum over groups g of SCALES[j][g] * sum over p in g of A[i][p] * B[j][p], where SCALES is
 *     n x (k/groupSize) and B[j][p] is s4 element j*k + p; in double.</li>
 * <li>B1: acc = sum over p &lt; k of (+1 if bit a equals bit b, else -1), i.e. k - 2 popcount(a xor b) over
 *     the first k bits of each row; the padding bits that round rows up to whole bytes are ignored.
 *     Stored as s32 or scaled f32 as for S8.</li>
 * <li>LMUL: sum in double of {@link #lmul}(A[i][p], B[j][p], mantissaBits), stored as f32.</li>
 * </ul>
 */
public final class RefQGemm {
    private RefQGemm() {}

    static void run(QGemmDesc d, Args args) {
        MemorySegment a = args.host(Arg.A), b = args.host(Arg.B), c = args.host(Arg.C);
        int m = d.m(), n = d.n(), k = d.k();
        boolean scaled = d.out() != DType.S32 && d.type() != QGemmDesc.QuantType.S4 && d.type() != QGemmDesc.QuantType.LMUL;
        MemorySegment srcScales = scaled ? args.host(Arg.SRC_SCALES) : null;
        MemorySegment scales = scaled || d.type() == QGemmDesc.QuantType.S4 ? args.host(Arg.SCALES) : null;
        long rowBits = 8L * d.rowBytes();
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                long ia = (long) i * k, jb = (long) j * k;
                long acc = 0;
                double facc = 0;
                switch (d.type()) {
                    case S8S8 -> { for (int p = 0; p < k; p++) acc += (long) Mem.s8(a, ia + p) * Mem.s8(b, jb + p); }
                    case U8S8 -> { for (int p = 0; p < k; p++) acc += (long) Mem.u8(a, ia + p) * Mem.s8(b, jb + p); }
                    case B1 -> {
                        for (int p = 0; p < k; p++)
                            acc += Mem.bit(a, i * rowBits + p) == Mem.bit(b, j * rowBits + p) ? 1 : -1;
                    }
                    case S4 -> {
                        int groups = k / d.groupSize();
                        for (int g = 0; g < groups; g++) {
                            double part = 0;
                            for (int p = g * d.groupSize(); p < (g + 1) * d.groupSize(); p++)
                                part += (double) Mem.f(a, ia + p) * Mem.s4(b, jb + p);
                            facc += Mem.f(scales, (long) j * groups + g) * part;
                        }
                    }
                    case LMUL -> { for (int p = 0; p < k; p++) facc += lmul(Mem.f(a, ia + p), Mem.f(b, jb + p), d.mantissaBits()); }
                }
                long at = (long) i * n + j;
                switch (d.type()) {
                    case S4, LMUL -> Mem.f(c, at, facc);
                    default -> {
                        if (d.out() == DType.S8) c.set(java.lang.foreign.ValueLayout.JAVA_BYTE, at, requantised(acc * (double) Mem.f(srcScales, i) * Mem.f(scales, j)));
                        else if (scaled) Mem.f(c, at, acc * (double) Mem.f(srcScales, i) * Mem.f(scales, j));
                        else Mem.i32(c, at, Math.toIntExact(acc));
                    }
                }
            }
        }
    }

    /** The s8 requantisation of an already scaled accumulator: clamp(rint(v), -128, 127). */
    public static byte requantised(double v) { return (byte) Math.min(Math.max(Math.rint(v), -128), 127); }

    /**
     * L-Mul (Luo and Sun 2024, "Addition is all you need"): a multiplication-free approximation of x*y.
     * For finite, non-zero, normal x = (-1)^sx (1 + xm) 2^ex and y likewise, with the fractions xm and ym
     * truncated toward zero to M = {@code mantissaBits} bits:
     * <pre>L-Mul(x, y) = (-1)^(sx xor sy) (1 + xm + ym + 2^-l(M)) 2^(ex + ey),   l(M) = M for M &lt;= 3, l(4) = 3, l(M) = 4 above.</pre>
     * The value is computed exactly in double and rounded once to f32 (so it overflows to infinity or
     * underflows like a product would). A zero or subnormal input gives a zero signed like the product;
     * an infinite or NaN input gives the ordinary product x*y (so inf * 0 is NaN).
     * Example: lmul(1.5f, 1.5f, 3) = 1 + 0.5 + 0.5 + 0.125 = 2.125 (the exact product is 2.25).
     */
    public static float lmul(float x, float y, int mantissaBits) {
        if (mantissaBits < 1 || mantissaBits > 23) throw new IllegalArgumentException("lmul: mantissaBits must be in [1, 23], got " + mantissaBits);
        if (!Float.isFinite(x) || !Float.isFinite(y)) return x * y;
        boolean negative = (x < 0 || (x == 0 && 1 / x < 0)) != (y < 0 || (y == 0 && 1 / y < 0));
        if (Math.abs(x) < Float.MIN_NORMAL || Math.abs(y) < Float.MIN_NORMAL) return negative ? -0f : 0f;
        int bx = Float.floatToRawIntBits(x), by = Float.floatToRawIntBits(y);
        int shift = 23 - mantissaBits;
        double xm = ((bx & 0x7FFFFF) >>> shift) / (double) (1 << mantissaBits);
        double ym = ((by & 0x7FFFFF) >>> shift) / (double) (1 << mantissaBits);
        int ex = ((bx >>> 23) & 0xFF) - 127, ey = ((by >>> 23) & 0xFF) - 127;
        int l = mantissaBits <= 3 ? mantissaBits : mantissaBits == 4 ? 3 : 4;
        double mag = Math.scalb(1 + xm + ym + Math.scalb(1.0, -l), ex + ey);
        return (float) (negative ? -mag : mag);
    }
}
