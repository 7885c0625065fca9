package dev.kiln.cuda;

import dev.kiln.kernels.spi.ConvGeometry;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.spi.BroadcastFold;
import dev.kiln.kernels.desc.BinaryOp;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.desc.NormDesc;
import dev.kiln.kernels.desc.NormDesc.Mode;
import dev.kiln.kernels.desc.NormDesc.NormKind;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PixelShuffleDesc;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.spi.Support;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Host-side halves of the new kernels that need no GPU: broadcast folding (checked by evaluating the folded
 * index map against the plain broadcast rule), conv maps, tiles and launch shapes, norm set layouts, the
 * argument counts of each launch against the kernel's parameter list.
 */
class CudaLaunchTest {
    /** Element of operand {@code s} that output element {@code out} of {@code o} reads under numpy broadcasting. */
    private static long plainIndex(Shape o, Shape s, long out) {
        long idx = 0, step = 1, rest = out;
        int[] coord = new int[o.rank()];
        for (int j = o.rank() - 1; j >= 0; j--) { coord[j] = (int) (rest % o.dim(j)); rest /= o.dim(j); }
        for (int i = s.rank() - 1; i >= 0; i--) {
            int c = s.dim(i) == 1 ? 0 : coord[o.rank() - s.rank() + i];
            idx += c * step;
            step *= s.dim(i);
        }
        return idx;
    }

    /** broadcast_fwd's index computation over the padded folded geometry, in Java. */
    private static long[] foldedIndex(Object[] args, long out) {
        int rank = CudaBroadcast.RANK;
        long rest = out, ia = 0, ib = 0;
        for (int j = rank - 1; j >= 0; j--) {
            int d = (Integer) args[j];
            long c = rest % d;
            rest /= d;
            ia += c * (Long) args[rank + j];
            ib += c * (Long) args[2 * rank + j];
        }
        return new long[] {ia, ib};
    }

    @Test void foldingKeepsEveryElementsOperandsAndMergesWhatItCan() {
        Shape[][] cases = {
                {Shape.of(8, 33, 65), Shape.of(33, 1)}, {Shape.of(64, 128), Shape.of(128)}, {Shape.of(2, 1, 3), Shape.of(2, 5, 3)},
                {Shape.of(7), Shape.of(1)}, {Shape.of(1), Shape.of(3, 1, 4)}, {Shape.of(3, 1, 5, 1, 2), Shape.of(4, 1, 6, 1)},
                {Shape.of(2, 3, 4), Shape.of(2, 3, 4)}, {Shape.of(1, 1), Shape.of(1)}};
        for (Shape[] c : cases) {
            BinaryDesc d = new BinaryDesc(BinaryOp.ADD, c[0], c[1]);
            assertTrue(CudaBroadcast.check(d).ok(), d.shape());
            Object[] args = BroadcastFold.of(d).args(CudaBroadcast.RANK);
            assertEquals(18, args.length);
            Shape o = d.out();
            for (long e = 0; e < o.count(); e++) {
                long[] got = foldedIndex(args, e);
                assertEquals(plainIndex(o, c[0], e), got[0], d.shape() + " element " + e + " of src");
                assertEquals(plainIndex(o, c[1], e), got[1], d.shape() + " element " + e + " of src2");
            }
        }
        assertArrayEquals(new int[] {8, 33, 65}, BroadcastFold.of(new BinaryDesc(BinaryOp.MUL, Shape.of(8, 33, 65), Shape.of(33, 1))).dims());
        assertArrayEquals(new int[] {64, 128}, BroadcastFold.of(new BinaryDesc(BinaryOp.MUL, Shape.of(64, 128), Shape.of(128))).dims());
        assertArrayEquals(new int[] {24}, BroadcastFold.of(new BinaryDesc(BinaryOp.MUL, Shape.of(2, 3, 4), Shape.of(2, 3, 4))).dims());
    }

    @Test void foldedRankAboveSixIsDeclinedWithTheShapes() {
        // Alternating broadcast dimensions cannot merge: 7 folded dimensions.
        BinaryDesc d = new BinaryDesc(BinaryOp.SUB, Shape.of(2, 1, 2, 1, 2, 1, 2), Shape.of(1, 3, 1, 3, 1, 3, 1));
        Support s = CudaBroadcast.check(d);
        assertFalse(s.ok());
        assertTrue(s.reason().contains("7 dimensions") && s.reason().contains("at most 6"), s.reason());
    }

