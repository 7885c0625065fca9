package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.SoftmaxDesc;

import java.lang.foreign.MemorySegment;

/**
 * Reference softmax and log-softmax along the middle axis of outer x length x inner, in double and stable:
 * with m = max x, softmax = exp(x - m) / sum exp(x - m) and log-softmax = x - m - log(sum exp(x - m)).
 * Backward reads the forward output y: softmax dx = y (dy - sum dy*y); log-softmax dx = dy - exp(y) sum dy.
 */
final class RefSoftmax {
    private RefSoftmax() {}

    static void run(SoftmaxDesc d, Args args) {
        DType t = d.dtype();
        int len = d.length(), inner = d.inner();
        boolean fwd = d.pass() == Pass.FORWARD;
        MemorySegment in = args.host(fwd ? Arg.SRC : Arg.DST);
        MemorySegment dy = fwd ? null : args.host(Arg.DIFF_DST);
        MemorySegment out = args.host(fwd ? Arg.DST : Arg.DIFF_SRC);
        for (int o = 0; o < d.outer(); o++) {
            for (int i = 0; i < inner; i++) {
                long base = (long) o * len * inner + i;
                if (fwd) forward(t, in, out, base, len, inner, d.log());
                else backward(t, in, dy, out, base, len, inner, d.log());
            }
        }
    }

    private static void forward(DType t, MemorySegment x, MemorySegment y, long base, int len, int stride, boolean log) {
        double max = Double.NEGATIVE_INFINITY;
        for (int l = 0; l < len; l++) max = Math.max(max, Mem.f(t, x, base + (long) l * stride));
        double sum = 0;
        for (int l = 0; l < len; l++) sum += Math.exp(Mem.f(t, x, base + (long) l * stride) - max);
        double logSum = Math.log(sum);
        for (int l = 0; l < len; l++) {
            long at = base + (long) l * stride;
            double z = Mem.f(t, x, at) - max;
            Mem.f(t, y, at, log ? z - logSum : Math.exp(z) / sum);
        }
    }

    private static void backward(DType t, MemorySegment y, MemorySegment dy, MemorySegment dx, long base, int len, int stride, boolean log) {
        double dot = 0;
        for (int l = 0; l < len; l++) {
            long at = base + (long) l * stride;
            dot += log ? Mem.f(t, dy, at) : (double) Mem.f(t, dy, at) * Mem.f(t, y, at);
        }
        for (int l = 0; l < len; l++) {
            long at = base + (long) l * stride;
            double g = Mem.f(t, dy, at), v = Mem.f(t, y, at);
            Mem.f(t, dx, at, log ? g - Math.exp(v) * dot : v * (g - dot));
        }
    }
}
