package dev.kiln.opencl;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.spi.Plan;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Convolution throughput on the Fashion-MNIST CNN's layers at batch 64 (1->32 and 32->64, 5x5 pad 2, on
 * 28^2 and 14^2), every pass, only with {@code -Dkiln.opencl.bench=true}. Forward results are spot-checked
 * in double at sampled outputs before the rate is printed; the passes' correctness is the parity tests' job.
 */
class OpenClConvSpeedTest {
    @Test void fashionMnistLayers() {
        Assumptions.assumeTrue(Boolean.getBoolean("kiln.opencl.bench"), "set -Dkiln.opencl.bench=true to measure conv speed");
        List<ConvDesc> layers = List.of(
                new ConvDesc(64, 1, 28, 28, 32, 5, 5, 1, 1, 2, 2, 1, 1, 1, false, 0, 0, ConvPass.FORWARD, true),
                new ConvDesc(64, 32, 14, 14, 64, 5, 5, 1, 1, 2, 2, 1, 1, 1, false, 0, 0, ConvPass.FORWARD, true));
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            for (ConvDesc layer : layers) {
                for (ConvPass pass : ConvPass.values()) measure(device, OpenClTesting.firstSupporting(device, layer.withPass(pass)), layer.withPass(pass));
                measure(device, new OpenClConv(device), layer); // the direct kernel's forward, for comparison
            }
        }
    }

    private static void measure(OpenClDevice device, dev.kiln.kernels.spi.KernelImpl impl, ConvDesc d) {
        SplittableRandom rnd = new SplittableRandom(3);
        Args args = Args.of();
        List<OpenClBuffer> buffers = new ArrayList<>();
        List<float[]> inputs = new ArrayList<>();
        try (Plan plan = impl.plan(d)) {
            for (ArgSpec spec : d.args()) {
                OpenClBuffer b = device.allocate(DType.F32, spec.count());
                buffers.add(b);
                float[] v = OpenClResourceTest.random(rnd, Math.toIntExact(spec.count()));
                if (spec.access().reads()) b.copyFrom(v);
                inputs.add(v);
                args.put(spec.arg(), b);
            }
            plan.execute(device.defaultStream(), args); // warm-up: the driver compiles for the launch size
            device.defaultStream().synchronize();
            double sec = Double.MAX_VALUE;
            for (int r = 0; r < 5; r++) {
                long t0 = System.nanoTime();
                plan.execute(device.defaultStream(), args);
                device.defaultStream().synchronize();
                sec = Math.min(sec, (System.nanoTime() - t0) / 1e9);
            }
            System.out.printf("opencl %s %s with %s on %s: %.2f ms, %.1f GFLOP/s (best of 5)%n", d.opName(), d.shape(), impl.name(), device.name(),
                    sec * 1e3, d.flops() / sec / 1e9);
            if (d.pass() == ConvPass.FORWARD) spotCheck(d, inputs, args.get(Arg.DST), rnd);
        } finally {
            for (OpenClBuffer b : buffers) b.close();
        }
    }

    /** 64 sampled outputs of a regular, ungrouped forward with bias, recomputed in double. */
    private static void spotCheck(ConvDesc d, List<float[]> inputs, dev.kiln.kernels.spi.DeviceBuffer dst, SplittableRandom rnd) {
        float[] x = inputs.get(0), w = inputs.get(1), bias = inputs.get(2), y = new float[Math.toIntExact(d.dstCount())];
        dst.copyTo(y);
        int p = d.p(), q = d.q();
        for (int t = 0; t < 64; t++) {
            int b = rnd.nextInt(d.n()), o = rnd.nextInt(d.k()), oy = rnd.nextInt(p), ox = rnd.nextInt(q);
            double sum = bias[o], mag = Math.abs(bias[o]);
            for (int i = 0; i < d.c(); i++)
                for (int ry = 0; ry < d.r(); ry++)
                    for (int sx = 0; sx < d.s(); sx++) {
                        int iy = oy - d.padH() + ry, ix = ox - d.padW() + sx;
                        if (iy < 0 || iy >= d.h() || ix < 0 || ix >= d.w()) continue;
                        double term = (double) x[((b * d.c() + i) * d.h() + iy) * d.w() + ix] * w[((o * d.c() + i) * d.r() + ry) * d.s() + sx];
                        sum += term;
                        mag += Math.abs(term);
                    }
            float got = y[((b * d.k() + o) * p + oy) * q + ox];
            assertEquals(sum, got, 1e-6 * (1 + mag), d.shape() + " dst at b=" + b + " o=" + o + " y=" + oy + " x=" + ox);
        }
    }
}
