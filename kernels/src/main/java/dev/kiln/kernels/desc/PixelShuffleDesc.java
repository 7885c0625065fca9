package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.List;

/**
 * Pixel shuffle (sub-pixel rearrangement) of an f32 (or f64) NCHW tensor with factor f: n x c x h x w becomes
 * n x c/f^2 x h*f x w*f, dst[b][ch][y*f+i][x*f+j] = src[b][ch*f*f + i*f + j][y][x]. Unshuffle is the inverse:
 * n x c x h x w becomes n x c*f^2 x h/f x w/f. Each is the other's gradient.
 */
public record PixelShuffleDesc(int n, int c, int h, int w, int factor, boolean unshuffle, DType dtype) implements OpDesc {
    public PixelShuffleDesc {
        String name = unshuffle ? "pixel_unshuffle" : "pixel_shuffle";
        Check.f32OrF64(name, dtype);
        Check.positive(name, "n", n);
        Check.positive(name, "c", c);
        Check.positive(name, "h", h);
        Check.positive(name, "w", w);
        Check.positive(name, "factor", factor);
        Check.mul(name, n, c, (long) h * w);
        if (unshuffle) {
            Check.that(h % factor == 0 && w % factor == 0, name, "h=" + h + " and w=" + w + " must be multiples of factor " + factor);
            Check.toInt(name, "c*factor^2", (long) c * factor * factor);
        } else {
            long f2 = (long) factor * factor;
            Check.that(c % f2 == 0, name, "c=" + c + " must be a multiple of factor^2=" + f2);
            Check.toInt(name, "h*factor", (long) h * factor);
            Check.toInt(name, "w*factor", (long) w * factor);
        }
    }

    public PixelShuffleDesc(int n, int c, int h, int w, int factor, boolean unshuffle) { this(n, c, h, w, factor, unshuffle, DType.F32); }

    /** The same op on {@code dtype} elements (f32 or f64; f64 runs on the reference unless a backend says otherwise). */
    public PixelShuffleDesc withDType(DType dtype) { return new PixelShuffleDesc(n, c, h, w, factor, unshuffle, dtype); }

    public long count() { return (long) n * c * h * w; }

    @Override public OpKind kind() { return OpKind.PIXEL_SHUFFLE; }

    @Override public List<ArgSpec> args() {
        return List.of(ArgSpec.in(Arg.SRC, dtype, count(), "n*c*h*w"), ArgSpec.out(Arg.DST, dtype, count(), "n*c*h*w"));
    }

    @Override public double flops() { return 0; }

    @Override public String opName() { return unshuffle ? "pixel_unshuffle" : "pixel_shuffle"; }

    @Override public String shape() { return n + "x" + c + "x" + h + "x" + w + " factor=" + factor; }
}