    /** Parameters of each conv.cu kernel, counted from its signature. */
    private static final int GEOM = 16;

    @Test void convMapsTilesAndGridsFollowTheDescriptor() {
        SplittableRandom r = new SplittableRandom(6);
        for (int i = 0; i < 300; i++) {
            int groups = 1 + r.nextInt(3), c = groups * (1 + r.nextInt(10)), k = groups * (1 + r.nextInt(10));
            boolean transposed = r.nextBoolean();
            int stride = 1 + r.nextInt(3), dil = 1 + r.nextInt(2), ks = 1 + r.nextInt(3), h = ks * dil + r.nextInt(9), w = ks * dil + r.nextInt(9);
            int outPad = transposed ? r.nextInt(Math.max(stride, dil)) : 0;
            ConvPass pass = ConvPass.values()[r.nextInt(3)];
            ConvDesc d = new ConvDesc(1 + r.nextInt(70000), c, h, w, k, ks, ks, stride, stride, r.nextInt(ks), r.nextInt(ks), dil, dil,
                    groups, transposed, outPad, outPad, pass, pass != ConvPass.BACKWARD_DATA && r.nextBoolean());
            ConvGeometry g = ConvGeometry.of(d);
            ConvGeometry.Map map = ConvGeometry.map(d);
            // The wide side is the one with dst's channels exactly when a transposed conv is not computing weights.
            assertEquals(transposed ? d.k() : d.c(), g.cx());
            assertEquals(transposed ? d.p() : d.h(), g.hx());
            assertEquals(map == ConvGeometry.Map.FWD, pass == (transposed ? ConvPass.BACKWARD_DATA : ConvPass.FORWARD), d.toString());
            CudaConv.Launch l = CudaConv.launch(d);
            int perGroup = map == ConvGeometry.Map.DATA ? g.cx() / groups : g.cy() / groups;
            int tile = Integer.parseInt(l.entry().substring(l.entry().lastIndexOf('_') + 1));
            assertTrue(DeviceCode.Family.CONV.entries().contains(l.entry()), l.entry());
            assertEquals(CudaConv.tile(perGroup), tile, d.toString());
            if (map == ConvGeometry.Map.WEIGHTS) {
                long jobs = (long) groups * Math.ceilDiv(perGroup, tile) * (g.cx() / groups) * ks * ks;
                assertEquals(Math.min(jobs, CudaConv.MAX_WEIGHT_BLOCKS), l.gx(), "a block per job, up to the cap (the kernel loops)");
                assertEquals(CudaConv.WEIGHT_THREADS, l.threads(), "the block its shared tree is written for");
                assertEquals(1, l.gy());
                assertEquals(1, l.gz());
                assertTrue(CudaConv.weightSharedBytes(tile) <= 48 * 1024, "static shared memory within 48 KiB");
            } else {
                assertTrue(l.threads() % 32 == 0 && l.threads() >= 32 && l.threads() <= CudaConv.POSITION_THREADS, "whole warps: " + l.threads());
                long extent = map == ConvGeometry.Map.FWD ? (long) g.hy() * g.wy() : (long) g.hx() * g.wx();
                assertTrue((long) l.gx() * l.threads() >= extent && (long) (l.gx() - 1) * l.threads() < extent, "x covers the positions once");
                assertTrue(l.gy() >= 1 && l.gy() <= 65535 && l.gz() >= 1 && l.gz() <= 65535, "grid y/z within limits (the kernel loops)");
                assertEquals(Math.min(groups * Math.ceilDiv(perGroup, tile), 65535), l.gy());
                assertEquals(Math.min(d.n(), 65535), l.gz());
            }
            assertEquals(GEOM, g.args().length);
        }
    }

    @Test void tilesNeverExceedTheChannelsPerGroup() {
        for (int ch = 1; ch <= 40; ch++) {
            int t = CudaConv.tile(ch);
            assertTrue(t <= ch && DeviceCode.CONV_TILES.contains(t), ch + " -> " + t);
            assertEquals(ch >= 8 ? 8 : ch >= 4 ? 4 : 1, t);
        }
    }

