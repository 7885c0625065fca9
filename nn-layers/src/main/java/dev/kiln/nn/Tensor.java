package dev.kiln.nn;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * An f32 (or f64, see {@link Precision}) tensor on a device, row-major, with reverse-mode autograd. A
 * tensor made by an op remembers its inputs and how to send a gradient back to them ({@link Backward});
 * {@link #backward()} from a scalar walks that graph once in reverse topological order, accumulating into
 * {@link #grad()}. Gradients of leaves (parameters) belong to the leaf and survive scopes; everything else
 * is closed by the enclosing {@link Scope}. Inside {@link NoGrad} nothing is recorded.
 */
public final class Tensor implements AutoCloseable {
    /** Sends {@code gradOut} (the gradient of this tensor) to the inputs, via {@link #accumulate}. */
    @FunctionalInterface
    public interface Backward { void apply(Tensor gradOut); }

    private final int[] shape;
    private final DeviceBuffer buffer;
    private final boolean ownsBuffer;
    private final boolean requiresGrad;
    private final Tensor[] inputs;
    private final Backward backward;
    private Tensor grad;
    private List<AutoCloseable> attached;
    private boolean closed;
    /** The buffer came from {@link BufferPool} and goes back there on close. */
    private boolean pooled;

    private Tensor(int[] shape, DeviceBuffer buffer, boolean ownsBuffer, boolean requiresGrad, Tensor[] inputs, Backward backward) {
        this.shape = shape;
        this.buffer = buffer;
        this.ownsBuffer = ownsBuffer;
        this.requiresGrad = requiresGrad;
        this.inputs = inputs;
        this.backward = backward;
    }

    static long count(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("tensor: negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** A new uninitialised tensor of the current {@link Precision} on the current device, owned by the innermost scope. */
    public static Tensor empty(int... shape) { return empty(Precision.current(), shape); }

    /** A new uninitialised tensor of {@code dtype} (f32 or f64) on the current device, owned by the innermost scope. */
    public static Tensor empty(DType dtype, int... shape) {
        Precision.requireFloat("tensor", dtype);
        Device device = Devices.current();
        Tensor t = new Tensor(shape.clone(), BufferPool.take(device, dtype, count(shape)), true, false, null, null);
        t.pooled = true;
        Scope.adopt(t);
        return t;
    }

    /** A new uninitialised tensor with the dtype and shape of {@code like}. */
    public static Tensor like(Tensor like) { return empty(like.dtype(), like.shape); }

    /** A tensor of the current {@link Precision} holding {@code values} (copied to the current device). */
    public static Tensor of(float[] values, int... shape) { return of(Precision.current(), values, shape); }

    /** A tensor of {@code dtype} holding {@code values} (widened exactly for f64). */
    public static Tensor of(DType dtype, float[] values, int... shape) {
        checkCount("tensor", values.length, shape);
        Tensor t = empty(dtype, shape);
        t.write(values);
        return t;
    }

    /** A tensor of the current {@link Precision} holding {@code values} (rounded to nearest for f32). */
    public static Tensor of(double[] values, int... shape) {
        checkCount("tensor", values.length, shape);
        Tensor t = empty(shape);
        t.write(values);
        return t;
    }

    public static Tensor zeros(int... shape) { return of(new float[Math.toIntExact(count(shape))], shape); }

    /**
     * A trainable leaf of the current {@link Precision}: requires grad and belongs to no scope (its owner,
     * e.g. a layer, closes it).
     */
    public static Tensor parameter(float[] values, int... shape) {
        Tensor t = parameter(values.length, shape);
        t.write(values);
        return t;
    }

    /** A trainable leaf holding {@code values} (f64 keeps them exactly; gradient checks use this). */
    public static Tensor parameter(double[] values, int... shape) {
        Tensor t = parameter(values.length, shape);
        t.write(values);
        return t;
    }

    private static Tensor parameter(int values, int... shape) {
        checkCount("parameter", values, shape);
        Device device = Devices.current();
        return new Tensor(shape.clone(), device.allocate(Precision.current(), values), true, true, null, null);
    }

    private static void checkCount(String what, int values, int[] shape) {
        if (values != count(shape))
            throw new IllegalArgumentException(what + ": " + values + " values for shape " + Arrays.toString(shape)
                    + " (" + count(shape) + " elements)");
    }

    /** The result of an op: the dtype of its first input (or the current precision), requires grad when any input does. */
    static Tensor result(int[] shape, Backward backward, Tensor... inputs) {
        return result(inputs.length > 0 ? inputs[0].dtype() : Precision.current(), shape, backward, inputs);
    }

    static Tensor result(DType dtype, int[] shape, Backward backward, Tensor... inputs) {
        boolean track = false;
        if (!NoGrad.active()) for (Tensor in : inputs) track |= in.requiresGrad;
        Device device = Devices.current();
        Tensor t = new Tensor(shape.clone(), BufferPool.take(device, dtype, count(shape)), true, track,
                track ? inputs.clone() : null, track ? backward : null);
        t.pooled = true;
        Scope.adopt(t);
        return t;
    }

    /** The same data with another shape of the same element count; no copy. Gradients flow through. */
    public Tensor reshape(int... newShape) {
        ensureOpen();
        if (count(newShape) != count())
            throw new IllegalArgumentException("reshape: " + Arrays.toString(shape) + " (" + count() + " elements) cannot become "
                    + Arrays.toString(newShape) + " (" + count(newShape) + ")");
        boolean track = requiresGrad && !NoGrad.active();
        Tensor self = this;
        Tensor t = new Tensor(newShape.clone(), buffer, false, track, track ? new Tensor[] {this} : null,
                track ? g -> self.accumulate(g.reshape(self.shape)) : null);
        Scope.adopt(t);
        return t;
    }

    public int[] shape() { return shape.clone(); }

    public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }

    /**
     * Elements between neighbours along each dimension. Tensors are always contiguous and row-major (a
     * reshape is a view, anything else that rearranges data is an op that writes a new tensor), so these are
     * the row-major strides of the shape; kernels take their layout from the descriptors.
     */
    public long[] strides() {
        long[] st = new long[shape.length];
        long step = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = step;
            step *= shape[i];
        }
        return st;
    }

    public int rank() { return shape.length; }

    public long count() { return count(shape); }

    public boolean requiresGrad() { return requiresGrad; }

    /** f32 or f64. */
    public DType dtype() { return buffer.dtype(); }

    /** The accumulated gradient, or null before {@link #backward()} reached this tensor. */
    public Tensor grad() { return grad; }

    public DeviceBuffer buffer() {
        ensureOpen();
        return buffer;
    }

    /** The contents as floats (f64 tensors are rounded to nearest). */
    public float[] toArray() {
        ensureOpen();
        float[] out = new float[Math.toIntExact(count())];
        if (dtype() == DType.F32) {
            buffer.copyTo(out, 0, 0, out.length);
        } else {
            double[] d = toDoubleArray();
            for (int i = 0; i < out.length; i++) out[i] = (float) d[i];
        }
        return out;
    }

    /** The contents as doubles (exact for both dtypes). */
    public double[] toDoubleArray() {
        ensureOpen();
        double[] out = new double[Math.toIntExact(count())];
        if (dtype() == DType.F64) {
            buffer.copyTo(MemorySegment.ofArray(out));
        } else {
            float[] f = new float[out.length];
            buffer.copyTo(f, 0, 0, f.length);
            for (int i = 0; i < out.length; i++) out[i] = f[i];
        }
        return out;
    }

    public float item() { return (float) itemAsDouble(); }

    /** The value of a one-element tensor, exactly. */
    public double itemAsDouble() {
        if (count() != 1) throw new IllegalStateException("item: tensor of shape " + Arrays.toString(shape) + " is not a scalar");
        return toDoubleArray()[0];
    }

    /** Overwrites the contents with {@code values} (same element count). */
    public void set(float[] values) {
        ensureOpen();
        if (values.length != count())
            throw new IllegalArgumentException("set: " + values.length + " values for shape " + Arrays.toString(shape));
        write(values);
    }

    /** Overwrites the contents with {@code values} (same element count; rounded to nearest for f32). */
    public void set(double[] values) {
        ensureOpen();
        if (values.length != count())
            throw new IllegalArgumentException("set: " + values.length + " values for shape " + Arrays.toString(shape));
        write(values);
    }

    private void write(float[] values) {
        if (dtype() == DType.F32) {
            buffer.copyFrom(values, 0, 0, values.length);
        } else {
            double[] d = new double[values.length];
            for (int i = 0; i < d.length; i++) d[i] = values[i];
            buffer.copyFrom(MemorySegment.ofArray(d));
        }
    }

    private void write(double[] values) {
        if (dtype() == DType.F64) {
            buffer.copyFrom(MemorySegment.ofArray(values));
        } else {
            float[] f = new float[values.length];
            for (int i = 0; i < f.length; i++) f[i] = (float) values[i];
            buffer.copyFrom(f, 0, 0, f.length);
        }
    }

    /** Back-propagates from this scalar: every tensor it depends on that requires grad gets its gradient. */
    public void backward() {
        ensureOpen();
        if (count() != 1) throw new IllegalStateException("backward: needs a scalar, got shape " + Arrays.toString(shape));
        if (!requiresGrad) throw new IllegalStateException("backward: this tensor does not depend on anything that requires grad");
        List<Tensor> order = new ArrayList<>();
        topologicalOrder(this, new IdentityHashMap<>(), order);
        try (NoGrad ignored = NoGrad.enter()) {
            accumulate(of(dtype(), new float[] {1f}, shape));
            for (int i = order.size() - 1; i >= 0; i--) {
                Tensor t = order.get(i);
                if (t.backward != null && t.grad != null) t.backward.apply(t.grad);
            }
        }
    }

    private static void topologicalOrder(Tensor t, Map<Tensor, Boolean> seen, List<Tensor> order) {
        // Iterative depth-first search: deep graphs (long sequences) must not overflow the stack.
        record Frame(Tensor t, int next) {}
        List<Frame> stack = new ArrayList<>();
        stack.add(new Frame(t, 0));
        seen.put(t, true);
        while (!stack.isEmpty()) {
            Frame f = stack.removeLast();
            Tensor[] ins = f.t.inputs;
            if (ins != null && f.next < ins.length) {
                stack.add(new Frame(f.t, f.next + 1));
                Tensor in = ins[f.next];
                if (in.requiresGrad && seen.putIfAbsent(in, true) == null) stack.add(new Frame(in, 0));
            } else {
                order.add(f.t);
            }
        }
    }

    /**
     * Adds {@code g} to this tensor's gradient. Leaves take ownership of their gradient out of the scope;
     * {@code g} must be a fresh tensor or a view that this call may keep.
     */
    public void accumulate(Tensor g) {
        if (!requiresGrad) return;
        if (!Arrays.equals(g.shape, shape) && g.count() == count()) g = g.reshape(shape);
        if (g.count() != count() || g.dtype() != dtype())
            throw new IllegalStateException("autograd: " + g.dtype().lower() + " gradient of shape " + Arrays.toString(g.shape)
                    + " for " + dtype().lower() + " tensor of shape " + Arrays.toString(shape));
        if (grad == null) {
            grad = g.ownsBuffer ? g : Ops.copy(g);
        } else {
            Tensor sum = Ops.add(grad, g);
            if (isLeaf()) grad.close();
            grad = sum;
        }
        if (isLeaf()) Scope.release(grad);
    }

    public boolean isLeaf() { return backward == null; }

    /** Takes this tensor out of its scope: the caller now closes it (optimiser state, cached values). */
    public Tensor keep() {
        Scope.release(this);
        return this;
    }

    /** Drops the gradient (closing it for leaves, which own theirs). */
    public void zeroGrad() {
        if (grad != null && isLeaf()) grad.close();
        grad = null;
    }

    public boolean isClosed() { return closed; }

    /** Ties {@code resource} (e.g. saved pooling indices) to this tensor: closed when the tensor is. */
    public <R extends AutoCloseable> R attach(R resource) {
        ensureOpen();
        if (attached == null) attached = new ArrayList<>(1);
        attached.add(resource);
        return resource;
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("tensor of shape " + Arrays.toString(shape) + " is closed");
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        if (ownsBuffer) {
            if (pooled) BufferPool.give(buffer);
            else buffer.close();
        }
        if (isLeaf() && requiresGrad && grad != null) grad.close();
        if (attached != null) {
            for (AutoCloseable r : attached) {
                try {
                    r.close();
                } catch (Exception e) {
                    throw new IllegalStateException("tensor: closing an attached resource failed: " + e.getMessage(), e);
                }
            }
            attached = null;
        }
    }

    @Override public String toString() {
        return "Tensor" + Arrays.toString(shape) + (dtype() == DType.F32 ? "" : " " + dtype().lower())
                + (requiresGrad ? " requires grad" : "") + (closed ? " closed" : "");
    }
}
