package dev.kiln.cpu.eltwise;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Lanes;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.BinaryOp;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Backward pass of the broadcasting binary ops, f32: DIFF_SRC and DIFF_SRC2, each the sum of its terms over
 * the dimensions the operand was broadcast along (ADD g, g; SUB g, -g; MUL g*b, g*a; DIV g/b, -(g*a/b)/b;
 * MAX/MIN g to SRC where src >= src2 (src <= src2), else to SRC2, so ties and NaN follow the reference).
 *
 * <p>Each gradient is computed on its own over the rows of {@link BroadcastRows}, split by whether the
 * operand steps along a row:
 * <ul>
 * <li>it does: a gradient row collects the result rows that map onto it, added in row order straight into
 *     the gradient (the same-shape case is one term each; a bias gradient over N rows is N rows added);
 *     tasks own column blocks of gradient rows;</li>
 * <li>it does not (a per-row or per-channel value): the terms of the result rows it covers are added the same
 *     way into a scratch row of up to {@value #BLOCK} columns, which is then summed (lanes in order, then the
 *     tail); tasks own groups of gradient elements.</li>
 * </ul>
 * Every gradient element belongs to one task and is summed in a fixed order, so any thread count gives the
 * same bits. Sums are f32; the parity tolerance scales with the sum of |terms|. The op is chosen per vector by
 * a switch whose every case stores its own result (C2 boxes a vector merged from several branches).
 */
final class BinaryBackward {
    private BinaryBackward() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Gradient columns per task unit when the operand steps along rows (a multiple of every lane count). */
    static final int BLOCK = 2048;

    static void run(Width w, BinaryDesc d, Args args) {
        if (d.out().count() == 0) {
            // No terms: every gradient element is an empty sum.
            args.host(Arg.DIFF_SRC).fill((byte) 0);
            args.host(Arg.DIFF_SRC2).fill((byte) 0);
            return;
        }
        BroadcastRows rows = BroadcastRows.of(d);
        Operands o = new Operands(args.host(Arg.SRC), args.host(Arg.SRC2), args.host(Arg.DIFF_DST), rows);
        gradient(w, d.op(), true, o, args.host(Arg.DIFF_SRC), d.a().count());
        gradient(w, d.op(), false, o, args.host(Arg.DIFF_SRC2), d.b().count());
    }

    private record Operands(MemorySegment a, MemorySegment b, MemorySegment g, BroadcastRows rows) {}