    @Test void depthwiseUsesOneChannelTiles() {
        ConvDesc dw = new ConvDesc(2, 32, 9, 9, 32, 3, 3, 1, 1, 1, 1, 1, 1, 32, false, 0, 0, ConvPass.FORWARD, true);
        assertEquals("conv_fwd_1", CudaConv.launch(dw).entry());
        assertEquals("conv_data_1", CudaConv.launch(dw.withPass(ConvPass.BACKWARD_DATA).withBias(false)).entry());
        ConvDesc wide = new ConvDesc(2, 5, 9, 9, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, 0, 0, ConvPass.FORWARD, false);
        assertEquals("conv_fwd_8", CudaConv.launch(wide).entry());
        assertEquals("conv_data_4", CudaConv.launch(wide.withPass(ConvPass.BACKWARD_DATA)).entry(), "5 input channels: tile 4");
        assertEquals("conv_weights_8", CudaConv.launch(wide.withPass(ConvPass.BACKWARD_WEIGHTS)).entry());
        ConvDesc small = new ConvDesc(1, 1, 1, 3, 1, 1, 3, 1, 1, 0, 0, 1, 1, 1, false, 0, 0, ConvPass.FORWARD, false);
        assertEquals(32, CudaConv.launch(small).threads(), "a one-position plane still gets a whole warp");
    }

    @Test void normSetsDescribeChannelsOrRows() {
        NormDesc batch = new NormDesc(NormKind.BATCH, 7, 33, 17, 1e-5, Mode.TRAINING);
        assertArrayEquals(new Object[] {33, 7 * 17, 17, 33L * 17, 17L, 1}, CudaNorm.setArgs(batch));
        NormDesc layer = new NormDesc(NormKind.LAYER, 7, 33, 1, 1e-5, Mode.BACKWARD);
        assertArrayEquals(new Object[] {7, 33, 33, 0L, 33L, 0}, CudaNorm.setArgs(layer));
        // Every element of every set is visited once: NORM_AT over (set, e) is a bijection onto the tensor.
        for (NormDesc d : new NormDesc[] {batch, layer}) {
            Object[] a = CudaNorm.setArgs(d);
            int sets = (Integer) a[0], per = (Integer) a[1], inner = (Integer) a[2];
            long outer = (Long) a[3], setStride = (Long) a[4];
            boolean[] seen = new boolean[(int) d.count()];
            for (int st = 0; st < sets; st++)
                for (int e = 0; e < per; e++) {
                    int at = (int) ((long) (e / inner) * outer + st * setStride + e % inner);
                    assertFalse(seen[at], "visited twice: " + at);
                    seen[at] = true;
                }
            for (boolean b : seen) assertTrue(b);
        }
        assertEquals(65535, CudaNorm.setBlocks(new NormDesc(NormKind.LAYER, 100_000, 3, 1, 1e-5, Mode.TRAINING)));
    }

    @Test void poolAndPixelShuffleNamesAndSides() {
        for (PoolKind k : PoolKind.values())
            for (Pass p : Pass.values()) {
                String e = CudaPool.entry(new PoolDesc(k, 1, 1, 4, 4, 2, 2, 2, 2, 0, 0, false, p));
                assertTrue(DeviceCode.Family.POOL.entries().contains(e), e);
            }
        // the kernel always writes INDICES: max forward without them is declined (the caller then keeps them)
        Support bare = CudaPool.check(PoolDesc.of(PoolKind.MAX, 1, 1, 4, 4, 2, 2, 0).withoutIndices());
        assertFalse(bare.ok());
        assertTrue(bare.reason().contains("without indices"), bare.reason());
        assertTrue(CudaPool.check(PoolDesc.of(PoolKind.MAX, 1, 1, 4, 4, 2, 2, 0)).ok());
        assertArrayEquals(new int[] {12, 5, 7}, CudaPixelShuffle.smallSide(new PixelShuffleDesc(2, 12, 5, 7, 2, false, dev.kiln.kernels.DType.F32)));
        assertArrayEquals(new int[] {12, 5, 7}, CudaPixelShuffle.smallSide(new PixelShuffleDesc(2, 3, 10, 14, 2, true, dev.kiln.kernels.DType.F32)));
    }
}
