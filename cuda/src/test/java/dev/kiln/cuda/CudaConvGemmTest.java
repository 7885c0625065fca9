package dev.kiln.cuda;

import dev.kiln.kernels.spi.ConvGeometry;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Support;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The im2col + GEMM convolution without a GPU: the path choice, the scratch sizing, the GEMM arguments of each
 * pass, and the whole decomposition ({@link ConvGemmSteps}) run through a plain CPU model of im2col.cu, col2im
 * and gemm.cu (same index math, bounds-checked) and compared with the reference convolution.
 */
class CudaConvGemmTest {
    private static final List<KernelImpl> CONV = CudaDevice.kernels(null, 8, false, null).get(OpKind.CONV);

    private static ConvDesc conv(int n, int c, int hw, int k, int rs, int stride, int pad, int dil, int groups, boolean transposed,
                                 int outPad, ConvPass pass, boolean bias) {
        return new ConvDesc(n, c, hw, hw + 1, k, rs, rs, stride, stride, pad, pad, dil, dil, groups, transposed, outPad, outPad, pass, bias);
    }

    /** The first implementation of the device's CONV list that accepts {@code d}. */
    private static String chosen(ConvDesc d) {
        for (KernelImpl k : CONV) if (k.supports(d).ok()) return k.name();
        return "none";
    }

    @Test void denseConvolutionsTakeTheGemmPathAndTheRestTheDirectKernel() {
        assertEquals(CudaConvGemm.NAME, CONV.getFirst().name(), "the GEMM path is asked first");
        for (ConvPass pass : ConvPass.values()) {
            ConvDesc dense = conv(4, 64, 14, 64, 3, 1, 1, 1, 1, false, 0, pass, false);
            assertEquals(CudaConvGemm.NAME, chosen(dense), dense.toString());
            assertEquals(CudaConvGemm.NAME, chosen(conv(2, 64, 7, 32, 4, 2, 1, 1, 1, true, 0, pass, false)), "transposed " + pass);
            assertEquals(CudaConvGemm.NAME, chosen(conv(2, 64, 9, 64, 3, 1, 1, 1, 2, false, 0, pass, false)), "two groups of 32 " + pass);
        }
        ConvDesc depthwise = conv(2, 32, 9, 32, 3, 1, 1, 1, 32, false, 0, ConvPass.FORWARD, true);
        Support s = CONV.getFirst().supports(depthwise);
        assertFalse(s.ok());
        assertTrue(s.reason().contains("cx*r*s=9") && s.reason().contains("depthwise"), s.reason());
        assertEquals("cuda-conv-direct", chosen(depthwise));
        assertEquals("cuda-conv-direct", chosen(conv(1, 1, 9, 32, 3, 1, 1, 1, 1, false, 0, ConvPass.FORWARD, false)), "9 taps");
        assertEquals("cuda-conv-direct", chosen(conv(1, 64, 9, 8, 3, 1, 1, 1, 1, false, 0, ConvPass.FORWARD, false)), "8 channels");
        assertEquals(CudaConvGemm.NAME, chosen(conv(1, 16, 9, 16, 1, 1, 0, 1, 1, false, 0, ConvPass.FORWARD, false)), "the threshold itself");
        assertEquals("none", chosen(conv(1, 64, 9, 64, 3, 1, 1, 1, 1, false, 0, ConvPass.FORWARD, false).withDType(DType.F64)),
                "f64 falls back to the host");
        // 512 channels x 5x5 taps x 128 x 129 positions = 211 M floats per image, above the 64 MiB scratch.
        ConvDesc huge = conv(1, 512, 128, 16, 5, 1, 2, 1, 1, false, 0, ConvPass.FORWARD, false);
        assertTrue(CONV.getFirst().supports(huge).reason().contains("exceeds 64 MiB"), CONV.getFirst().supports(huge).reason());
        assertEquals("cuda-conv-direct", chosen(huge));
    }