    /**
     * Writes the gradient of the first operand ({@code forA}) or the second into {@code dx} ({@code count}
     * elements). The outer dimensions split into the operand's own (non-zero stride: they index dx) and the
     * ones it is broadcast along (zero stride: summed).
     */
    private static void gradient(Width w, BinaryOp op, boolean forA, Operands o, MemorySegment dx, long count) {
        BroadcastRows r = o.rows();
        long[] sx = forA ? r.sa() : r.sb();
        int kept = 0;
        for (long s : sx) if (s != 0) kept++;
        int[] keptAt = new int[kept], sumAt = new int[sx.length - kept];
        long keptRows = 1, sumRows = 1;
        for (int j = 0, k = 0, m = 0; j < sx.length; j++) {
            if (sx[j] != 0) { keptAt[k++] = j; keptRows *= r.outer()[j]; }
            else { sumAt[m++] = j; sumRows *= r.outer()[j]; }
        }
        boolean xRow = forA ? r.aRow() : r.bRow();
        Term term = Term.of(op, forA);
        int n = r.n();
        long rowsSummed = sumRows, ownRows = keptRows;
        if (xRow) {
            int block = block(keptRows, n), blocks = Math.ceilDiv(n, block);
            long units = keptRows * blocks;
            long perTask = Math.max(1, VectorUnary.CHUNK / (sumRows * Math.min(n, block)));
            CpuThreads.parallelFor(Math.toIntExact(Math.ceilDiv(units, perTask)), t -> {
                Scratch sc = new Scratch(r, keptAt, sumAt);
                long u = t * perTask, end = Math.min(units, u + perTask);
                sc.keep.seek(u / blocks);
                for (; u < end; u++) {
                    int c0 = (int) (u % blocks) * block, len = Math.min(block, n - c0);
                    if (c0 == 0 && u != t * perTask) sc.keep.next();
                    long xi = (forA ? sc.keep.a : sc.keep.b) + c0;
                    sumRows(w, term, o, sc, rowsSummed, c0, len, dx, xi * 4);
                }
            });
        } else {
            assert count == keptRows : count + " vs " + keptRows;
            long perTask = Math.max(1, VectorUnary.CHUNK / (sumRows * n));
            CpuThreads.parallelFor(Math.toIntExact(Math.ceilDiv(keptRows, perTask)), t -> {
                Scratch sc = new Scratch(r, keptAt, sumAt);
                long kr = t * perTask, end = Math.min(ownRows, kr + perTask);
                sc.keep.seek(kr);
                for (; kr < end; kr++, sc.keep.next()) {
                    long xi = forA ? sc.keep.a : sc.keep.b;
                    float total = 0;
                    // Pieces of BLOCK columns: the terms of every summed row added into acc, then acc summed.
                    for (int c0 = 0; c0 < n; c0 += BLOCK) {
                        int len = Math.min(BLOCK, n - c0);
                        sumRows(w, term, o, sc, rowsSummed, c0, len, sc.acc, 0);
                        total += sum(w, sc.acc, len);
                    }
                    dx.setAtIndex(F, xi, total);
                }
            });
        }
    }

    /**
     * target[to..] = the terms of the {@code rows} summed result rows (the {@code sum} walker's, beside the {@code keep}
     * walker's position), columns c0 to c0+len, added row after row. Terms that are plain +-g (ADD, SUB: bias and
     * residual gradients) go four rows per pass over target, in the same order, so the same bits.
     */
    private static void sumRows(Width w, Term term, Operands o, Scratch sc, long rows, int c0, int len, MemorySegment target, long to) {
        int n = o.rows().n();
        sc.sum.seek(0);
        long sr = 0;
        if (!term.readsA && !term.readsB) {
            for (; sr + 4 <= rows; sr += 4) {
                for (int k = 0; k < 4; k++, sc.sum.next()) sc.rowAt[k] = ((sc.keep.row + sc.sum.row) * n + c0) * 4;
                addFourRowsOfG(w, term == Term.SUB_B ? -1f : 1f, o.g(), sc.rowAt, sc.zero, target, to, len, sr == 0);
            }
        }
        for (; sr < rows; sr++, sc.sum.next()) addTerms(w, term, o, sc, c0, len, target, to, sr == 0);
    }

    /** target[to..to+len) (=, when {@code first}, else +=) sign*g over four rows at byte offsets {@code at}, in row order. */
    private static void addFourRowsOfG(Width w, float sign, MemorySegment g, long[] at, MemorySegment zero, MemorySegment target,
                                       long to, int len, boolean first) {
        var s = w.floats();
        MemorySegment old = first ? zero : target;
        long oo = first ? 0 : to, os = first ? 0 : 4;
        long g0 = at[0], g1 = at[1], g2 = at[2], g3 = at[3];
        FloatVector vs = FloatVector.broadcast(s, sign);
        int l = s.length(), j = 0;
        for (; j <= len - l; j += l) {
            long jb = j * 4L;
            // acc - x equals acc + x * -1 exactly, so one loop serves both signs without merging vectors
            FloatVector.fromMemorySegment(s, old, oo + j * os, NATIVE)
                    .add(FloatVector.fromMemorySegment(s, g, g0 + jb, NATIVE).mul(vs))
                    .add(FloatVector.fromMemorySegment(s, g, g1 + jb, NATIVE).mul(vs))
                    .add(FloatVector.fromMemorySegment(s, g, g2 + jb, NATIVE).mul(vs))
                    .add(FloatVector.fromMemorySegment(s, g, g3 + jb, NATIVE).mul(vs))
                    .intoMemorySegment(target, to + jb, NATIVE);
        }
        for (; j < len; j++) {
            long jb = j * 4L;
            float acc = first ? 0f : target.get(F, to + jb);
            acc += g.get(F, g0 + jb) * sign;
            acc += g.get(F, g1 + jb) * sign;
            acc += g.get(F, g2 + jb) * sign;
            acc += g.get(F, g3 + jb) * sign;
            target.set(F, to + jb, acc);
        }
    }

