package dev.kiln.opencl;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.desc.NormDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.verify.Parity;
import dev.kiln.kernels.verify.ParityResult;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Fashion-MNIST CNN's shapes (conv 5x5 pad 2, max-pool 2, batch norm) against the reference, at batch 2
 * (the reference is too slow for batch 64 in every build), and the backward kernels' determinism: the same
 * inputs give the same bits on every run, as no kernel here uses atomics.
 */
class OpenClCnnTest {
    static final ConvDesc CONV1 = new ConvDesc(2, 1, 28, 28, 32, 5, 5, 1, 1, 2, 2, 1, 1, 1, false, 0, 0, ConvPass.FORWARD, true);
    static final ConvDesc CONV2 = new ConvDesc(2, 32, 14, 14, 64, 5, 5, 1, 1, 2, 2, 1, 1, 1, false, 0, 0, ConvPass.FORWARD, true);

    @Test void cnnLayersMatchTheReference() {
        List<OpDesc> cases = new ArrayList<>();
        for (ConvDesc c : List.of(CONV1, CONV2))
            for (ConvPass pass : ConvPass.values()) cases.add(c.withPass(pass));
        for (Pass pass : Pass.values()) cases.add(PoolDesc.of(PoolKind.MAX, 2, 32, 28, 28, 2, 2, 0).withPass(pass));
        for (NormDesc.Mode mode : NormDesc.Mode.values()) cases.add(new NormDesc(NormDesc.NormKind.BATCH, 2, 32, 28 * 28, 1e-5, mode));
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            long seed = 42;
            for (OpDesc d : cases) {
                ParityResult r = Parity.check(device, d, seed++);
                assertEquals(ParityResult.Status.PASSED, r.status(), r.toString());
            }
        }
    }

    /** The pool kernel always writes INDICES, so max forward without them is declined with a reason (nn then keeps them). */
    @Test void maxPoolWithoutIndicesIsDeclined() {
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            PoolDesc bare = PoolDesc.of(PoolKind.MAX, 2, 32, 28, 28, 2, 2, 0).withoutIndices();
            assertEquals(ParityResult.Status.UNSUPPORTED, Parity.check(device, bare, 7).status());
            assertTrue(device.supports(bare).reason().contains("without indices"), device.supports(bare).reason());
        }
    }

    /** The GEMM path takes the forward cases first, so the direct kernels are checked on every conv case here. */
    @Test void directConvolutionMatchesTheReferenceOnEveryCase() {
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            OpenClConv direct = new OpenClConv(device);
            long seed = 900;
            int checked = 0;
            for (OpDesc d : Parity.cases(dev.kiln.kernels.OpKind.CONV, 0)) {
                ParityResult r = Parity.check(device, direct, d, seed++);
                assertEquals(ParityResult.Status.PASSED, r.status(), r.toString());
                checked++;
            }
            assertTrue(checked > 40, "conv cases: " + checked);
            for (ConvDesc c : List.of(CONV1, CONV2)) {
                ParityResult r = Parity.check(device, direct, c, seed++);
                assertEquals(ParityResult.Status.PASSED, r.status(), r.toString());
            }
        }
    }

    /**
     * The GEMM path with its tap threshold off and at most two images per chunk (so batches of 3 and 5 end
     * in a partial chunk, and the weight gradient accumulates over chunks), on every conv case it can compute.
     */
    @Test void gemmConvolutionMatchesTheReferenceOnEveryCaseItTakes() {
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            OpenClConvGemm gemm = new OpenClConvGemm(device, 1, 2);
            long seed = 700;
            int checked = 0;
            List<OpDesc> cases = new ArrayList<>(Parity.cases(dev.kiln.kernels.OpKind.CONV, 0));
            List<ConvDesc> batched = List.of(CONV1, CONV2,
                    new ConvDesc(3, 5, 9, 8, 7, 3, 3, 2, 1, 1, 1, 1, 2, 1, false, 0, 0, ConvPass.FORWARD, true),
                    new ConvDesc(5, 4, 6, 7, 3, 3, 2, 2, 2, 1, 0, 1, 1, 1, true, 1, 0, ConvPass.FORWARD, true));
            for (ConvDesc c : batched) for (ConvPass pass : ConvPass.values()) cases.add(c.withPass(pass));
            for (OpDesc d : cases) {
                if (!gemm.supports(d).ok()) continue;
                ParityResult r = Parity.check(device, gemm, d, seed++);
                assertEquals(ParityResult.Status.PASSED, r.status(), r.toString());
                checked++;
            }
            assertTrue(checked > 30, "conv cases on the GEMM path: " + checked);
        }
    }

    @Test void backwardKernelsAreDeterministic() {
        ConvDesc conv = new ConvDesc(4, 32, 14, 14, 64, 5, 5, 1, 1, 2, 2, 1, 1, 1, false, 0, 0, ConvPass.BACKWARD_WEIGHTS, true);
        List<OpDesc> cases = List.of(conv, conv.withPass(ConvPass.BACKWARD_DATA),
                PoolDesc.of(PoolKind.MAX, 2, 8, 15, 15, 3, 1, 1).withPass(Pass.BACKWARD),
                new NormDesc(NormDesc.NormKind.BATCH, 4, 8, 100, 1e-5, NormDesc.Mode.BACKWARD),
                new NormDesc(NormDesc.NormKind.LAYER, 9, 300, 1, 1e-5, NormDesc.Mode.BACKWARD));
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            for (OpDesc d : cases) {
                List<float[]> first = run(device, d, 7), second = run(device, d, 7);
                for (int i = 0; i < first.size(); i++)
                    assertArrayEquals(first.get(i), second.get(i), d.opName() + " " + d.shape() + ": output " + i + " differs between runs");
            }
        }
    }

    /** Runs {@code d} on seeded inputs (positive where a norm wants RSTD) and returns its float outputs. */
    static List<float[]> run(OpenClDevice device, OpDesc d, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Args args = Args.of();
        List<OpenClBuffer> buffers = new ArrayList<>();
        List<float[]> out = new ArrayList<>();
        try (Plan plan = OpenClTesting.firstSupporting(device, d).plan(d)) {
            for (ArgSpec spec : d.args()) {
                OpenClBuffer b = device.allocate(spec.dtype(), spec.count());
                buffers.add(b);
                if (spec.dtype() == DType.S32) {
                    int[] idx = new int[Math.toIntExact(spec.count())]; // every window's first element: valid for stride 1
                    PoolDesc p = (PoolDesc) d;
                    for (int i = 0; i < idx.length; i++) {
                        int oy = (i / p.q()) % p.p(), ox = i % p.q();
                        idx[i] = Math.max(0, oy * p.strideH() - p.padH()) * p.w() + Math.max(0, ox * p.strideW() - p.padW());
                    }
                    b.copyFrom(idx);
                } else if (spec.access().reads()) {
                    float[] v = OpenClResourceTest.random(rnd, Math.toIntExact(spec.count()));
                    if (spec.arg() == Arg.RSTD) for (int i = 0; i < v.length; i++) v[i] = 1 + Math.abs(v[i]);
                    b.copyFrom(v);
                }
                args.put(spec.arg(), b);
            }
            plan.execute(device.defaultStream(), args);
            device.defaultStream().synchronize();
            for (ArgSpec spec : d.args()) {
                if (!spec.access().writes() || spec.dtype() != DType.F32) continue;
                float[] v = new float[Math.toIntExact(spec.count())];
                args.get(spec.arg()).copyTo(v);
                out.add(v);
            }
        } finally {
            for (OpenClBuffer b : buffers) b.close();
        }
        assertTrue(!out.isEmpty(), d.opName() + " wrote nothing");
        return out;
    }
}
