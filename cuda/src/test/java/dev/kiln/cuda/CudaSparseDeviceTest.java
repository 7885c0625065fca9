package dev.kiln.cuda;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.DsmmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.SddmmDesc;
import dev.kiln.kernels.desc.SpmmDesc;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.Plan;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The sparse kernels on a real GPU, beyond the parity suite's tolerance check: every kernel of sparse.cu on
 * shapes that reach it, with results equal bit for bit to {@link CudaSparseModel} (same fmaf order, same warp
 * butterfly) and to a second run on poisoned outputs, larger shapes than the CPU model runs, and every buffer
 * back in the allocator. Skipped with the probe's reason without a GPU.
 */
class CudaSparseDeviceTest extends OnFirstCudaDevice {
    @Test
    void everyKernelMatchesTheCpuModelBitForBitAndRepeats() {
        List<OpDesc> cases = List.of(
                SpmmDesc.csr(300, 257, 129, 300 * 129 / 10), SpmmDesc.csr(513, 1, 700, 513 * 70), SpmmDesc.csr(513, 1, 70, 513 * 7),
                SpmmDesc.bsr(96, 33, 64, 40, 4, 8), SpmmDesc.bsr(90, 1, 60, 50, 3, 2), SpmmDesc.twoFour(129, 65, 36),
                DsmmDesc.timesTransposed(37, 1100, 300, 1100 * 30), DsmmDesc.times(37, 2100, 300, 2100 * 30), DsmmDesc.times(1, 700, 50, 3000),
                SddmmDesc.of(300, 200, 96, 6000), SddmmDesc.transposedInputs(300, 200, 96, 6000), SddmmDesc.of(64, 64, 7, 900));
        SplittableRandom rnd = new SplittableRandom(88);
        for (OpDesc d : cases) run(d, rnd);
    }

    private static void run(OpDesc d, SplittableRandom rnd) {
        Map<Arg, Object> in = CudaSparseModel.operands(d, rnd);
        ArgSpec outSpec = d.args().stream().filter(s -> s.access().writes()).findFirst().orElseThrow();
        CudaSparseLaunch launch = CudaSparseLaunch.of(d);
        CudaSparseModel.Out model = new CudaSparseModel.Out(Math.toIntExact(outSpec.count()));
        CudaSparseModel.run(launch, in, outSpec.arg(), model);
        float[] expected = CudaSparseModel.reference(d, in);
        for (int i = 0; i < expected.length; i++)
            if (!(Math.abs(model.data[i] - expected[i]) <= 1e-4f * (1 + Math.abs(expected[i]))))
                fail(d + ": model element " + i + " is " + model.data[i] + ", reference " + expected[i]);

        OpKind kind = d.kind();
        MemoryStats before = device.memoryStats();
        List<DeviceBuffer> buffers = new ArrayList<>();
        try {
            Args args = Args.of();
            for (ArgSpec spec : d.args()) {
                DeviceBuffer buf = device.allocate(spec.dtype(), spec.count());
                buffers.add(buf);
                args.put(spec.arg(), buf);
                switch (spec.access().writes() ? null : in.get(spec.arg())) {
                    case float[] a -> buf.copyFrom(a);
                    case int[] a -> buf.copyFrom(a);
                    case byte[] a -> buf.copyFrom(a);
                    case null, default -> { }
                }
            }
            float[] first = null;
            for (int run = 0; run < 2; run++) {
                float[] poison = new float[model.data.length];
                Arrays.fill(poison, Float.NaN);
                args.get(outSpec.arg()).copyFrom(poison);
                try (Plan plan = new CudaSparse(device, kind).plan(d)) {
                    plan.execute(device.defaultStream(), args);
                    device.defaultStream().synchronize();
                }
                float[] got = new float[poison.length];
                args.get(outSpec.arg()).copyTo(got);
                if (run == 0) {
                    for (int i = 0; i < got.length; i++)
                        if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(model.data[i]))
                            fail(d + " " + launch.entry() + ": element " + i + " is " + got[i] + ", the model's " + model.data[i]);
                    first = got;
                } else {
                    assertArrayEquals(first, got, d + ": a second run gives the same bits");
                }
            }
        } finally {
            for (DeviceBuffer buf : buffers) buf.close();
        }
        MemoryStats after = device.memoryStats();
        assertEquals(before.liveBlocks(), after.liveBlocks(), d + ": buffers went back");
        assertEquals(before.liveBytes(), after.liveBytes());
    }
}
