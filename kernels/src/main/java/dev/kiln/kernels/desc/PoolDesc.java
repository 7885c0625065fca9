package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * 2D max or average pooling over an n x c x h x w f32 (or f64) tensor (1D is h = 1, kh = 1), output n x c x p x q
 * with p = (h + 2 padH - kh) / strideH + 1. Padding never wins a max. Average pooling divides by the whole
 * window when {@code countPadding}, otherwise by the in-bounds part of it.
 * Max forward writes DST and INDICES (s32, the flat index y*w+x of each maximum within its plane, the first
 * on ties); max backward reads DIFF_DST and INDICES and writes DIFF_SRC. Average backward reads DIFF_DST.
 * {@code indices} says whether the op has the INDICES operand: always for max backward, never for average
 * pooling (the constructor sets it so), and for max forward unless made by {@link #withoutIndices()} (inference,
 * where no backward pass will read them: a backend that cannot leave them out declines that descriptor).
 */
public record PoolDesc(PoolKind pool, int n, int c, int h, int w, int kh, int kw,
                       int strideH, int strideW, int padH, int padW, boolean countPadding, Pass pass,
                       DType dtype, boolean indices) implements OpDesc {
    public enum PoolKind { MAX, AVG }

    public PoolDesc {
        Check.notNull("pool", "pool", pool);
        Check.notNull("pool", "pass", pass);
        indices = pool == PoolKind.MAX && (indices || pass != Pass.FORWARD);
        String name = opNameOf(pool, pass);
        Check.f32OrF64(name, dtype);
        Check.positive(name, "n", n);
        Check.positive(name, "c", c);
        Check.positive(name, "h", h);
        Check.positive(name, "w", w);
        Check.positive(name, "kh", kh);
        Check.positive(name, "kw", kw);
        Check.positive(name, "strideH", strideH);
        Check.positive(name, "strideW", strideW);
        Check.nonNegative(name, "padH", padH);
        Check.nonNegative(name, "padW", padW);
        Check.that(2L * padH <= kh && 2L * padW <= kw, name, "padding (" + padH + "," + padW
                + ") must be at most half the window (" + kh + "," + kw + ")");
        Check.that(h + 2L * padH >= kh && w + 2L * padW >= kw, name, "window " + kh + "x" + kw + " larger than padded input "
                + (h + 2L * padH) + "x" + (w + 2L * padW));
        Check.toInt(name, "padded height", h + 2L * padH);
        Check.toInt(name, "padded width", w + 2L * padW);
        Check.mul(name, n, c, (long) h * w);
    }

    /** With the INDICES operand wherever the op has one (max pooling). */
    public PoolDesc(PoolKind pool, int n, int c, int h, int w, int kh, int kw, int strideH, int strideW, int padH, int padW,
                    boolean countPadding, Pass pass, DType dtype) {
        this(pool, n, c, h, w, kh, kw, strideH, strideW, padH, padW, countPadding, pass, dtype, true);
    }

    public PoolDesc(PoolKind pool, int n, int c, int h, int w, int kh, int kw, int strideH, int strideW, int padH, int padW,
                    boolean countPadding, Pass pass) {
        this(pool, n, c, h, w, kh, kw, strideH, strideW, padH, padW, countPadding, pass, DType.F32);
    }

    /** The same op on {@code dtype} elements (f32 or f64; f64 runs on the reference unless a backend says otherwise). */
    public PoolDesc withDType(DType dtype) {
        return new PoolDesc(pool, n, c, h, w, kh, kw, strideH, strideW, padH, padW, countPadding, pass, dtype, indices);
    }

    /**
     * Max forward without the INDICES operand (only DST is written); any other op is returned as it is. Its
     * {@link #withPass} to backward has the indices again: that pass reads them.
     */
    public PoolDesc withoutIndices() {
        return new PoolDesc(pool, n, c, h, w, kh, kw, strideH, strideW, padH, padW, countPadding, pass, dtype, false);
    }

    private static String opNameOf(PoolKind pool, Pass pass) {
        return (pool == PoolKind.MAX ? "max_pool" : "avg_pool") + (pass == null ? "" : pass.suffix());
    }

    /** Square window, stride and padding, forward. */
    public static PoolDesc of(PoolKind pool, int n, int c, int h, int w, int window, int stride, int pad) {
        return new PoolDesc(pool, n, c, h, w, window, window, stride, stride, pad, pad, false, Pass.FORWARD);
    }

    public PoolDesc withPass(Pass pass) {
        return new PoolDesc(pool, n, c, h, w, kh, kw, strideH, strideW, padH, padW, countPadding, pass, dtype, indices);
    }

    public int p() { return (h + 2 * padH - kh) / strideH + 1; }

    public int q() { return (w + 2 * padW - kw) / strideW + 1; }

    public long srcCount() { return (long) n * c * h * w; }

    public long dstCount() { return (long) n * c * p() * q(); }

    @Override public OpKind kind() { return OpKind.POOL; }

    @Override public List<ArgSpec> args() {
        DType f = dtype;
        String src = "n*c*h*w", dst = "n*c*p*q with p=" + p() + " q=" + q();
        if (pass == Pass.FORWARD) {
            return indices
                    ? List.of(ArgSpec.in(Arg.SRC, f, srcCount(), src), ArgSpec.out(Arg.DST, f, dstCount(), dst),
                              ArgSpec.out(Arg.INDICES, DType.S32, dstCount(), dst))
                    : List.of(ArgSpec.in(Arg.SRC, f, srcCount(), src), ArgSpec.out(Arg.DST, f, dstCount(), dst));
        }
        return pool == PoolKind.MAX
                ? List.of(ArgSpec.in(Arg.DIFF_DST, f, dstCount(), dst), ArgSpec.in(Arg.INDICES, DType.S32, dstCount(), dst),
                          ArgSpec.out(Arg.DIFF_SRC, f, srcCount(), src))
                : List.of(ArgSpec.in(Arg.DIFF_DST, f, dstCount(), dst), ArgSpec.out(Arg.DIFF_SRC, f, srcCount(), src));
    }

    @Override public double flops() { return (double) dstCount() * kh * kw; }

    @Override public String opName() { return opNameOf(pool, pass); }

    @Override public String shape() {
        return n + "x" + c + "x" + h + "x" + w + " window=" + kh + "x" + kw + " stride=" + strideH + "," + strideW
                + " pad=" + padH + "," + padW + (pool == PoolKind.MAX && !indices ? " no-indices" : "");
    }
}
