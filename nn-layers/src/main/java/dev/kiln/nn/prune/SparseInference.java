package dev.kiln.nn.prune;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.DsmmDesc;
import dev.kiln.kernels.desc.SpmmDesc;
import dev.kiln.kernels.sparse.CsrMatrix;
import dev.kiln.kernels.sparse.TwoFourMatrix;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.nn.Devices;
import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Ops;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Conv2d;
import dev.kiln.nn.layers.Layer;
import dev.kiln.nn.layers.Linear;
import dev.kiln.nn.layers.Parameter;
import dev.kiln.nn.layers.Sequential;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Inference of a pruned {@link Sequential} with its pruned layers on sparse kernels ({@link SpmmDesc}
 * through {@link Kernels#execute}, so dispatch picks the fastest SpMM the backends offer, the reference
 * last). Each pruned weight is stored once, at construction, in CSR (or in the 2:4 format where the
 * pruner kept exactly two of every four), on the current device; the other layers run as they are.
 * <ul>
 * <li>Linear, y = x W^T + b: with W in CSR, the dense-times-sparse-transposed product ({@link DsmmDesc}) gives
 *     y directly; with W in 2:4, C = W x^T is a sparse (out x in) times dense (in x batch) product, so x is
 *     transposed on the way in and C on the way out.</li>
 * <li>Conv2d (groups 1), as im2col: the weight is the sparse matrix K x C*R*S, the columns of a chunk of
 *     images are the dense C*R*S x (images*P*Q) operand, and C (K x images*P*Q) is rearranged to NCHW.</li>
 * </ul>
 * The transposes and the im2col run on the host (copies from and to the device), which is free on the CPU
 * backend and costs a round trip elsewhere. The weights are snapshotted: build a new instance after
 * training further.
 */
public final class SparseInference implements AutoCloseable {
    /** Images per im2col chunk: bounds the column matrix (C*R*S x chunk*P*Q floats) at a few tens of MB. */
    static final int CONV_CHUNK = 32;

    private interface Step extends AutoCloseable {
        Tensor forward(Tensor x);

        String describe();

        @Override default void close() {}
    }

    /**
     * The sparsity from which {@code kiln train --prune} runs a CSR layer on sparse kernels: the break-even
     * target for CSR against our dense GEMM. Below it the layer's dense kernels are the faster choice. Layers in
     * the 2:4 format (50% by construction) always run sparse: that format exists to beat dense at 50%.
     */
    public static final double DEFAULT_MIN_SPARSITY = 0.7;

    private final List<Step> steps = new ArrayList<>();
    private long[] nanos = new long[0];

    private SparseInference() {}

    /** Builds sparse steps for every layer of {@code model} whose weight {@code pruner} prunes. */
    public static SparseInference of(Sequential model, Pruner pruner) { return of(model, pruner, 0); }

    /**
     * Builds sparse steps for the layers of {@code model} whose weights {@code pruner} prunes to the 2:4 pattern
     * or to at least {@code minSparsity} (fraction of the mask that is zero); the others run dense.
     */
    public static SparseInference of(Sequential model, Pruner pruner, double minSparsity) {
        SparseInference s = new SparseInference();
        List<Parameter> targets = pruner.targets();
        try {
            for (Layer layer : model.layers()) {
                int t = layer.parameters().isEmpty() ? -1 : indexOf(targets, layer.parameters().getFirst().tensor());
                String name = t >= 0 ? targets.get(t).name() : null;
                double sparsity = t >= 0 ? maskSparsity(pruner.kept(t)) : 0;
                boolean twoFour = t >= 0 && pruner.twoFour(t) && atMostTwoOfFour(pruner.kept(t));
                if (t >= 0 && sparsity < minSparsity && !twoFour)
                    s.steps.add(new Dense(layer, String.format(Locale.ROOT, "%s: dense (%.1f%% zero, below %.0f%%)", name, 100 * sparsity, 100 * minSparsity)));
                else if (t >= 0 && layer instanceof Linear) s.steps.add(new SparseLinear(layer, name, sparse(pruner, t)));
                else if (t >= 0 && layer instanceof Conv2d c && c.groups() == 1) s.steps.add(new SparseConv(c, name, sparse(pruner, t)));
                else s.steps.add(new Dense(layer, t >= 0 ? name + ": dense (grouped convolution)" : null));
            }
            s.nanos = new long[s.steps.size()];
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    private static int indexOf(List<Parameter> targets, Tensor weight) {
        for (int i = 0; i < targets.size(); i++) if (targets.get(i).tensor() == weight) return i;
        return -1;
    }

    /** Runs the model on {@code x} without gradients, the pruned layers on sparse kernels. */
    public Tensor forward(Tensor x) {
        try (NoGrad ignored = NoGrad.enter()) {
            for (int i = 0; i < steps.size(); i++) {
                long t0 = System.nanoTime();
                x = steps.get(i).forward(x);
                nanos[i] += System.nanoTime() - t0;
            }
            return x;
        }
    }

    /** Seconds spent in each layer of the model (by index) over all {@link #forward} calls so far. */
    public double[] layerSeconds() {
        double[] out = new double[nanos.length];
        for (int i = 0; i < out.length; i++) out[i] = nanos[i] / 1e9;
        return out;
    }

    private static double maskSparsity(boolean[] kept) {
        long zeros = 0;
        for (boolean k : kept) if (!k) zeros++;
        return kept.length == 0 ? 0 : (double) zeros / kept.length;
    }

    /** One line per pruned layer: how it runs ({@code 7.weight: csr 128x3136, 20071 stored values (95.0% zero)}). */
    public List<String> describe() {
        List<String> out = new ArrayList<>();
        for (Step s : steps) if (s.describe() != null) out.add(s.describe());
        return out;
    }

    /** How layer {@code i} of the model runs, as in {@link #describe()}; null for layers without a pruned weight. */
    public String describe(int i) { return steps.get(i).describe(); }

    @Override public void close() {
        for (Step s : steps) s.close();
        steps.clear();
    }

    // ---- the sparse weight on the device ----

    /** A pruned weight as rows x cols sparse matrix on the device, in CSR or 2:4. */
    private record SparseWeight(SpmmDesc.SparseFormat format, int rows, int cols, int nnz, DeviceBuffer rowPtr, DeviceBuffer colIdx,
                                DeviceBuffer values, DeviceBuffer meta) implements AutoCloseable {
        SpmmDesc desc(int n) {
            return format == SpmmDesc.SparseFormat.TWO_FOUR ? SpmmDesc.twoFour(rows, n, cols) : SpmmDesc.csr(rows, n, cols, nnz);
        }

        /** C (rows x n) = this x B (cols x n). */
        void multiply(Tensor b, Tensor c, int n) {
            Args a = format == SpmmDesc.SparseFormat.TWO_FOUR ? Args.of(Arg.VALUES, values, Arg.META, meta)
                    : Args.of(Arg.ROW_PTR, rowPtr, Arg.COL_IDX, colIdx, Arg.VALUES, values);
            Kernels.execute(desc(n), a.put(Arg.B, b.buffer()).put(Arg.C, c.buffer()));
        }

        /** C (m x rows) = A (m x cols) x this^T; CSR only. */
        void multiplyTransposed(Tensor a, Tensor c, int m) {
            Kernels.execute(DsmmDesc.timesTransposed(m, rows, cols, nnz),
                    Args.of(Arg.A, a.buffer(), Arg.ROW_PTR, rowPtr, Arg.COL_IDX, colIdx, Arg.VALUES, values).put(Arg.C, c.buffer()));
        }

        String describe(String name) {
            return String.format(Locale.ROOT, "%s: %s %dx%d, %d stored values (%.1f%% zero)", name, format.lower(), rows, cols, nnz,
                    100.0 * (1 - (double) nnz / ((long) rows * cols)));
        }

        @Override public void close() {
            for (DeviceBuffer b : new DeviceBuffer[] {rowPtr, colIdx, values, meta}) if (b != null) b.close();
        }
    }

    private static SparseWeight sparse(Pruner pruner, int t) {
        Tensor w = pruner.targets().get(t).tensor();
        int rows = w.dim(0), cols = Math.toIntExact(w.count() / rows);
        float[] dense = w.toArray();
        boolean[] keep = pruner.kept(t);
        Device device = Devices.current();
        if (pruner.twoFour(t) && atMostTwoOfFour(keep)) {
            TwoFourMatrix m = TwoFourMatrix.fromDense(dense, rows, cols, keep);
            DeviceBuffer values = upload(device, m.values()), meta = device.allocate(DType.U8, m.meta().length);
            meta.copyFrom(m.meta());
            return new SparseWeight(SpmmDesc.SparseFormat.TWO_FOUR, rows, cols, m.values().length, null, null, values, meta);
        }
        CsrMatrix m = CsrMatrix.fromDense(dense, rows, cols, keep);
        DeviceBuffer rowPtr = device.allocate(DType.S32, rows + 1L), colIdx = device.allocate(DType.S32, Math.max(1, m.nnz()));
        rowPtr.copyFrom(m.rowPtr());
        if (m.nnz() > 0) colIdx.copyFrom(m.colIdx(), 0, 0, m.nnz());
        return new SparseWeight(SpmmDesc.SparseFormat.CSR, rows, cols, m.nnz(), rowPtr, colIdx, upload(device, m.values()), null);
    }

    /** Whether every group of four keeps at most two (not yet so while a gradual 2:4 schedule is under way: CSR then). */
    static boolean atMostTwoOfFour(boolean[] keep) {
        for (int g = 0; g + 4 <= keep.length; g += 4) {
            int count = 0;
            for (int j = 0; j < 4; j++) if (keep[g + j]) count++;
            if (count > 2) return false;
        }
        return true;
    }

    private static DeviceBuffer upload(Device device, float[] v) {
        DeviceBuffer b = device.allocate(DType.F32, Math.max(1, v.length));
        if (v.length > 0) b.copyFrom(v, 0, 0, v.length);
        return b;
    }

    // ---- the steps ----

    private record Dense(Layer layer, String description) implements Step {
        @Override public Tensor forward(Tensor x) { return layer.forward(x); }

        @Override public String describe() { return description; }
    }

    private record SparseLinear(Layer layer, String name, SparseWeight weight) implements Step {
        @Override public Tensor forward(Tensor x) {
            int batch = x.dim(0), in = weight.cols(), out = weight.rows();
            if (x.rank() != 2 || x.dim(1) != in)
                throw new IllegalArgumentException("sparse linear " + name + ": input of shape " + java.util.Arrays.toString(x.shape())
                        + ", expected [batch, " + in + "]");
            Tensor y;
            if (weight.format() == SpmmDesc.SparseFormat.CSR) {
                y = Tensor.empty(batch, out);
                weight.multiplyTransposed(x, y, batch);
            } else {
                Tensor xt = Tensor.of(transpose(x.toArray(), batch, in), in, batch);
                Tensor c = Tensor.empty(out, batch);
                weight.multiply(xt, c, batch);
                y = Tensor.of(transpose(c.toArray(), out, batch), batch, out);
            }
            return Ops.add(y, layer.parameters().get(1).tensor());
        }

        @Override public String describe() { return weight.describe(name); }

        @Override public void close() { weight.close(); }
    }

    private record SparseConv(Conv2d conv, String name, SparseWeight weight) implements Step {
        @Override public Tensor forward(Tensor x) {
            int[] ws = conv.parameters().getFirst().tensor().shape();
            int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), k = ws[0], r = ws[2], s = ws[3];
            if (x.rank() != 4 || c != ws[1])
                throw new IllegalArgumentException("sparse conv2d " + name + ": input of shape " + java.util.Arrays.toString(x.shape())
                        + ", expected [batch, " + ws[1] + ", height, width]");
            int st = conv.stride(), pad = conv.pad(), dil = conv.dilation();
            int p = (h + 2 * pad - dil * (r - 1) - 1) / st + 1, q = (w + 2 * pad - dil * (s - 1) - 1) / st + 1, pq = p * q;
            float[] in = x.toArray(), bias = conv.parameters().get(1).tensor().toArray(), out = new float[n * k * pq];
            int crs = c * r * s;
            for (int first = 0; first < n; first += CONV_CHUNK) {
                int images = Math.min(CONV_CHUNK, n - first), cols = images * pq;
                float[] columns = new float[crs * cols];
                for (int img = 0; img < images; img++)
                    im2col(in, (first + img) * c * h * w, c, h, w, r, s, st, pad, dil, p, q, columns, cols, img * pq);
                Tensor b = Tensor.of(columns, crs, cols), prod = Tensor.empty(k, cols);
                weight.multiply(b, prod, cols);
                float[] y = prod.toArray();
                b.close();
                prod.close();
                for (int img = 0; img < images; img++)
                    for (int ch = 0; ch < k; ch++) {
                        int dst = ((first + img) * k + ch) * pq, src = ch * cols + img * pq;
                        for (int i = 0; i < pq; i++) out[dst + i] = y[src + i] + bias[ch];
                    }
            }
            return Tensor.of(out, n, k, p, q);
        }

        @Override public String describe() { return weight.describe(name); }

        @Override public void close() { weight.close(); }
    }

    /**
     * Writes one image's columns into {@code dst} (row (ch*R + i)*S + j, columns {@code col0 .. col0+P*Q} of
     * {@code width}): the input pixel each kernel tap sees at each output position, 0 in the padding.
     */
    static void im2col(float[] x, int base, int c, int h, int w, int r, int s, int stride, int pad, int dil, int p, int q,
                       float[] dst, int width, int col0) {
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < r; i++)
                for (int j = 0; j < s; j++) {
                    int row = ((ch * r + i) * s + j) * width + col0;
                    for (int op = 0; op < p; op++) {
                        int y = op * stride - pad + i * dil;
                        int o = row + op * q;
                        if (y < 0 || y >= h) {
                            java.util.Arrays.fill(dst, o, o + q, 0f);
                            continue;
                        }
                        int src = base + (ch * h + y) * w;
                        for (int oq = 0; oq < q; oq++) {
                            int xx = oq * stride - pad + j * dil;
                            dst[o + oq] = xx >= 0 && xx < w ? x[src + xx] : 0f;
                        }
                    }
                }
    }

    static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
        return t;
    }
}
