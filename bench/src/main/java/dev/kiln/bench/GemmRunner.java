package dev.kiln.bench;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One f32 GEMM (alpha 1, beta 0, NN, tight leading dimensions) ready to run repeatedly on resident
 * operands: a Kiln plan on a device, or OpenBLAS on native memory. C starts poisoned with NaN so a kernel
 * that writes nothing fails its check. {@link #run()} returns when C is written (device work is
 * synchronised). Close releases the operands and the plan on every path.
 */
abstract sealed class GemmRunner implements AutoCloseable {
    final GemmBench.Shape shape;

    private GemmRunner(GemmBench.Shape shape) { this.shape = shape; }

    /** Runs the GEMM once and waits for it. */
    abstract void run();

    /** Copies C out. */
    abstract float[] result();

    /** What runs, for tables: the implementation name. */
    abstract String implementation();

    @Override public abstract void close();

    double flops() { return 2.0 * shape.m() * shape.n() * shape.k(); }

    /** A Kiln kernel on {@code device}: the best supporting implementation of {@code backend} (or backend/impl). */
    static GemmRunner kiln(String backend, Device device, GemmOperands ops) throws Backends.Unavailable {
        return new OnDevice(backend, device, ops);
    }

    /** OpenBLAS: {@code cblas_sgemv} when n == 1 and {@code gemv} is asked, else {@code cblas_sgemm}. */
    static GemmRunner openblas(OpenBlas blas, GemmOperands ops, boolean gemv) {
        return new Peer(blas, ops, gemv);
    }

    private static final class OnDevice extends GemmRunner {
        private final Plan plan;
        private final DeviceBuffer a, b, c;
        private final Args args;
        private final Stream stream;

        OnDevice(String backend, Device device, GemmOperands ops) throws Backends.Unavailable {
            super(ops.shape());
            GemmDesc desc = GemmDesc.of(shape.m(), shape.n(), shape.k());
            Plan p = Backends.plan(device, backend, desc);
            DeviceBuffer da = null, db = null, dc = null;
            try {
                da = device.allocate(DType.F32, ops.a().length);
                db = device.allocate(DType.F32, ops.b().length);
                dc = device.allocate(DType.F32, (long) shape.m() * shape.n());
                da.copyFrom(ops.a());
                db.copyFrom(ops.b());
                float[] nan = new float[shape.m() * shape.n()];
                Arrays.fill(nan, Float.NaN);
                dc.copyFrom(nan);
                args = Args.of(Arg.A, da, Arg.B, db, Arg.C, dc);
                Kernels.validate(desc, args);
            } catch (RuntimeException | Error e) {
                for (AutoCloseable r : new AutoCloseable[] {dc, db, da, p}) closeQuietly(r, e);
                throw e;
            }
            plan = p;
            a = da;
            b = db;
            c = dc;
            stream = device.defaultStream();
        }

        @Override void run() {
            plan.execute(stream, args);
            stream.synchronize();
        }

        @Override float[] result() {
            float[] out = new float[shape.m() * shape.n()];
            c.copyTo(out);
            return out;
        }

        @Override String implementation() { return plan.implementation(); }

        @Override public void close() {
            RuntimeException first = null;
            for (AutoCloseable r : new AutoCloseable[] {c, b, a, plan}) {
                try {
                    r.close();
                } catch (Exception e) {
                    if (first == null) first = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                    else first.addSuppressed(e);
                }
            }
            if (first != null) throw first;
        }
    }

    private static void closeQuietly(AutoCloseable r, Throwable into) {
        if (r == null) return;
        try {
            r.close();
        } catch (Exception e) {
            into.addSuppressed(e);
        }
    }

    private static final class Peer extends GemmRunner {
        private final OpenBlas blas;
        private final boolean gemv;
        private final Arena arena = Arena.ofShared();
        private final MemorySegment a, b, c;

        Peer(OpenBlas blas, GemmOperands ops, boolean gemv) {
            super(ops.shape());
            if (gemv && shape.n() != 1) throw new IllegalArgumentException("gemv peer: n must be 1, got " + shape.n());
            this.blas = blas;
            this.gemv = gemv;
            try {
                a = arena.allocate(ops.a().length * 4L, 64);
                b = arena.allocate(ops.b().length * 4L, 64);
                c = arena.allocate((long) shape.m() * shape.n() * 4, 64);
                MemorySegment.copy(MemorySegment.ofArray(ops.a()), 0, a, 0, a.byteSize());
                MemorySegment.copy(MemorySegment.ofArray(ops.b()), 0, b, 0, b.byteSize());
                c.fill((byte) 0xFF); // all-ones bytes: a NaN in every float
            } catch (RuntimeException | Error e) {
                arena.close();
                throw e;
            }
        }

        @Override void run() {
            int m = shape.m(), n = shape.n(), k = shape.k();
            if (gemv) blas.sgemv(m, k, 1f, a, k, b, 0f, c);
            else blas.sgemm(false, false, m, n, k, 1f, a, k, b, n, 0f, c, n);
        }

        @Override float[] result() {
            float[] out = new float[shape.m() * shape.n()];
            MemorySegment.copy(c, 0, MemorySegment.ofArray(out), 0, c.byteSize());
            return out;
        }

        @Override String implementation() { return gemv ? "cblas_sgemv" : "cblas_sgemm"; }

        @Override public void close() { arena.close(); }
    }
}
