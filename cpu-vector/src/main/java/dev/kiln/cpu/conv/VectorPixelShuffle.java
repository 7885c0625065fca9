package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.PixelShuffleDesc;
import dev.kiln.kernels.spi.Support;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Pixel shuffle and unshuffle (sub-pixel convolution's rearrangement, {@link PixelShuffleDesc}), f32. Both
 * directions are seen from the small-spatial side: cs = cb f^2 channels of hs x ws against cb channels of
 * hs f x ws f, where big[ch][y f + i][x f + j] = small[ch f^2 + i f + j][y][x].
 *
 * <p>A pure permutation, so the floor is one read and one write of the tensor. One task per big plane
 * (image, big channel) with its f^2 small planes: every big row is written once, front to back, from f rows
 * of the small side read front to back, so both sides stream. For f = 2 (the usual upscaling factor) the two
 * small rows are zipped into the big row with two-vector lane shuffles (unshuffle: unzipped into even and
 * odd lanes), the row's last vector moved back to end at the row's end; other factors and rows shorter than a
 * vector move element by element in the same order.
 */
public final class VectorPixelShuffle {
    private VectorPixelShuffle() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** Every f32 descriptor (the record admits only consistent shapes). */
    public static Support supports(PixelShuffleDesc d) { return Support.YES; }

    public static void run(Width w, PixelShuffleDesc d, Args a) {
        MemorySegment src = a.host(Arg.SRC), dst = a.host(Arg.DST);
        if (src.getClass() != NativeSegments.CLASS || dst.getClass() != NativeSegments.CLASS) {
            NativeSegments.staged(d, a, copies -> run(w, d, copies));
            return;
        }
        int f = d.factor();
        int cs = d.unshuffle() ? d.c() * f * f : d.c(), hs = d.unshuffle() ? d.h() / f : d.h(), ws = d.unshuffle() ? d.w() / f : d.w();
        int cb = cs / (f * f);
        boolean unshuffle = d.unshuffle();
        CpuThreads.parallelFor(d.n() * cb, t -> plane(w, src, dst, unshuffle, f, hs, ws, (long) t * f * f * hs * ws));
    }

    /**
     * One big plane and its f^2 small planes, both starting at element {@code base} (the big plane of image b,
     * channel ch and the small planes ch f^2 .. of image b hold the same elements, so they start at the same offset).
     */
    private static void plane(Width w, MemorySegment src, MemorySegment dst, boolean unshuffle, int f, int hs, int ws, long base) {
        if (src.getClass() != NativeSegments.CLASS || dst.getClass() != NativeSegments.CLASS) throw new IllegalStateException("staged above");
        VectorSpecies<Float> s = w.floats();
        int l = s.length(), wb = ws * f;
        long smallPlane = (long) hs * ws;
        VectorShuffle<Float> lo = null, hi = null, even = null, odd = null;
        if (f == 2) {
            int[] zipLo = new int[l], zipHi = new int[l], ev = new int[l], od = new int[l];
            for (int q = 0; q < l; q++) {
                // indexes >= l pick from the second vector of a two-vector rearrange
                zipLo[q] = (q & 1) * l + q / 2;
                zipHi[q] = (q & 1) * l + (l + q) / 2;
                ev[q] = 2 * q;
                od[q] = 2 * q + 1;
            }
            lo = VectorShuffle.fromArray(s, zipLo, 0);
            hi = VectorShuffle.fromArray(s, zipHi, 0);
            even = VectorShuffle.fromArray(s, ev, 0);
            odd = VectorShuffle.fromArray(s, od, 0);
        }
        for (int y = 0; y < hs; y++)
            for (int i = 0; i < f; i++) {
                long big = base + ((long) y * f + i) * wb, small = base + (long) i * f * smallPlane + (long) y * ws;
                int x = 0;
                if (f == 2 && ws >= l)
                    // whole vectors, the last one moved back to end at ws: it rewrites a few elements with the
                    // same values (a permutation), so no element-by-element tail
                    for (int last = ws - l; ; x = Math.min(x + l, last)) {
                        long s0 = (small + x) * 4, s1 = (small + smallPlane + x) * 4, b = (big + 2L * x) * 4;
                        if (unshuffle) {
                            FloatVector v0 = FloatVector.fromMemorySegment(s, src, b, NATIVE), v1 = FloatVector.fromMemorySegment(s, src, b + 4L * l, NATIVE);
                            v0.rearrange(even, v1).intoMemorySegment(dst, s0, NATIVE);
                            v0.rearrange(odd, v1).intoMemorySegment(dst, s1, NATIVE);
                        } else {
                            FloatVector a0 = FloatVector.fromMemorySegment(s, src, s0, NATIVE), a1 = FloatVector.fromMemorySegment(s, src, s1, NATIVE);
                            a0.rearrange(lo, a1).intoMemorySegment(dst, b, NATIVE);
                            a0.rearrange(hi, a1).intoMemorySegment(dst, b + 4L * l, NATIVE);
                        }
                        if (x == last) {
                            x = ws;
                            break;
                        }
                    }
                for (; x < ws; x++)
                    for (int j = 0; j < f; j++) {
                        long sm = small + j * smallPlane + x, bg = big + (long) x * f + j;
                        if (unshuffle) dst.setAtIndex(F, sm, src.getAtIndex(F, bg));
                        else dst.setAtIndex(F, bg, src.getAtIndex(F, sm));
                    }
            }
    }
}
