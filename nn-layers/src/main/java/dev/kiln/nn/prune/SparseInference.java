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
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.nn.Devices;
import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Ops;
import dev.kiln.nn.Scope;
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
 *     transposed on the way in and C on the way out (blocked transposes).</li>
 * <li>Conv2d (groups 1), as im2col: the weight is the sparse matrix K x C*R*S, the columns of a chunk of
 *     images are the dense C*R*S x (images*P*Q) operand, and C (K x images*P*Q) is rearranged to NCHW. At
 *     stride 1 the columns are laid out on the padded input's grid ({@link #paddedIm2col}: one copy per row of
 *     the column matrix). Columns and product are host arrays, which the CPU kernels use in place.</li>
 * </ul>
 * Whether a pruned layer runs sparse is decided per layer. {@link #calibrated} times the dense layer and its
 * sparse kernels on the real shapes when the model is built and keeps the faster (dense unless the sparse
 * kernels win by {@link #SPARSE_MARGIN}), so the pruned model is never slower than the dense one by more than
 * the noise of that trial; {@link #of(Sequential, Pruner, double)} decides by sparsity alone. The choices and
 * their figures are {@link #choices()}. The transposes and the im2col run on the host (copies from and to the
 * device), which is free on the CPU backend and costs a round trip elsewhere (the trial counts it). The weights
 * are snapshotted: build a new instance after training further.
 */
public final class SparseInference implements AutoCloseable {
    /**
     * Floats of im2col columns per chunk of images (4 MB): small enough that the SpMM repacks them from cache
     * right after im2col wrote them (32 images of the cnn's second layer were 20 MB, twice through memory).
     */
    static final int CONV_CHUNK_FLOATS = 1 << 20;

    /** Images per im2col chunk for a C*R*S x P*Q column matrix per image: at least one, at most all. */
    static int chunkImages(int n, int crs, int pq) {
        return (int) Math.max(1, Math.min(n, CONV_CHUNK_FLOATS / Math.max(1L, (long) crs * pq)));
    }

    private interface Step extends AutoCloseable {
        Tensor forward(Tensor x);

        String describe();

        @Override default void close() {}
    }

    /**
     * The sparsity from which {@link #of(Sequential, Pruner, double)} callers used to run a CSR layer on sparse
     * kernels (the break-even target for CSR against our dense GEMM on a large shape). Small layers break
     * even elsewhere: {@link #calibrated} measures instead.
     */
    public static final double DEFAULT_MIN_SPARSITY = 0.7;

    /** A layer runs sparse only when its sparse time is below this fraction of its dense time: ties go to dense. */
    public static final double SPARSE_MARGIN = 0.95;
    /**
     * Untimed calls of each form before the trial: at least {@link #WARMUP_CALLS} pairs and {@link #WARMUP_SECONDS}
     * in all. Why by time: the dense kernels are usually compiled already (training ran them), the sparse ones
     * never ran in this JVM, and the JIT compiles their loops in the background, on a busy machine seconds later.
     */
    public static final int WARMUP_CALLS = 3;
    public static final double WARMUP_SECONDS = 0.5;
    /**
     * Timed calls of each form after the warm-up, alternating, at least {@link #TIMED_CALLS} each and
     * {@link #TIMED_SECONDS} in all; the best of each is kept (a layer of a millisecond gets ~100 calls: the best of
     * 5 of those moved by 2x between runs on a shared machine).
     */
    public static final int TIMED_CALLS = 5;
    public static final double TIMED_SECONDS = 0.3;

    private final List<Step> steps = new ArrayList<>();
    private final List<LayerChoice> choices = new ArrayList<>();
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
            List<Layer> layers = model.layers();
            for (int i = 0; i < layers.size(); i++) {
                Layer layer = layers.get(i);
                int t = targetIndex(targets, layer);
                if (t < 0) {
                    s.steps.add(new Dense(layer, null));
                    continue;
                }
                String name = targets.get(t).name();
                double sparsity = maskSparsity(pruner.kept(t));
                boolean twoFour = pruner.twoFour(t) && atMostTwoOfFour(pruner.kept(t));
                Step sparse = sparsity < minSparsity && !twoFour ? null : sparseStep(layer, name, pruner, t);
                String why = sparse != null ? (twoFour ? "2:4 always runs sparse" : String.format(Locale.ROOT, "at least %.0f%% zero", 100 * minSparsity))
                        : sparsity < minSparsity ? String.format(Locale.ROOT, "below %.0f%% zero", 100 * minSparsity) : "grouped convolution, no sparse path";
                s.choices.add(new LayerChoice(i, name, sparsity, sparse == null ? "none" : ((Sparse) sparse).format(), Double.NaN, Double.NaN,
                        sparse != null, why));
                s.steps.add(sparse != null ? sparse : new Dense(layer, String.format(Locale.ROOT, "%s: dense (%.1f%% zero, %s)", name, 100 * sparsity, why)));
            }
            s.nanos = new long[s.steps.size()];
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    /**
     * Builds the model with each pruned layer on whichever of its dense layer and its sparse kernels is faster on
     * this device: both run on an input of {@code inputShape} (seeded Gaussian values, passed through the layers
     * before; the kernels' time does not depend on the values), untimed calls of both for a while
     * ({@link #WARMUP_CALLS}, {@link #WARMUP_SECONDS}), then timed calls of each ({@link #TIMED_CALLS},
     * {@link #TIMED_SECONDS}), alternating, the best of each kept. The sparse form must beat the dense one by
     * {@link #SPARSE_MARGIN}. The model is in evaluation mode for the trial and back in training mode after
     * it, as in {@code Trainer.evaluate}.
     */
    public static SparseInference calibrated(Sequential model, Pruner pruner, int... inputShape) {
        SparseInference s = new SparseInference();
        List<Parameter> targets = pruner.targets();
        java.util.SplittableRandom random = new java.util.SplittableRandom(1);
        float[] values = new float[Math.toIntExact(count(inputShape))];
        for (int i = 0; i < values.length; i++) values[i] = (float) random.nextGaussian();
        model.train(false);
        try (NoGrad ng = NoGrad.enter(); Scope scope = Scope.open()) {
            Tensor x = Tensor.of(values, inputShape);
            List<Layer> layers = model.layers();
            for (int i = 0; i < layers.size(); i++) {
                Layer layer = layers.get(i);
                int t = targetIndex(targets, layer);
                if (t < 0) {
                    s.steps.add(new Dense(layer, null));
                } else {
                    String name = targets.get(t).name();
                    double sparsity = maskSparsity(pruner.kept(t));
                    Step sparse = sparseStep(layer, name, pruner, t);
                    if (sparse == null) {
                        s.choices.add(new LayerChoice(i, name, sparsity, "none", Double.NaN, Double.NaN, false, "grouped convolution, no sparse path"));
                        s.steps.add(new Dense(layer, String.format(Locale.ROOT, "%s: dense (%.1f%% zero, grouped convolution)", name, 100 * sparsity)));
                    } else {
                        double[] ms;
                        try {
                            ms = race(layer, sparse, x);
                        } catch (RuntimeException e) {
                            sparse.close();
                            throw e;
                        }
                        boolean useSparse = ms[1] < SPARSE_MARGIN * ms[0];
                        String why = useSparse ? String.format(Locale.ROOT, "sparse kernels %.2fx faster", ms[0] / ms[1])
                                : String.format(Locale.ROOT, "sparse kernels at %.2fx of dense, need %.2fx", ms[0] / ms[1], 1 / SPARSE_MARGIN);
                        String format = ((Sparse) sparse).format();
                        s.choices.add(new LayerChoice(i, name, sparsity, format, ms[0], ms[1], useSparse, why));
                        if (useSparse) {
                            s.steps.add(sparse);
                        } else {
                            sparse.close();
                            s.steps.add(new Dense(layer, String.format(Locale.ROOT, "%s: dense (%.1f%% zero; %s %s)", name, 100 * sparsity, format, why)));
                        }
                    }
                }
                x = layer.forward(x);
            }
            s.nanos = new long[s.steps.size()];
        } catch (RuntimeException e) {
            s.close();
            throw e;
        } finally {
            model.train(true);
        }
        return s;
    }

    /** Best dense and best sparse forward time of {@code x} in milliseconds, alternating which goes first. */
    private static double[] race(Layer dense, Step sparse, Tensor x) {
        long bestDense = Long.MAX_VALUE, bestSparse = Long.MAX_VALUE, warmup = 0;
        for (int round = 0; round < WARMUP_CALLS || warmup < WARMUP_SECONDS * 1e9; round++)
            warmup += timed(dense::forward, x) + timed(sparse::forward, x);
        long spent = 0;
        for (int round = 0; round < TIMED_CALLS || spent < TIMED_SECONDS * 1e9; round++) {
            long d, sp;
            if (round % 2 == 0) {
                d = timed(dense::forward, x);
                sp = timed(sparse::forward, x);
            } else {
                sp = timed(sparse::forward, x);
                d = timed(dense::forward, x);
            }
            bestDense = Math.min(bestDense, d);
            bestSparse = Math.min(bestSparse, sp);
            spent += d + sp;
        }
        return new double[] {bestDense / 1e6, bestSparse / 1e6};
    }

    /** Nanoseconds of one forward call, its output read back (so a queued device call is counted) and released. */
    private static long timed(java.util.function.UnaryOperator<Tensor> forward, Tensor x) {
        try (Scope s = Scope.open()) {
            long t0 = System.nanoTime();
            Tensor y = forward.apply(x);
            if (y.dtype() == DType.F32) y.buffer().copyTo(new float[1], 0, 0, 1);
            return System.nanoTime() - t0;
        }
    }

    private static long count(int[] shape) {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    private static int targetIndex(List<Parameter> targets, Layer layer) {
        return layer.parameters().isEmpty() ? -1 : indexOf(targets, layer.parameters().getFirst().tensor());
    }

    /** The sparse step of a pruned Linear or groups-1 Conv2d; null for layers without a sparse path. */
    private static Step sparseStep(Layer layer, String name, Pruner pruner, int t) {
        if (layer instanceof Linear) return new SparseLinear(layer, name, sparse(pruner, t));
        if (layer instanceof Conv2d c && c.groups() == 1) return new SparseConv(c, name, sparse(pruner, t));
        return null;
    }

    /** How each pruned layer runs and why, in model order. */
    public List<LayerChoice> choices() { return List.copyOf(choices); }

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

        /**
         * C (rows x n) = this x B (cols x n), on host arrays: on a host-memory device the kernels use them in place
         * (no copy into and out of device buffers); elsewhere dispatch stages them.
         */
        void multiply(float[] b, float[] c, int n) {
            Args a = format == SpmmDesc.SparseFormat.TWO_FOUR ? Args.of(Arg.VALUES, values, Arg.META, meta)
                    : Args.of(Arg.ROW_PTR, rowPtr, Arg.COL_IDX, colIdx, Arg.VALUES, values);
            Kernels.execute(desc(n), a.put(Arg.B, HostBuffer.wrap(b, 0, cols * n)).put(Arg.C, HostBuffer.wrap(c, 0, rows * n)));
        }

        /** C (m x rows) = A (m x cols) x this^T; CSR only. */
        void multiplyTransposed(Tensor a, Tensor c, int m) {
            Kernels.execute(DsmmDesc.timesTransposed(m, rows, cols, nnz),
                    Args.of(Arg.A, a.buffer(), Arg.ROW_PTR, rowPtr, Arg.COL_IDX, colIdx, Arg.VALUES, values).put(Arg.C, c.buffer()));
        }

        String describe(String name) {
            return String.format(Locale.ROOT, "%s: %s, %d stored values (%.1f%% zero)", name, form(), nnz,
                    100.0 * (1 - (double) nnz / ((long) rows * cols)));
        }

        /** {@code csr 128x3136}, {@code 2:4 64x800}. */
        String form() { return format.lower() + " " + rows + "x" + cols; }

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

    /** A step on sparse kernels. */
    private interface Sparse extends Step {
        SparseWeight weight();

        default String format() { return weight().form(); }
    }

    private record SparseLinear(Layer layer, String name, SparseWeight weight) implements Sparse {
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
                float[] c = new float[out * batch];
                weight.multiply(transpose(x.toArray(), batch, in), c, batch);
                y = Tensor.of(transpose(c, out, batch), batch, out);
            }
            return Ops.add(y, layer.parameters().get(1).tensor());
        }

        @Override public String describe() { return weight.describe(name); }

        @Override public void close() { weight.close(); }
    }

    private record SparseConv(Conv2d conv, String name, SparseWeight weight) implements Sparse {
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
            // At stride 1 the outputs are computed on the padded input's grid (P rows of W + 2 pad, the extra columns
            // dropped at the end): each column row is then one contiguous run of the padded image (paddedIm2col),
            // a copy of P * (W + 2 pad) floats instead of P short rows, for (W + 2 pad) / Q more SpMM columns.
            boolean grid = st == 1;
            int gq = grid ? w + 2 * pad : q, pg = p * gq;
            int chunk = chunkImages(n, crs, pg);
            // one column array and one product for all chunks: im2col writes every element, padding included
            float[] columns = new float[crs * chunk * pg], y = new float[k * chunk * pg];
            float[] padded = grid ? new float[c * (h + 2 * pad) * gq + (s - 1) * dil] : null;
            for (int first = 0; first < n; first += chunk) {
                int images = Math.min(chunk, n - first), cols = images * pg;
                for (int img = 0; img < images; img++) {
                    int base = (first + img) * c * h * w;
                    if (grid) paddedIm2col(in, base, c, h, w, r, s, pad, dil, p, padded, columns, cols, img * pg);
                    else im2col(in, base, c, h, w, r, s, st, pad, dil, p, q, columns, cols, img * pg);
                }
                weight.multiply(columns, y, cols);
                for (int img = 0; img < images; img++)
                    for (int ch = 0; ch < k; ch++) {
                        float bc = bias[ch];
                        for (int op = 0; op < p; op++) {
                            int dst = ((first + img) * k + ch) * pq + op * q, src = ch * cols + img * pg + op * gq;
                            for (int oq = 0; oq < q; oq++) out[dst + oq] = y[src + oq] + bc;
                        }
                    }
            }
            return Tensor.of(out, n, k, p, q);
        }

        @Override public String describe() { return weight.describe(name); }

        @Override public void close() { weight.close(); }
    }

    /**
     * Stride-1 im2col on the padded grid: copies one image into {@code padded} (C planes of (H + 2 pad) x (W + 2 pad),
     * zero border; the array's last (S - 1) * dil floats stay zero) and writes row (ch*R + i)*S + j of the columns,
     * columns {@code col0 .. col0 + P*(W + 2 pad)} of {@code width}, as the one run of the padded plane starting at
     * row i*dil, column j*dil. Output (op, oq) with oq < Q sees exactly its tap; the columns oq >= Q read past the
     * row's end (into the next row, plane, or the zero tail) and are dropped by the caller.
     */
    static void paddedIm2col(float[] x, int base, int c, int h, int w, int r, int s, int pad, int dil, int p, float[] padded,
                             float[] dst, int width, int col0) {
        int wp = w + 2 * pad, plane = (h + 2 * pad) * wp, run = p * wp;
        for (int ch = 0; ch < c; ch++) {
            int at = ch * plane;
            for (int i = 0; i < pad * wp; i++) padded[at + i] = 0f;
            for (int y = 0; y < h; y++) {
                int row = at + (y + pad) * wp;
                for (int i = 0; i < pad; i++) {
                    padded[row + i] = 0f;
                    padded[row + pad + w + i] = 0f;
                }
                System.arraycopy(x, base + (ch * h + y) * w, padded, row + pad, w);
            }
            for (int i = (h + pad) * wp; i < plane; i++) padded[at + i] = 0f;
        }
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < r; i++)
                for (int j = 0; j < s; j++)
                    System.arraycopy(padded, ch * plane + i * dil * wp + j * dil, dst, ((ch * r + i) * s + j) * width + col0, run);
    }

    /**
     * Writes one image's columns into {@code dst} (row (ch*R + i)*S + j, columns {@code col0 .. col0+P*Q} of
     * {@code width}): the input pixel each kernel tap sees at each output position, 0 in the padding. Every
     * element is written. Per output row the positions whose tap falls inside the image are one range, found
     * once: plain loops (no calls: the rows are short, 14 floats in the cnn), which C2 vectorises.
     */
    static void im2col(float[] x, int base, int c, int h, int w, int r, int s, int stride, int pad, int dil, int p, int q,
                       float[] dst, int width, int col0) {
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < r; i++)
                for (int j = 0; j < s; j++) {
                    int row = ((ch * r + i) * s + j) * width + col0;
                    int shift = j * dil - pad; // input column = oq * stride + shift
                    // output columns [lo, hi) see input columns inside [0, w)
                    int lo = Math.min(q, shift >= 0 ? 0 : (-shift + stride - 1) / stride);
                    int hi = Math.max(lo, Math.min(q, w - shift <= 0 ? 0 : (w - shift - 1) / stride + 1));
                    for (int op = 0; op < p; op++) {
                        int y = op * stride - pad + i * dil;
                        int o = row + op * q;
                        if (y < 0 || y >= h) {
                            for (int oq = 0; oq < q; oq++) dst[o + oq] = 0f;
                            continue;
                        }
                        int src = base + (ch * h + y) * w + shift;
                        for (int oq = 0; oq < lo; oq++) dst[o + oq] = 0f;
                        if (stride == 1) for (int oq = lo; oq < hi; oq++) dst[o + oq] = x[src + oq];
                        else for (int oq = lo; oq < hi; oq++) dst[o + oq] = x[src + oq * stride];
                        for (int oq = hi; oq < q; oq++) dst[o + oq] = 0f;
                    }
                }
    }

    /** Row-major {@code a} (rows x cols) transposed, in 32 x 32 tiles so both sides stay in cache. */
    static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        final int tile = 32;
        for (int i0 = 0; i0 < rows; i0 += tile)
            for (int j0 = 0; j0 < cols; j0 += tile) {
                int i1 = Math.min(rows, i0 + tile), j1 = Math.min(cols, j0 + tile);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++) t[j * rows + i] = a[i * cols + j];
            }
        return t;
    }
}
