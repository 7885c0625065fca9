package dev.kiln.cuda;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.DsmmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.SddmmDesc;
import dev.kiln.kernels.desc.SpmmDesc;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.HostBuffer;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * A plain CPU model of sparse.cu: each kernel's index math, thread mapping and summation order, run over the
 * whole grid of a {@link CudaSparseLaunch} with its arguments taken by position, as the GPU takes them. Reads
 * are bounds-checked (an out-of-range index would be an out-of-bounds access on the device), every output
 * element must be written exactly once (one owner), and dsmm_n's shared tile fails on any cell touched by two
 * threads between barriers (a race). Sums use {@link Math#fma(float, float, float)} in the kernels' order and
 * the warp reductions follow the butterfly lane by lane, so on a GPU the kernels must match the model bit for
 * bit ({@code CudaSparseDeviceTest}).
 */
final class CudaSparseModel {
    private CudaSparseModel() {}

    /** An output operand: its values (poisoned with NaN) and how often each element was written. */
    static final class Out {
        final float[] data;
        final int[] writes;

        Out(int count) {
            data = new float[count];
            Arrays.fill(data, Float.NaN);
            writes = new int[count];
        }

        void write(long i, float v) {
            if (i < 0 || i >= data.length) fail("write of element " + i + " outside an output of " + data.length);
            if (++writes[(int) i] > 1) fail("element " + i + " written twice: it has more than one owner");
            data[(int) i] = v;
        }

        /** Fails unless every element was written exactly once. */
        void assertOwned(String what) {
            for (int i = 0; i < writes.length; i++)
                if (writes[i] != 1) fail(what + ": element " + i + " written " + writes[i] + " times");
        }
    }

    /** Random valid operands of {@code d}: sorted CSR / BSR structures or 2:4 metadata, values in [-1, 1). */
    static Map<Arg, Object> operands(OpDesc d, SplittableRandom rnd) {
        Map<Arg, Object> in = new EnumMap<>(Arg.class);
        for (ArgSpec spec : d.args()) {
            if (spec.access().writes()) continue;
            int count = Math.toIntExact(spec.count());
            in.put(spec.arg(), switch (spec.dtype()) {
                case F32 -> { float[] a = new float[count]; for (int i = 0; i < count; i++) a[i] = (float) rnd.nextDouble(-1, 1); yield a; }
                case S32 -> new int[count];
                case U8 -> new byte[count];
                default -> throw new IllegalArgumentException(spec.toString());
            });
        }
        switch (d) {
            case SpmmDesc s -> {
                switch (s.format()) {
                    case CSR -> structure(s.m(), s.k(), s.nnz(), in, rnd);
                    case BSR -> structure(s.m() / s.blockRows(), s.k() / s.blockCols(), s.nnz(), in, rnd);
                    case TWO_FOUR -> {
                        byte[] meta = (byte[]) in.get(Arg.META);
                        for (long e = 0; e < (long) s.m() * s.k() / 2; e += 2) {   // two ascending distinct positions per group
                            int first = rnd.nextInt(3), second = first + 1 + rnd.nextInt(3 - first);
                            meta[(int) (e >> 2)] |= (byte) (first << (2 * (e & 3)) | second << (2 * ((e + 1) & 3)));
                        }
                    }
                }
            }
            case DsmmDesc s -> structure(s.sparseRows(), s.sparseCols(), s.nnz(), in, rnd);
            case SddmmDesc s -> structure(s.m(), s.n(), s.nnz(), in, rnd);
            default -> throw new IllegalArgumentException(d.opName());
        }
        return in;
    }

    /** ROW_PTR and COL_IDX with exactly nnz entries among rows x cols, columns ascending (selection sampling). */
    private static void structure(int rows, int cols, int nnz, Map<Arg, Object> in, SplittableRandom rnd) {
        int[] rowPtr = (int[]) in.get(Arg.ROW_PTR), colIdx = (int[]) in.get(Arg.COL_IDX);
        long total = (long) rows * cols, needed = nnz;
        int e = 0;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++)
                if (needed > 0 && rnd.nextLong(total - ((long) r * cols + c)) < needed) {
                    colIdx[e++] = c;
                    needed--;
                }
            rowPtr[r + 1] = e;
        }
    }

    /** The reference's output of {@code d} on {@code in} (the one written operand). */
    static float[] reference(OpDesc d, Map<Arg, Object> in) {
        Args args = Args.of();
        float[] out = null;
        for (ArgSpec spec : d.args()) {
            if (spec.access().writes()) {
                out = new float[Math.toIntExact(spec.count())];
                args.put(spec.arg(), HostBuffer.wrap(out));
            } else {
                args.put(spec.arg(), switch (in.get(spec.arg())) {
                    case float[] a -> HostBuffer.wrap(a);
                    case int[] a -> HostBuffer.wrap(a);
                    case byte[] a -> HostBuffer.wrap(a, DType.U8);
                    default -> throw new IllegalArgumentException(spec.toString());
                });
            }
        }
        RefKernels.run(d, args);
        return out;
    }

    /** Runs {@code launch} on {@code in} and {@code out} (bound to the launch's one output operand). */
    static void run(CudaSparseLaunch launch, Map<Arg, Object> in, Arg outArg, Out out) {
        List<Object> a = launch.args();
        Object[] p = new Object[a.size()];
        for (int i = 0; i < p.length; i++) p[i] = a.get(i) instanceof Arg arg ? (arg == outArg ? out : in.get(arg)) : a.get(i);
        for (int bx = 0; bx < launch.gridX(); bx++)
            for (int by = 0; by < launch.gridY(); by++) {
                Grid g = new Grid(bx, by, launch.gridX(), launch.gridY(), launch.threads());
                switch (launch.entry()) {
                    case CudaSparseLaunch.SPMM_CSR, CudaSparseLaunch.SPMM_BSR, CudaSparseLaunch.SPMM_24 -> spmm(launch.entry(), g, p);
                    case CudaSparseLaunch.SPMV_CSR_WARP -> spmvWarp(g, (int[]) p[0], (int[]) p[1], (float[]) p[2], (float[]) p[3], (Out) p[4], (int) p[5]);
                    case CudaSparseLaunch.DSMM_T -> dsmmT(g, (float[]) p[0], (int[]) p[1], (int[]) p[2], (float[]) p[3], (Out) p[4],
                            (int) p[5], (int) p[6], (int) p[7]);
                    case CudaSparseLaunch.DSMM_N -> dsmmN(g, (float[]) p[0], (int[]) p[1], (int[]) p[2], (float[]) p[3], (Out) p[4],
                            (int) p[5], (int) p[6], (int) p[7], (int) p[8], (int) p[9]);
                    case CudaSparseLaunch.SDDMM_THREAD -> sddmmThread(g, (float[]) p[0], (float[]) p[1], (int[]) p[2], (int[]) p[3], (Out) p[4],
                            (int) p[5], (int) p[6], (int) p[7], (int) p[8], (int) p[9], (int) p[10], (int) p[11]);
                    case CudaSparseLaunch.SDDMM_WARP -> sddmmWarp(g, (float[]) p[0], (float[]) p[1], (int[]) p[2], (int[]) p[3], (Out) p[4],
                            (int) p[5], (int) p[6], (int) p[7]);
                    default -> fail("no model of " + launch.entry());
                }
            }
    }

    /** One block's coordinates and the launch shape (blockIdx, gridDim, blockDim). */
    private record Grid(int bx, int by, int gx, int gy, int threads) {}

    private static float f(float[] a, long i) {
        if (i < 0 || i >= a.length) fail("read of element " + i + " outside an f32 operand of " + a.length);
        return a[(int) i];
    }

    private static int s(int[] a, long i) {
        if (i < 0 || i >= a.length) fail("read of element " + i + " outside an s32 operand of " + a.length);
        return a[(int) i];
    }

    private static int u8(byte[] a, long i) {
        if (i < 0 || i >= a.length) fail("read of byte " + i + " outside a u8 operand of " + a.length);
        return a[(int) i] & 0xFF;
    }

    /** ColTile of sparse.cu: the SPMM_COLS outputs of thread {@code t} in one row. */
    private static final class ColTile {
        final float[] acc = new float[CudaSparseLaunch.SPMM_COLS];
        final int j0, lanes, n;

        ColTile(Grid g, int t, int lanes, int n) {
            this.lanes = lanes;
            this.n = n;
            j0 = g.bx() * lanes * CudaSparseLaunch.SPMM_COLS + (t & (lanes - 1));
        }

        void add(float v, float[] b, long bRow) {
            for (int q = 0; q < acc.length; q++) {
                int j = j0 + q * lanes;
                if (j < n) acc[q] = Math.fma(v, f(b, bRow + j), acc[q]);
            }
        }

        void store(Out c, long cRow) {
            for (int q = 0; q < acc.length; q++) {
                int j = j0 + q * lanes;
                if (j < n) c.write(cRow + j, acc[q]);
            }
        }
    }

    private static void spmm(String entry, Grid g, Object[] p) {
        boolean twoFour = entry.equals(CudaSparseLaunch.SPMM_24);
        int base = twoFour ? 4 : 5;   // m, n, (k), lanes follow the pointers
        int m = (int) p[base], n = (int) p[base + 1], lanes = (int) p[twoFour ? base + 3 : base + 2];
        float[] b = (float[]) p[twoFour ? 2 : 3];
        Out c = (Out) p[twoFour ? 3 : 4];
        int rowsPerBlock = g.threads() / lanes;
        for (int t = 0; t < g.threads(); t++)
            for (int row = g.by() * rowsPerBlock + t / lanes; row < m; row += g.gy() * rowsPerBlock) {
                ColTile tile = new ColTile(g, t, lanes, n);
                switch (entry) {
                    case CudaSparseLaunch.SPMM_CSR -> {
                        int[] rowPtr = (int[]) p[0], colIdx = (int[]) p[1];
                        float[] values = (float[]) p[2];
                        for (int e = s(rowPtr, row), end = s(rowPtr, row + 1); e < end; e++)
                            tile.add(f(values, e), b, (long) s(colIdx, e) * n);
                    }
                    case CudaSparseLaunch.SPMM_BSR -> {
                        int[] rowPtr = (int[]) p[0], colIdx = (int[]) p[1];
                        float[] values = (float[]) p[2];
                        int br = (int) p[8], bc = (int) p[9], blockRow = row / br, i = row - blockRow * br;
                        for (int e = s(rowPtr, blockRow), end = s(rowPtr, blockRow + 1); e < end; e++) {
                            long v = ((long) e * br + i) * bc, bBlock = (long) s(colIdx, e) * bc * n;
                            for (int x = 0; x < bc; x++) tile.add(f(values, v + x), b, bBlock + (long) x * n);
                        }
                    }
                    default -> {
                        float[] values = (float[]) p[0];
                        byte[] meta = (byte[]) p[1];
                        int perRow = (int) p[6] / 2;
                        for (int kept = 0; kept < perRow; kept++) {
                            long e = (long) row * perRow + kept;
                            int pos = (u8(meta, e >> 2) >> (2 * (int) (e & 3))) & 3;
                            tile.add(f(values, e), b, (long) ((kept >> 1) * 4 + pos) * n);
                        }
                    }
                }
                tile.store(c, (long) row * n);
            }
    }

    /** warp_sum of sparse.cu: each step, lane l adds lane l ^ offset's value; lane 0's result. */
    private static float warpSum(float[] lanes) {
        float[] v = lanes.clone();
        for (int offset = 16; offset > 0; offset >>= 1) {
            float[] next = new float[32];
            for (int l = 0; l < 32; l++) next[l] = v[l] + v[l ^ offset];
            v = next;
        }
        return v[0];
    }

    private static void spmvWarp(Grid g, int[] rowPtr, int[] colIdx, float[] values, float[] x, Out y, int m) {
        int warps = g.threads() >> 5;
        for (int w = 0; w < warps; w++)
            for (int row = g.bx() * warps + w; row < m; row += g.gx() * warps) {
                float[] s = new float[32];
                for (int lane = 0; lane < 32; lane++)
                    for (int e = s(rowPtr, row) + lane, end = s(rowPtr, row + 1); e < end; e += 32)
                        s[lane] = Math.fma(f(values, e), f(x, s(colIdx, e)), s[lane]);
                y.write(row, warpSum(s));
            }
    }

    private static void dsmmT(Grid g, float[] a, int[] rowPtr, int[] colIdx, float[] values, Out c, int m, int n, int k) {
        int rowsPer = CudaSparseLaunch.DSMM_T_ROWS;
        for (int t = 0; t < g.threads(); t++) {
            int j = g.bx() * g.threads() + t;
            if (j >= n) continue;
            int start = s(rowPtr, j), end = s(rowPtr, j + 1);
            for (int i0 = g.by() * rowsPer; i0 < m; i0 += g.gy() * rowsPer) {
                int rows = Math.min(rowsPer, m - i0);
                float[] acc = new float[rowsPer];
                for (int e = start; e < end; e++) {
                    float v = f(values, e);
                    int col = s(colIdx, e);
                    for (int r = 0; r < rows; r++) acc[r] = Math.fma(f(a, (long) (i0 + r) * k + col), v, acc[r]);
                }
                for (int r = 0; r < rows; r++) c.write((long) (i0 + r) * n + j, acc[r]);
            }
        }
    }

    /** dsmm_n's shared accumulator tile: a cell touched by two threads between two barriers is a race. */
    private static final class SharedTile {
        final float[] acc = new float[CudaSparseLaunch.DSMM_N_ROWS * CudaSparseLaunch.DSMM_N_COLS];
        final int[] owner = new int[acc.length], ownerPhase = new int[acc.length];
        int phase = 1;

        private void touch(int t, int cell) {
            if (cell < 0 || cell >= acc.length) fail("shared cell " + cell + " outside the tile of " + acc.length);
            if (ownerPhase[cell] == phase && owner[cell] != t)
                fail("race on shared cell " + cell + ": threads " + owner[cell] + " and " + t + " between two barriers");
            ownerPhase[cell] = phase;
            owner[cell] = t;
        }

        float read(int t, int cell) { touch(t, cell); return acc[cell]; }

        void write(int t, int cell, float v) { touch(t, cell); acc[cell] = v; }

        void barrier() { phase++; }
    }

    private static int lowerBound(int[] idx, int lo, int hi, int key) {
        while (lo < hi) {
            int mid = lo + ((hi - lo) >> 1);
            if (s(idx, mid) < key) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private static void dsmmN(Grid g, float[] a, int[] rowPtr, int[] colIdx, float[] values, Out c, int m, int n, int k,
                              int rowsPerBlock, int tileCols) {
        final int chunkMax = CudaSparseLaunch.DSMM_N_CHUNK;
        if (g.threads() < chunkMax) fail("dsmm_n needs blockDim.x >= DSMM_N_CHUNK");
        if ((long) rowsPerBlock * tileCols > CudaSparseLaunch.DSMM_N_ROWS * CudaSparseLaunch.DSMM_N_COLS) fail("dsmm_n tile too large");
        SharedTile sh = new SharedTile();
        int[] spanStart = new int[chunkMax], spanEnd = new int[chunkMax];
        int c0 = g.bx() * tileCols, cols = Math.min(tileCols, n - c0);
        boolean wholeRows = tileCols >= n;
        for (int i0 = g.by() * rowsPerBlock; i0 < m; i0 += g.gy() * rowsPerBlock) {
            int rows = Math.min(rowsPerBlock, m - i0), cells = rows * cols;
            for (int t = 0; t < g.threads(); t++)
                for (int cell = t; cell < cells; cell += g.threads()) sh.write(t, cell, 0f);
            for (int r0 = 0; r0 < k; r0 += chunkMax) {
                int chunk = Math.min(chunkMax, k - r0);
                for (int t = 0; t < chunk; t++) {
                    int r = r0 + t, lo = s(rowPtr, r), hi = s(rowPtr, r + 1);
                    if (!wholeRows) {
                        lo = lowerBound(colIdx, lo, hi, c0);
                        hi = lowerBound(colIdx, lo, hi, c0 + cols);
                    }
                    spanStart[t] = lo;
                    spanEnd[t] = hi;
                }
                sh.barrier();
                for (int q = 0; q < chunk; q++) {
                    int lo = spanStart[q], hi = spanEnd[q];
                    if (lo == hi) continue;
                    long ar = (long) i0 * k + r0 + q;
                    for (int t = 0; t < g.threads(); t++)
                        for (int e = lo + t; e < hi; e += g.threads()) {
                            int at = s(colIdx, e) - c0;
                            if (Integer.compareUnsigned(at, cols) >= 0) continue;
                            float v = f(values, e);
                            for (int i = 0; i < rows; i++)
                                sh.write(t, i * cols + at, Math.fma(f(a, ar + (long) i * k), v, sh.read(t, i * cols + at)));
                        }
                    sh.barrier();
                }
                sh.barrier();
            }
            for (int t = 0; t < g.threads(); t++)
                for (int cell = t; cell < cells; cell += g.threads()) {
                    int i = cell / cols;
                    c.write((long) (i0 + i) * n + c0 + (cell - i * cols), sh.read(t, cell));
                }
            sh.barrier();
        }
    }

    private static int rowOf(int[] rowPtr, int m, int e) {
        int lo = 0, hi = m;
        while (hi - lo > 1) {
            int mid = lo + ((hi - lo) >> 1);
            if (s(rowPtr, mid) <= e) lo = mid;
            else hi = mid;
        }
        return lo;
    }

    private static void sddmmThread(Grid g, float[] a, float[] b, int[] rowPtr, int[] colIdx, Out values, int m, int k, int nnz,
                                    int aRow, int aStep, int bRow, int bStep) {
        for (int t = 0; t < g.threads(); t++)
            for (int e = g.bx() * g.threads() + t; e < nnz; e += g.gx() * g.threads()) {
                long ap = (long) rowOf(rowPtr, m, e) * aRow, bp = (long) s(colIdx, e) * bRow;
                float sum = 0f;
                for (int p = 0; p < k; p++) sum = Math.fma(f(a, ap + (long) p * aStep), f(b, bp + (long) p * bStep), sum);
                values.write(e, sum);
            }
    }

    private static void sddmmWarp(Grid g, float[] a, float[] b, int[] rowPtr, int[] colIdx, Out values, int m, int k, int nnz) {
        int warps = g.threads() >> 5;
        for (int w = 0; w < warps; w++)
            for (int e = g.bx() * warps + w; e < nnz; e += g.gx() * warps) {
                long ap = (long) rowOf(rowPtr, m, e) * k, bp = (long) s(colIdx, e) * k;
                float[] lanes = new float[32];
                for (int lane = 0; lane < 32; lane++)
                    for (int p = lane; p < k; p += 32) lanes[lane] = Math.fma(f(a, ap + p), f(b, bp + p), lanes[lane]);
                values.write(e, warpSum(lanes));
            }
    }
}
