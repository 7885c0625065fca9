package dev.kiln.dispatch;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.BackendProvider;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.HostBuffer;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/** Traces, seeded operands and reference results for the dispatch tests. */
final class TestSupport {
    private TestSupport() {}

    /** A captured verbose trace. */
    static final class Trace {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

        List<String> lines() {
            String s = bytes.toString(StandardCharsets.UTF_8);
            return s.isEmpty() ? List.of() : List.of(s.split("\n"));
        }

        /** Only the per-decision lines ("dispatch gemm ... -> ..."). */
        List<String> decisions() { return lines().stream().filter(l -> l.contains(" -> ")).toList(); }

        String text() { return bytes.toString(StandardCharsets.UTF_8); }
    }

    static Dispatch verbose(Trace trace, String forced, BackendProvider... providers) {
        return Dispatch.create(List.of(providers), new DispatchConfig(forced, true, trace.out));
    }

    static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = r.nextFloat() * 2 - 1;
        return a;
    }

    /**
     * A GEMM on host arrays with seeded operands; C is poisoned with NaN when beta is 0 (it must never be
     * read) and random otherwise. {@link #expected()} is the reference result on copies.
     */
    static final class GemmCase {
        final GemmDesc desc;
        final float[] a, b, c, c0;

        GemmCase(GemmDesc desc, long seed) {
            this.desc = desc;
            Random r = new Random(seed);
            List<dev.kiln.kernels.desc.ArgSpec> specs = desc.args();
            a = random(r, (int) desc.spec(Arg.A).count());
            b = random(r, (int) desc.spec(Arg.B).count());
            int cn = (int) desc.spec(Arg.C).count();
            c = desc.beta() == 0 ? nan(cn) : random(r, cn);
            c0 = c.clone();
            assert specs.size() == 3 : "no bias in these cases";
        }

        Args hostArgs() { return Args.of(Arg.A, HostBuffer.wrap(a), Arg.B, HostBuffer.wrap(b), Arg.C, HostBuffer.wrap(c)); }

        float[] expected() {
            float[] want = c0.clone();
            RefKernels.run(desc, Args.of(Arg.A, HostBuffer.wrap(a), Arg.B, HostBuffer.wrap(b), Arg.C, HostBuffer.wrap(want)));
            return want;
        }

        /** Copies the operands into buffers allocated by {@code allocator} (e.g. a fake device). */
        Args argsOn(java.util.function.BiFunction<dev.kiln.kernels.DType, Long, DeviceBuffer> allocator) {
            DeviceBuffer da = allocator.apply(desc.dtype(), (long) a.length);
            DeviceBuffer db = allocator.apply(desc.dtype(), (long) b.length);
            DeviceBuffer dc = allocator.apply(desc.dtype(), (long) c.length);
            da.copyFrom(a);
            db.copyFrom(b);
            dc.copyFrom(c);
            return Args.of(Arg.A, da, Arg.B, db, Arg.C, dc);
        }
    }

    static float[] nan(int n) {
        float[] x = new float[n];
        Arrays.fill(x, Float.NaN);
        return x;
    }
}
