package dev.kiln.cuda;

import dev.kiln.kernels.spi.ConvGeometry;
import dev.kiln.kernels.desc.ConvDesc;

import java.util.ArrayList;
import java.util.List;

/**
 * The im2col + GEMM decomposition of a convolution as a list of steps, worked out on the host from the
 * descriptor alone: {@link CudaConvGemm} launches them (im2col.cu and gemm.cu), and a test runs the same list
 * through a plain CPU model to check every m, n, k, leading dimension, stride and offset against the
 * reference convolution, without a GPU.
 *
 * <p>In the X / Y / W terms of {@link ConvGeometry} (W is cy x cxg*r*s, cxg = cx/groups), with
 * rows = cx*r*s, groupRows = cxg*r*s and plane = hy*wy, the scratch col holds a chunk of images as
 * col[b][rows][plane] (im2col.cu), each group's rows contiguous. Per chunk b0.. of {@code images}:
 * <ul>
 *   <li>FWD map (Y from X): im2col, then per group g one GEMM batched over the images:
 *       Y[b][g] (cyg x plane) = W[g] (cyg x groupRows, shared: stride 0) * col[b][g rows] (groupRows x plane).</li>
 *   <li>DATA map (X from Y): per group col[b][g rows] = W[g]^T * Y[b][g] (transposed A, batched over images),
 *       then col2im gathers each X element's taps.</li>
 *   <li>WEIGHTS: im2col, then image after image one GEMM batched over the groups:
 *       dW[g] (cyg x groupRows) = Y[b][g] (cyg x plane) * col[b][g rows]^T (transposed B), beta 0 for the
 *       batch's first image and 1 after, so the batch sum has a fixed order and each dW element one owner.</li>
 * </ul>
 * Offsets are in elements from the start of the whole operand (X and Y include the chunk's first image).
 */
final class ConvGemmSteps {
    private ConvGemmSteps() {}

    /** The tensors a step reads or writes: X and Y of the regular convolution, the weights (or their gradient), the scratch. */
    enum Operand { X, Y, W, COL }

    /** An operand from element {@code offset} on. */
    record Ref(Operand operand, long offset) {}

    sealed interface Step permits Im2col, Col2im, Gemm {}

    /** col[0 .. images) = im2col of X images b0 .. b0+images. */
    record Im2col(int b0, int images) implements Step {
        long xOffset(ConvGeometry g) { return (long) b0 * g.cx() * g.hx() * g.wx(); }
    }

    /** X images b0 .. b0+images = col2im of col[0 .. images) (plus the bias where the plan has one). */
    record Col2im(int b0, int images) implements Step {
        long xOffset(ConvGeometry g) { return (long) b0 * g.cx() * g.hx() * g.wx(); }
    }

    /** One gemm.cu launch: C = op(A) op(B) + beta C, row-major, batch b at offset + b * stride (alpha 1, no epilogue). */
    record Gemm(boolean transA, boolean transB, int m, int n, int k,
                Ref a, int lda, long strideA, Ref b, int ldb, long strideB, Ref c, int ldc, long strideC,
                float beta, int batch) implements Step {
        /** gemm.cu's float4 flags for these leading dimensions, strides and offsets. */
        int flags() {
            return CudaGemm.flags(lda, strideA, a.offset(), ldb, strideB, b.offset(), ldc, strideC, c.offset(), batch);
        }
    }

    /** cx*r*s: the rows of col, the GEMM depth of the forward. */
    static long rows(ConvGeometry g) { return (long) g.cx() * g.r() * g.s(); }

    /** Scratch elements per image: rows x hy*wy. */
    static long colPerImage(ConvGeometry g) { return rows(g) * g.hy() * g.wy(); }

    /** Images per chunk: as many as fit {@code budgetElements} of scratch, at least one, at most n and {@code maxChunk}. */
    static int chunk(ConvGeometry g, long budgetElements, int maxChunk) {
        long fit = Math.max(1, budgetElements / Math.max(1, colPerImage(g)));
        return (int) Math.min(Math.min(g.n(), maxChunk), fit);
    }

    /** The steps of descriptor {@code d} worked through in chunks of {@code chunk} images (see the class comment). */
    static List<Step> steps(ConvDesc d, int chunk) {
        ConvGeometry g = ConvGeometry.of(d);
        ConvGeometry.Map map = ConvGeometry.map(d);
        int groups = g.groups(), cyg = g.cy() / groups, groupRows = g.cx() / groups * g.r() * g.s();
        int rows = (int) rows(g), plane = g.hy() * g.wy();
        long yImage = (long) g.cy() * plane, colImage = (long) rows * plane, wGroup = (long) cyg * groupRows;
        List<Step> steps = new ArrayList<>();
        for (int b0 = 0; b0 < g.n(); b0 += chunk) {
            int images = Math.min(chunk, g.n() - b0);
            switch (map) {
                case FWD -> {
                    steps.add(new Im2col(b0, images));
                    for (int grp = 0; grp < groups; grp++)
                        steps.add(new Gemm(false, false, cyg, plane, groupRows,
                                new Ref(Operand.W, grp * wGroup), groupRows, 0,
                                new Ref(Operand.COL, (long) grp * groupRows * plane), plane, colImage,
                                new Ref(Operand.Y, b0 * yImage + (long) grp * cyg * plane), plane, yImage,
                                0f, images));
                }
                case DATA -> {
                    for (int grp = 0; grp < groups; grp++)
                        steps.add(new Gemm(true, false, groupRows, plane, cyg,
                                new Ref(Operand.W, grp * wGroup), groupRows, 0,
                                new Ref(Operand.Y, b0 * yImage + (long) grp * cyg * plane), plane, yImage,
                                new Ref(Operand.COL, (long) grp * groupRows * plane), plane, colImage,
                                0f, images));
                    steps.add(new Col2im(b0, images));
                }
                case WEIGHTS -> {
                    steps.add(new Im2col(b0, images));
                    for (int b = 0; b < images; b++)
                        steps.add(new Gemm(false, true, cyg, groupRows, plane,
                                new Ref(Operand.Y, (b0 + b) * yImage), plane, (long) cyg * plane,
                                new Ref(Operand.COL, b * colImage), plane, (long) groupRows * plane,
                                new Ref(Operand.W, 0), groupRows, wGroup,
                                b0 + b == 0 ? 0f : 1f, groups));
                }
            }
        }
        return List.copyOf(steps);
    }
}