    @Test void scratchHoldsWholeImagesWithinTheBudget() {
        ConvDesc d = conv(64, 64, 56, 64, 3, 1, 1, 1, 1, false, 0, ConvPass.FORWARD, false);   // 56 x 57 output
        long perImage = 64L * 9 * 56 * 57;
        int chunk = CudaConvGemm.chunk(d, Integer.MAX_VALUE);
        assertEquals(CudaConvGemm.SCRATCH_ELEMENTS / perImage, chunk);
        assertEquals(chunk * perImage, CudaConvGemm.scratchElements(d, Integer.MAX_VALUE));
        assertTrue(CudaConvGemm.scratchElements(d, Integer.MAX_VALUE) <= CudaConvGemm.SCRATCH_ELEMENTS);
        assertEquals(3 * perImage, CudaConvGemm.scratchElements(d, 3), "a chunk cap");
        ConvDesc small = conv(5, 16, 7, 16, 3, 1, 1, 1, 1, false, 0, ConvPass.FORWARD, false);
        assertEquals(5, CudaConvGemm.chunk(small, Integer.MAX_VALUE), "never more images than the batch");
        assertEquals(5L * 16 * 9 * 7 * 8, CudaConvGemm.scratchElements(small, Integer.MAX_VALUE));
    }

    private static ConvGemmSteps.Ref ref(ConvGemmSteps.Operand operand, long offset) { return new ConvGemmSteps.Ref(operand, offset); }

    @Test void gemmArgumentsOfEachPass() {
        // Regular, 2 groups: cx = 32, cy = 48, 3x3, 8 x 9 output: groupRows 144, plane 72, rows 288.
        ConvDesc f = conv(2, 32, 8, 48, 3, 1, 1, 1, 2, false, 0, ConvPass.FORWARD, false);
        List<ConvGemmSteps.Step> fwd = ConvGemmSteps.steps(f, 2);
        assertEquals(List.of(new ConvGemmSteps.Im2col(0, 2),
                new ConvGemmSteps.Gemm(false, false, 24, 72, 144, ref(ConvGemmSteps.Operand.W, 0L), 144, 0,
                        ref(ConvGemmSteps.Operand.COL, 0L), 72, 288 * 72, ref(ConvGemmSteps.Operand.Y, 0L), 72, 48 * 72, 0f, 2),
                new ConvGemmSteps.Gemm(false, false, 24, 72, 144, ref(ConvGemmSteps.Operand.W, 24L * 144), 144, 0,
                        ref(ConvGemmSteps.Operand.COL, 144L * 72), 72, 288 * 72, ref(ConvGemmSteps.Operand.Y, 24L * 72), 72, 48 * 72, 0f, 2)),
                fwd);
        List<ConvGemmSteps.Step> data = ConvGemmSteps.steps(f.withPass(ConvPass.BACKWARD_DATA), 1);
        assertEquals(6, data.size(), "per image: two group GEMMs then col2im");
        assertEquals(new ConvGemmSteps.Gemm(true, false, 144, 72, 24, ref(ConvGemmSteps.Operand.W, 24L * 144), 144, 0,
                ref(ConvGemmSteps.Operand.Y, 48L * 72 + 24 * 72), 72, 48 * 72, ref(ConvGemmSteps.Operand.COL, 144L * 72), 72, 288 * 72, 0f, 1),
                data.get(4));
        assertEquals(new ConvGemmSteps.Col2im(1, 1), data.get(5));
        List<ConvGemmSteps.Step> weights = ConvGemmSteps.steps(f.withPass(ConvPass.BACKWARD_WEIGHTS), 2);
        assertEquals(3, weights.size());
        assertEquals(new ConvGemmSteps.Gemm(false, true, 24, 144, 72, ref(ConvGemmSteps.Operand.Y, 48L * 72), 72, 24 * 72,
                ref(ConvGemmSteps.Operand.COL, 288L * 72), 72, 144 * 72, ref(ConvGemmSteps.Operand.W, 0L), 144, 24 * 144, 1f, 2),
                weights.get(2), "the second image accumulates, the groups are the GEMM batch");
        assertEquals(0f, ((ConvGemmSteps.Gemm) weights.get(1)).beta(), "the first image overwrites");
        // float4 flags: 72 and every offset are multiples of 4; an odd plane turns them off.
        assertEquals(7, ((ConvGemmSteps.Gemm) fwd.get(2)).flags());
        ConvGemmSteps.Gemm odd = (ConvGemmSteps.Gemm) ConvGemmSteps.steps(conv(1, 16, 6, 16, 3, 1, 1, 1, 1, false, 0, ConvPass.FORWARD, false), 1).get(1);
        assertEquals(42, odd.n());
        assertEquals(1, odd.flags(), "lda 144 keeps float4 on A; ldb = ldc = 42 rule it out on B and C");
        assertEquals(1 | 4, CudaGemm.flags(144, 0, 0, 56, 100, 2, 56, 0, 0, 1), "an offset of 2 elements forbids float4 on B");
    }

