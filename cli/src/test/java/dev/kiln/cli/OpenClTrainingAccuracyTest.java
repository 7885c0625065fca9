package dev.kiln.cli;

import dev.kiln.dispatch.Dispatch;
import dev.kiln.kernels.spi.Device;
import dev.kiln.nn.BufferPool;
import dev.kiln.nn.Devices;
import dev.kiln.nn.data.FashionMnist;
import dev.kiln.nn.data.LabelledImages;
import dev.kiln.nn.layers.Parameter;
import dev.kiln.nn.train.EpochMetrics;
import dev.kiln.nn.train.TrainConfig;
import dev.kiln.nn.train.Trainer;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The acceptance check "OpenCL reaches the CPU run's accuracy within 0.5 point", on a subset so CI
 * stays fast: the default {@code cnn} trained one epoch on the first {@value #IMAGES} Fashion-MNIST training
 * images and evaluated on the first {@value #IMAGES} test images, once with its tensors on the CPU backend and
 * once on the first OpenCL device (POCL in CI), where every op OpenCL implements runs there.
 *
 * <p>Why 0.5 point still means something at this size: both runs start from the same seeded weights and see
 * the same batches in the same order, so the only difference between them is floating-point rounding in the
 * kernels (other summation orders, fused multiply-adds, exp/log implementations). One test image is about
 * 0.1 point, so 0.5 point allows 5 of {@value #IMAGES} predictions to differ; a wrong OpenCL kernel (a bad
 * gradient, a lost bias, a padding error) moves the accuracy by tens of points after 16 steps, and even a
 * slightly wrong one by more than 5 images. The subset is this small so that both runs together cost about
 * 15 s of CPU time (POCL runs on the same two cores in CI).
 */
class OpenClTrainingAccuracyTest {
    static final int IMAGES = 1024;

    @Test void openClMatchesTheCpuWithinHalfAPoint() throws Exception {
        assumeTrue(Files.isDirectory(FashionMnist.DEFAULT_DIR),
                () -> report("skipped: no Fashion-MNIST at " + FashionMnist.DEFAULT_DIR + " (./kiln test installs dataset-fashion-mnist)"));
        Device cpu = first("cpu"), opencl = first("opencl");
        assumeTrue(cpu != null, () -> report("skipped: the CPU backend is unavailable: " + why("cpu")));
        assumeTrue(opencl != null, () -> report("skipped: no OpenCL device (./kiln test installs POCL): " + why("opencl")));

        LabelledImages train = FashionMnist.train(FashionMnist.DEFAULT_DIR), test = FashionMnist.test(FashionMnist.DEFAULT_DIR);
        TrainConfig config = TrainConfig.defaults().withEpochs(1).withLimit(IMAGES);
        Device before = Devices.current();
        try {
            long cpu0 = processCpuNanos();
            EpochMetrics onCpu = trainOn(cpu, config, train, test);
            long cpu1 = processCpuNanos();
            EpochMetrics onOpenCl = trainOn(opencl, config, train, test);
            long cpu2 = processCpuNanos();
            double points = 100 * Math.abs(onCpu.testAccuracy() - onOpenCl.testAccuracy());
            // Process CPU time as well as wall time: on a shared machine the wall time says little.
            System.out.printf(Locale.ROOT, "cnn, 1 epoch on %d images: cpu test accuracy %.4f (loss %.4f, train %.1f s wall, %.1f s process cpu "
                            + "with evaluation), opencl (%s) %.4f (loss %.4f, train %.1f s wall, %.1f s process cpu): %.2f points apart%n",
                    IMAGES, onCpu.testAccuracy(), onCpu.trainLoss(), onCpu.trainSeconds(), (cpu1 - cpu0) / 1e9, opencl.name(),
                    onOpenCl.testAccuracy(), onOpenCl.trainLoss(), onOpenCl.trainSeconds(), (cpu2 - cpu1) / 1e9, points);
            assertTrue(onCpu.testAccuracy() > 0.3, "the CPU run should learn something in 16 steps (chance is 0.1): " + onCpu.testAccuracy());
            assertTrue(points <= 0.5, "OpenCL test accuracy " + onOpenCl.testAccuracy() + " vs CPU " + onCpu.testAccuracy());
        } finally {
            Devices.use(before);
        }
    }

    /**
     * f64 tensors on the OpenCL device: its float kernels decline the f64 descriptors, dispatch runs the
     * host reference through staging copies, and the results are the CPU device's to the last bit.
     */
    @Test void f64TensorsOnOpenClFallBackToTheReference() {
        Device cpu = first("cpu"), opencl = first("opencl");
        assumeTrue(cpu != null && opencl != null, () -> report("skipped: needs both the CPU and an OpenCL device: " + why("opencl")));
        Device before = Devices.current();
        try {
            double[] onCpu = f64Chain(cpu), onOpenCl = f64Chain(opencl);
            org.junit.jupiter.api.Assertions.assertArrayEquals(onCpu, onOpenCl, 0);
        } finally {
            Devices.use(before);
            BufferPool.clear();
        }
    }

    /** gelu(conv2d(x, w) + b) then a softmax and a gradient, in f64 on {@code device}: values and d/dx. */
    private static double[] f64Chain(Device device) {
        Devices.use(device);
        try (dev.kiln.nn.Precision f64 = dev.kiln.nn.Precision.use(dev.kiln.kernels.DType.F64);
             dev.kiln.nn.Scope scope = dev.kiln.nn.Scope.open()) {
            java.util.SplittableRandom r = new java.util.SplittableRandom(5);
            double[] xv = new double[2 * 3 * 5 * 5], wv = new double[4 * 3 * 3 * 3];
            for (int i = 0; i < xv.length; i++) xv[i] = r.nextDouble(-1, 1);
            for (int i = 0; i < wv.length; i++) wv[i] = r.nextDouble(-1, 1);
            dev.kiln.nn.Tensor x = dev.kiln.nn.Tensor.of(xv, 2, 3, 5, 5), w = dev.kiln.nn.Tensor.of(wv, 4, 3, 3, 3);
            try (dev.kiln.nn.Tensor leaf = dev.kiln.nn.Tensor.parameter(xv, 2, 3, 5, 5)) {
                dev.kiln.nn.Tensor y = dev.kiln.nn.Ops.gelu(dev.kiln.nn.ConvOps.conv2d(leaf, w, null, 2, 1, 1, 1));
                dev.kiln.nn.Tensor p = dev.kiln.nn.AttentionOps.softmax(y.reshape(8, 9));
                assertEquals(device.backend(), p.buffer().device().backend());
                dev.kiln.nn.Losses.crossEntropy(p, new int[] {0, 1, 2, 3, 4, 5, 6, 7}).backward();
                double[] values = p.toDoubleArray(), grad = leaf.grad().toDoubleArray();
                double[] both = java.util.Arrays.copyOf(values, values.length + grad.length);
                System.arraycopy(grad, 0, both, values.length, grad.length);
                assertEquals(x.count(), grad.length);
                return both;
            }
        }
    }

    /** One epoch with every tensor on {@code device}; dispatch runs each op on the device holding its operands. */
    private static EpochMetrics trainOn(Device device, TrainConfig config, LabelledImages train, LabelledImages test) {
        Devices.use(device);
        try (Trainer t = new Trainer(config, train, test)) {
            for (Parameter p : t.model().parameters())
                assertEquals(device.backend(), p.tensor().buffer().device().backend(), "parameter " + p.name() + " lives on the wrong device");
            return t.trainEpoch(null);
        } finally {
            BufferPool.clear();
        }
    }

    private static long processCpuNanos() {
        return java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() : 0;
    }

    private static Device first(String backend) {
        for (Device d : Dispatch.get().devices()) if (d.backend().equals(backend)) return d;
        return null;
    }

    private static String why(String backend) {
        return Dispatch.get().backends().stream().filter(b -> b.toString().contains(backend)).map(Object::toString).findFirst()
                .orElse("backend not on the class path");
    }

    private static String report(String line) {
        System.out.println("OpenClTrainingAccuracyTest " + line);
        return line;
    }
}
