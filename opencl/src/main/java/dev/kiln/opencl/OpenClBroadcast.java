package dev.kiln.opencl;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.util.ArrayList;
import java.util.List;

/**
 * Binary ops with general numpy broadcasting, forward and backward (broadcast.cl); listed after the
 * same-shape kernels, which are cheaper when no operand is broadcast. The host folds the shapes first:
 * size-1 result dimensions are dropped and neighbours that both operands walk contiguously (or both skip)
 * are merged, so e.g. [8,33,65] with [33,1] becomes a 3D problem and [2,1,3] with [2,5,3] a 3D one. Up to
 * {@value #RANK} folded dimensions are supported; more is declined with the folded shape. The backward pass
 * gives each gradient element one work-item that sums over its broadcast dimensions: deterministic.
 */
final class OpenClBroadcast implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("broadcast.cl");
    static final int RANK = 6;

    private final OpenClDevice device;

    OpenClBroadcast(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-binary-broadcast"; }

    @Override public OpKind kind() { return OpKind.BINARY; }

    /** The folded problem: result dimensions and each operand's element strides along them (0 = broadcast). */
    record Folded(int[] dims, long[] sa, long[] sb) {
        Object[] args() {
            Object[] out = new Object[3 * RANK];
            int pad = RANK - dims.length;
            for (int j = 0; j < RANK; j++) {
                boolean real = j >= pad;
                out[j] = real ? dims[j - pad] : 1;
                out[RANK + j] = real ? sa[j - pad] : 0L;
                out[2 * RANK + j] = real ? sb[j - pad] : 0L;
            }
            return out;
        }
    }

    static Folded fold(BinaryDesc d) {
        Shape out = d.out();
        int rank = out.rank();
        long[] sa = strides(d.a(), rank), sb = strides(d.b(), rank);
        if (out.count() == 0) return new Folded(out.dims(), sa, sb); // nothing to merge safely; only zeros get written
        List<int[]> dims = new ArrayList<>();
        List<long[]> strides = new ArrayList<>();
        for (int j = 0; j < rank; j++) {
            int dj = out.dim(j);
            if (dj == 1) continue;
            if (!dims.isEmpty()) {
                int last = dims.size() - 1;
                long[] prev = strides.get(last);
                // Merge into the previous dimension when each operand steps over this one exactly as a row of it.
                if (prev[0] == sa[j] * dj && prev[1] == sb[j] * dj) {
                    dims.set(last, new int[] {Math.multiplyExact(dims.get(last)[0], dj)});
                    strides.set(last, new long[] {sa[j], sb[j]});
                    continue;
                }
            }
            dims.add(new int[] {dj});
            strides.add(new long[] {sa[j], sb[j]});
        }
        int n = dims.size();
        int[] fd = new int[n];
        long[] fa = new long[n], fb = new long[n];
        for (int j = 0; j < n; j++) {
            fd[j] = dims.get(j)[0];
            fa[j] = strides.get(j)[0];
            fb[j] = strides.get(j)[1];
        }
        return new Folded(fd, fa, fb);
    }

    /** Row-major strides of {@code s} aligned right against {@code rank} dimensions; 0 where broadcast. */
    private static long[] strides(Shape s, int rank) {
        long[] st = new long[rank];
        long step = 1;
        for (int i = s.rank() - 1; i >= 0; i--) {
            st[rank - s.rank() + i] = s.dim(i) == 1 ? 0 : step;
            step *= s.dim(i);
        }
        return st;
    }

    @Override public Support supports(OpDesc desc) {
        if (!(desc instanceof BinaryDesc d)) return Support.no("not a binary op");
        Folded f;
        try {
            f = fold(d);
        } catch (ArithmeticException e) {
            return Support.no("opencl: a merged dimension of " + d.a() + " and " + d.b() + " exceeds 2^31-1");
        }
        if (f.dims().length > RANK)
            return Support.no("opencl: broadcasting " + d.a() + " with " + d.b() + " needs " + f.dims().length
                    + " dimensions after merging; the kernel takes at most " + RANK);
        return Support.YES;
    }

    @Override public Plan plan(OpDesc desc) {
        BinaryDesc d = (BinaryDesc) desc;
        Object[] geom = fold(d).args();
        boolean fwd = d.pass() == Pass.FORWARD;
        int op = d.op().ordinal();
        ClKernel kernel = ClPlan.kernels(device, "broadcast.cl", SOURCE, fwd ? "broadcast_fwd" : "broadcast_bwd").getFirst();
        long countOut = d.out().count(), countA = d.a().count(), countB = d.b().count();
        long[][] lo, la, lb;
        try {
            lo = ClPlan.linear(kernel, Math.max(1, countOut), 64);
            la = ClPlan.linear(kernel, Math.max(1, countA), 64);
            lb = ClPlan.linear(kernel, Math.max(1, countB), 64);
        } catch (RuntimeException e) {
            kernel.close();
            throw e;
        }
        return new ClPlan(d, name(), kernel, (k, stream, args) -> {
            OpenClBuffer a = ClPlan.buf(k, args, Arg.SRC), b = ClPlan.buf(k, args, Arg.SRC2);
            if (fwd) {
                if (countOut > 0) k.launch(stream, lo[0], lo[1], cat(new Object[] {a, b, ClPlan.buf(k, args, Arg.DST), countOut, op}, geom));
                return;
            }
            OpenClBuffer dy = ClPlan.buf(k, args, Arg.DIFF_DST);
            if (countA > 0) k.launch(stream, la[0], la[1], cat(new Object[] {a, b, dy, ClPlan.buf(k, args, Arg.DIFF_SRC), countA, op, 0}, geom));
            if (countB > 0) k.launch(stream, lb[0], lb[1], cat(new Object[] {a, b, dy, ClPlan.buf(k, args, Arg.DIFF_SRC2), countB, op, 1}, geom));
        });
    }

    private static Object[] cat(Object[] head, Object[] tail) {
        Object[] out = new Object[head.length + tail.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(tail, 0, out, head.length, tail.length);
        return out;
    }
}