    @Test void decompositionMatchesTheReferenceConvolution() {
        Random rnd = new Random(6);
        List<ConvDesc> shapes = new ArrayList<>(List.of(
                conv(3, 5, 7, 6, 3, 1, 1, 1, 1, false, 0, ConvPass.FORWARD, true),
                conv(2, 4, 9, 6, 3, 2, 1, 2, 2, false, 0, ConvPass.FORWARD, true),
                conv(2, 6, 5, 4, 3, 2, 1, 1, 2, true, 1, ConvPass.FORWARD, true),
                conv(3, 3, 6, 5, 2, 3, 0, 1, 1, true, 2, ConvPass.FORWARD, false),
                conv(2, 16, 6, 17, 3, 1, 1, 1, 1, false, 0, ConvPass.FORWARD, true),
                new ConvDesc(3, 4, 1, 33, 8, 1, 5, 1, 2, 0, 2, 1, 2, 2, false, 0, 0, ConvPass.FORWARD, true)));
        int checked = 0;
        for (ConvDesc base : shapes)
            for (ConvPass pass : ConvPass.values())
                for (int maxChunk : new int[] {1, 2, Integer.MAX_VALUE}) {
                    ConvDesc d = base.withPass(pass).withBias(base.bias() && pass == ConvPass.FORWARD);
                    compare(d, maxChunk, rnd);
                    checked++;
                }
        assertEquals(shapes.size() * 9, checked);
    }

    /** Runs the steps of {@code d} in the CPU model, outputs and scratch poisoned with NaN first, against RefKernels. */
    private static void compare(ConvDesc d, int maxChunk, Random rnd) {
        float[] src = random(d.srcCount(), rnd), dst = random(d.dstCount(), rnd), w = random(d.weightCount(), rnd), bias = random(d.k(), rnd);
        Map<Arg, float[]> in = new EnumMap<>(Arg.class);
        Arg out;
        switch (d.pass()) {
            case FORWARD -> { in.put(Arg.SRC, src); in.put(Arg.WEIGHTS, w); if (d.bias()) in.put(Arg.BIAS, bias); out = Arg.DST; }
            case BACKWARD_DATA -> { in.put(Arg.DIFF_DST, dst); in.put(Arg.WEIGHTS, w); out = Arg.DIFF_SRC; }
            default -> { in.put(Arg.SRC, src); in.put(Arg.DIFF_DST, dst); out = Arg.DIFF_WEIGHTS; }
        }
        long outCount = switch (out) { case DST -> d.dstCount(); case DIFF_SRC -> d.srcCount(); default -> d.weightCount(); };
        float[] expected = new float[(int) outCount];
        Args args = Args.of(out, HostBuffer.wrap(expected));
        for (var e : in.entrySet()) args.put(e.getKey(), HostBuffer.wrap(e.getValue()));
        RefKernels.run(d, args);

        Map<ConvGemmSteps.Operand, float[]> t = new EnumMap<>(ConvGemmSteps.Operand.class);
        Map<Arg, float[]> all = new EnumMap<>(in);
        float[] actual = new float[(int) outCount];
        Arrays.fill(actual, Float.NaN);
        all.put(out, actual);
        for (var e : CudaConvGemm.operands(d).entrySet()) t.put(e.getKey(), all.get(e.getValue()));
        float[] col = new float[(int) CudaConvGemm.scratchElements(d, maxChunk)];
        Arrays.fill(col, Float.NaN);
        t.put(ConvGemmSteps.Operand.COL, col);
        ConvGeometry g = ConvGeometry.of(d);
        for (ConvGemmSteps.Step step : ConvGemmSteps.steps(d, CudaConvGemm.chunk(d, maxChunk))) {
            switch (step) {
                case ConvGemmSteps.Im2col c -> im2col(g, t.get(ConvGemmSteps.Operand.X), c.xOffset(g), col, c.images());
                case ConvGemmSteps.Col2im c -> col2im(g, col, t.get(ConvGemmSteps.Operand.X), c.xOffset(g),
                        d.bias() && d.pass() == ConvPass.FORWARD ? bias : null, c.images());
                case ConvGemmSteps.Gemm m -> gemm(m, t);
            }
        }
        if (d.bias() && d.pass() == ConvPass.FORWARD && !d.transposed())
            for (int i = 0; i < actual.length; i++) actual[i] += bias[(i / (d.p() * d.q())) % d.k()];   // conv_bias_add
        for (int i = 0; i < actual.length; i++)
            if (!(Math.abs(actual[i] - expected[i]) <= 1e-4f * (1 + Math.abs(expected[i]))))
                fail(d + " maxChunk " + maxChunk + ": element " + i + " is " + actual[i] + ", reference " + expected[i]);
    }