    /**
     * One task's state: walkers over the operand's own outer dimensions ({@code keep}) and the summed ones
     * ({@code sum}), whose offsets add up to a result row's; repeated-operand and zero vectors; the scratch row.
     */
    private static final class Scratch {
        final BroadcastRows.Walker keep, sum;
        final MemorySegment aRep = VectorBinary.repeatScratch(0), bRep = VectorBinary.repeatScratch(1), zero = VectorBinary.repeatScratch(2);
        final MemorySegment acc = VectorBinary.scratchRow();
        /** Byte offsets of up to four result rows' g, for {@link #addFourRowsOfG}. */
        final long[] rowAt = new long[4];

        Scratch(BroadcastRows r, int[] keptAt, int[] sumAt) {
            keep = new BroadcastRows.Walker(r, keptAt);
            sum = new BroadcastRows.Walker(r, sumAt);
            zero.fill((byte) 0);
        }
    }

    /** The gradient term of one operand for one op: each is its own case so no vector merges across branches. */
    private enum Term {
        ADD(false, false), SUB_A(false, false), SUB_B(false, false), MUL_A(false, true), MUL_B(true, false),
        DIV_A(false, true), DIV_B(true, true), MAX_A(true, true), MAX_B(true, true), MIN_A(true, true), MIN_B(true, true);

        /** Whether the term reads SRC, SRC2. */
        final boolean readsA, readsB;

        Term(boolean readsA, boolean readsB) {
            this.readsA = readsA;
            this.readsB = readsB;
        }

        static Term of(BinaryOp op, boolean forA) {
            return switch (op) {
                case ADD -> ADD;
                case SUB -> forA ? SUB_A : SUB_B;
                case MUL -> forA ? MUL_A : MUL_B;
                case DIV -> forA ? DIV_A : DIV_B;
                case MAX -> forA ? MAX_A : MAX_B;
                case MIN -> forA ? MIN_A : MIN_B;
            };
        }
    }

