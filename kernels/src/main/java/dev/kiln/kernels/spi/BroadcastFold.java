package dev.kiln.kernels.spi;

import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A broadcasting binary op reduced to the fewest dimensions a device kernel must index: the result's
 * dimensions of extent 1 dropped, and neighbours merged where both operands step over the inner one exactly
 * as a row of the outer (so equal shapes become one dimension, and [N,C,H,W] + [C,1,1] three). Each operand's
 * element stride per folded dimension is 0 where it is broadcast. For the OpenCL and CUDA broadcast kernels,
 * which take a fixed maximum rank of dimensions and strides as arguments.
 *
 * @param dims result extents, outermost first
 * @param sa   the first operand's element strides along them
 * @param sb   the second operand's
 */
public record BroadcastFold(int[] dims, long[] sa, long[] sb) {

    /** Folds {@code d}; an empty result keeps its dimensions unmerged (nothing is launched for it). */
    public static BroadcastFold of(BinaryDesc d) {
        Shape out = d.out();
        int rank = out.rank();
        long[] sa = strides(d.a(), rank), sb = strides(d.b(), rank);
        if (out.count() == 0) return new BroadcastFold(out.dims(), sa, sb);
        List<Integer> dims = new ArrayList<>();
        List<long[]> strides = new ArrayList<>();
        for (int j = 0; j < rank; j++) {
            int dj = out.dim(j);
            if (dj == 1) continue;
            if (!dims.isEmpty()) {
                int last = dims.size() - 1;
                long[] prev = strides.get(last);
                // Merge into the previous dimension when each operand steps over this one exactly as a row of it.
                if (prev[0] == sa[j] * dj && prev[1] == sb[j] * dj) {
                    dims.set(last, Math.multiplyExact(dims.get(last), dj));
                    strides.set(last, new long[] {sa[j], sb[j]});
                    continue;
                }
            }
            dims.add(dj);
            strides.add(new long[] {sa[j], sb[j]});
        }
        int n = dims.size();
        int[] fd = new int[n];
        long[] fa = new long[n], fb = new long[n];
        for (int j = 0; j < n; j++) {
            fd[j] = dims.get(j);
            fa[j] = strides.get(j)[0];
            fb[j] = strides.get(j)[1];
        }
        return new BroadcastFold(fd, fa, fb);
    }

    /** Row-major element strides of {@code s} aligned right against {@code rank} dimensions; 0 where broadcast. */
    public static long[] strides(Shape s, int rank) {
        long[] st = new long[rank];
        long step = 1;
        for (int i = s.rank() - 1; i >= 0; i--) {
            st[rank - s.rank() + i] = s.dim(i) == 1 ? 0 : step;
            step *= s.dim(i);
        }
        return st;
    }

    /**
     * The kernel arguments for a kernel of fixed {@code rank}: dims, then the first operand's strides, then the
     * second's, each left-padded (extent 1, stride 0) to {@code rank} entries.
     */
    public Object[] args(int rank) {
        if (dims.length > rank) throw new IllegalStateException("broadcast folds to " + dims.length + " dimensions "
                + Arrays.toString(dims) + ", more than the kernel's " + rank);
        Object[] out = new Object[3 * rank];
        int pad = rank - dims.length;
        for (int j = 0; j < rank; j++) {
            boolean real = j >= pad;
            out[j] = real ? dims[j - pad] : 1;
            out[rank + j] = real ? sa[j - pad] : 0L;
            out[2 * rank + j] = real ? sb[j - pad] : 0L;
        }
        return out;
    }
}
