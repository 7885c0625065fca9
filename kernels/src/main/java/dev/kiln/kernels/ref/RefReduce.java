package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;

import java.lang.foreign.MemorySegment;

/**
 * Reference reduction over the middle axis of outer x length x inner, in double. SUM and MEAN add in index
 * order; MAX is {@link Math#max} (a NaN propagates); ARGMAX is the first index whose value is strictly
 * greater than every earlier one (so NaN is never chosen unless it is element 0).
 */
final class RefReduce {
    private RefReduce() {}

    static void run(ReduceDesc d, Args args) {
        DType t = d.dtype();
        MemorySegment x = args.host(Arg.SRC), y = args.host(Arg.DST);
        int len = d.length(), inner = d.inner();
        for (int o = 0; o < d.outer(); o++) {
            for (int i = 0; i < inner; i++) {
                long base = (long) o * len * inner + i, at = (long) o * inner + i;
                switch (d.op()) {
                    case SUM, MEAN -> {
                        double acc = 0;
                        for (int l = 0; l < len; l++) acc += Mem.f(t, x, base + (long) l * inner);
                        Mem.f(t, y, at, d.op() == ReduceOp.MEAN ? acc / len : acc);
                    }
                    case MAX -> {
                        double best = Double.NEGATIVE_INFINITY;
                        for (int l = 0; l < len; l++) best = Math.max(best, Mem.f(t, x, base + (long) l * inner));
                        Mem.f(t, y, at, best);
                    }
                    case ARGMAX -> {
                        int arg = 0;
                        double best = Mem.f(t, x, base);
                        for (int l = 1; l < len; l++) {
                            double v = Mem.f(t, x, base + (long) l * inner);
                            if (v > best) { best = v; arg = l; }
                        }
                        Mem.i32(y, at, arg);
                    }
                }
            }
        }
    }
}
