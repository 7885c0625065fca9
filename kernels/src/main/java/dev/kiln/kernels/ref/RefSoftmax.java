package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
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
        int len = d.length(), inner = d.inner();
        boolean fwd = d.pass() == Pass.FORWARD;
        MemorySegment in = args.host(fwd ? Arg.SRC : Arg.DST);
        MemorySegment dy = fwd ? null : args.host(Arg.DIFF_DST);
        MemorySegment out = args.host(fwd ? Arg.DST : Arg.DIFF_SRC);
        for (int o = 0; o < d.outer(); o++) {
            for (int i = 0; i < inner; i++) {
                long base = (long) o * len * inner + i;
                if (fwd) forward(in, out, base, len, inner, d.log());
                else backward(in, dy, out, base, len, inner, d.log());
            }
        }
    }

    private static void forward(MemorySegment x, MemorySegment y, long base, int len, int stride, boolean log) {
        double max = Double.NEGATIVE_INFINITY;
        for (int l = 0; l < len; l++) max = Math.max(max, Mem.f(x, base + (long) l * stride));
        double sum = 0;
        for (int l = 0; l < len; l++) sum += Math.exp(Mem.f(x, base + (long) l * stride) - max);
        double logSum = Math.log(sum);
        for (int l = 0; l < len; l++) {
            long at = base + (long) l * stride;
            double z = Mem.f(x, at) - max;
            Mem.f(y, at, log ? z - logSum : Math.exp(z) / sum);
        }
    }

    private static void backward(MemorySegment y, MemorySegment dy, MemorySegment dx, long base, int len, int stride, boolean log) {
        double dot = 0;
        for (int l = 0; l < len; l++) {
            long at = base + (long) l * stride;
            dot += log ? Mem.f(dy, at) : (double) Mem.f(dy, at) * Mem.f(y, at);
        }
        for (int l = 0; l < len; l++) {
            long at = base + (long) l * stride;
            double g = Mem.f(dy, at), v = Mem.f(y, at);
            Mem.f(dx, at, log ? g - Math.exp(v) * dot : v * (g - dot));
        }
    }
}