    private static float[] random(long count, Random rnd) {
        float[] a = new float[(int) count];
        for (int i = 0; i < a.length; i++) a[i] = rnd.nextFloat() * 2 - 1;
        return a;
    }

    /** im2col.cu's im2col, element by element. */
    private static void im2col(ConvGeometry g, float[] x, long xOffset, float[] col, int images) {
        int plane = g.hy() * g.wy(), rs = g.r() * g.s();
        long rows = (long) g.cx() * rs, total = images * rows * plane;
        for (long at = 0; at < total; at++) {
            int e = (int) (at % plane);
            long row = at / plane;
            int kk = (int) (row % rows), b = (int) (row / rows);
            int i = kk / rs, ry = (kk % rs) / g.s(), sx = kk % g.s();
            int iy = (e / g.wy()) * g.sh() - g.ph() + ry * g.dh(), ix = (e % g.wy()) * g.sw() - g.pw() + sx * g.dw();
            float v = 0;
            if (iy >= 0 && iy < g.hx() && ix >= 0 && ix < g.wx()) v = x[(int) (xOffset + (((long) b * g.cx() + i) * g.hx() + iy) * g.wx() + ix)];
            col[(int) at] = v;
        }
    }

    /** im2col.cu's col2im: each X element gathers its taps. */
    private static void col2im(ConvGeometry g, float[] col, float[] x, long xOffset, float[] bias, int images) {
        int xplane = g.hx() * g.wx(), yplane = g.hy() * g.wy();
        long total = (long) images * g.cx() * xplane;
        for (long at = 0; at < total; at++) {
            int pos = (int) (at % xplane);
            long bi = at / xplane;
            int i = (int) (bi % g.cx()), iy = pos / g.wx(), ix = pos % g.wx();
            long cb = bi * g.r() * g.s() * yplane;
            float sum = 0;
            for (int ry = 0; ry < g.r(); ry++) {
                int ty = iy + g.ph() - ry * g.dh();
                if (ty < 0 || ty % g.sh() != 0 || ty / g.sh() >= g.hy()) continue;
                for (int sx = 0; sx < g.s(); sx++) {
                    int tx = ix + g.pw() - sx * g.dw();
                    if (tx < 0 || tx % g.sw() != 0 || tx / g.sw() >= g.wy()) continue;
                    sum += col[(int) (cb + (long) (ry * g.s() + sx) * yplane + (ty / g.sh()) * g.wy() + tx / g.sw())];
                }
            }
            x[(int) (xOffset + at)] = bias != null ? sum + bias[i] : sum;
        }
    }

    /** gemm.cu's contract: op(A) element (i, p) at A[p lda + i] when transposed, else A[i lda + p]; beta 0 never reads C. */
    private static void gemm(ConvGemmSteps.Gemm m, Map<ConvGemmSteps.Operand, float[]> t) {
        float[] a = t.get(m.a().operand()), b = t.get(m.b().operand()), c = t.get(m.c().operand());
        for (int z = 0; z < m.batch(); z++) {
            long oa = m.a().offset() + z * m.strideA(), ob = m.b().offset() + z * m.strideB(), oc = m.c().offset() + z * m.strideC();
            for (int i = 0; i < m.m(); i++)
                for (int j = 0; j < m.n(); j++) {
                    float acc = 0;
                    for (int p = 0; p < m.k(); p++)
                        acc += at(a, oa + (m.transA() ? (long) p * m.lda() + i : (long) i * m.lda() + p))
                                * at(b, ob + (m.transB() ? (long) j * m.ldb() + p : (long) p * m.ldb() + j));
                    long ci = oc + (long) i * m.ldc() + j;
                    at(c, ci);
                    c[(int) ci] = m.beta() == 0 ? acc : acc + m.beta() * c[(int) ci];
                }
        }
    }

    /** A bounds-checked read: a step reaching outside its operand would be an out-of-bounds access on the device. */
    private static float at(float[] a, long i) {
        if (i < 0 || i >= a.length) fail("index " + i + " outside an operand of " + a.length + " elements");
        return a[(int) i];
    }
}