    /**
     * target[to..] (=, when {@code first}, else +=) the terms of the result row where the walkers stand, columns c0
     * to c0+len: g contiguous, each operand contiguous or repeated (through the scratch vectors, step 0). {@code to} in
     * bytes. Every load is unconditional (an operand the term does not read, or the old sum when {@code first},
     * comes from a scratch vector at step 0: an L1 hit), so no vector merges across branches.
     */
    private static void addTerms(Width w, Term term, Operands o, Scratch sc, int c0, int len, MemorySegment target, long to,
                                 boolean first) {
        BroadcastRows r = o.rows();
        int n = r.n();
        long row = sc.keep.row + sc.sum.row, ai = sc.keep.a + sc.sum.a, bi = sc.keep.b + sc.sum.b;
        MemorySegment aRep = sc.aRep, bRep = sc.bRep, zero = sc.zero;
        boolean walkA = r.aRow() && term.readsA, walkB = r.bRow() && term.readsB;
        MemorySegment a = walkA ? o.a() : VectorBinary.repeat(aRep, o.a().getAtIndex(F, r.aRow() ? ai + c0 : ai));
        MemorySegment b = walkB ? o.b() : VectorBinary.repeat(bRep, o.b().getAtIndex(F, r.bRow() ? bi + c0 : bi));
        long ao = walkA ? (ai + c0) * 4 : 0, as = walkA ? 4 : 0, bo = walkB ? (bi + c0) * 4 : 0, bs = walkB ? 4 : 0;
        MemorySegment old = first ? zero : target;
        long oo = first ? 0 : to, os = first ? 0 : 4;
        long go = (row * n + c0) * 4;
        var s = w.floats();
        int l = s.length(), j = 0;
        for (; j <= len - l; j += l) {
            FloatVector g = FloatVector.fromMemorySegment(s, o.g(), go + j * 4L, NATIVE);
            FloatVector x = FloatVector.fromMemorySegment(s, a, ao + j * as, NATIVE);
            FloatVector y = FloatVector.fromMemorySegment(s, b, bo + j * bs, NATIVE);
            FloatVector acc = FloatVector.fromMemorySegment(s, old, oo + j * os, NATIVE);
            long at = to + j * 4L;
            switch (term) {
                case ADD -> acc.add(g).intoMemorySegment(target, at, NATIVE);
                case SUB_A -> acc.add(g).intoMemorySegment(target, at, NATIVE);
                case SUB_B -> acc.sub(g).intoMemorySegment(target, at, NATIVE);
                case MUL_A -> acc.add(g.mul(y)).intoMemorySegment(target, at, NATIVE);
                case MUL_B -> acc.add(g.mul(x)).intoMemorySegment(target, at, NATIVE);
                case DIV_A -> acc.add(g.div(y)).intoMemorySegment(target, at, NATIVE);
                case DIV_B -> acc.sub(g.mul(x).div(y).div(y)).intoMemorySegment(target, at, NATIVE);
                case MAX_A -> acc.add(g, x.compare(VectorOperators.GE, y)).intoMemorySegment(target, at, NATIVE);
                case MAX_B -> acc.add(g, x.compare(VectorOperators.GE, y).not()).intoMemorySegment(target, at, NATIVE);
                case MIN_A -> acc.add(g, x.compare(VectorOperators.LE, y)).intoMemorySegment(target, at, NATIVE);
                case MIN_B -> acc.add(g, x.compare(VectorOperators.LE, y).not()).intoMemorySegment(target, at, NATIVE);
            }
        }
        for (; j < len; j++) {
            long at = to + j * 4L;
            float t = term(term, o.g().get(F, go + j * 4L), a.get(F, ao + j * as), b.get(F, bo + j * bs));
            target.set(F, at, first ? 0f + t : target.get(F, at) + t);
        }
    }

    private static float term(Term term, float g, float a, float b) {
        return switch (term) {
            case ADD, SUB_A -> g;
            case SUB_B -> -g;
            case MUL_A -> g * b;
            case MUL_B -> g * a;
            case DIV_A -> g / b;
            case DIV_B -> -(g * a / b / b);
            case MAX_A -> a >= b ? g : 0f;
            case MAX_B -> a >= b ? 0f : g;
            case MIN_A -> a <= b ? g : 0f;
            case MIN_B -> a <= b ? 0f : g;
        };
    }

    /** Sum of {@code len} floats of {@code acc} from 0: lanes in order, then the tail. */
    private static float sum(Width w, MemorySegment acc, int len) {
        var s = w.floats();
        int l = s.length(), j = 0;
        FloatVector v = FloatVector.zero(s);
        for (; j <= len - l; j += l) v = v.add(FloatVector.fromMemorySegment(s, acc, j * 4L, NATIVE));
        float total = Lanes.sum(v);
        for (; j < len; j++) total += acc.getAtIndex(F, j);
        return total;
    }

    /** Gradient columns per task unit: {@value #BLOCK}, fewer (down to 64) when few rows would leave few units; shape only. */
    private static int block(long rows, int n) {
        if (rows * Math.ceilDiv(n, BLOCK) >= 8) return BLOCK;
        return (int) Math.max(64, Math.min(BLOCK, n * rows / 8 / 64 * 64));
    }
}
