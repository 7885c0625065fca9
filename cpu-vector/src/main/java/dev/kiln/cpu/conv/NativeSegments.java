package dev.kiln.cpu.conv;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

/**
 * Native segments as an exact type, so that a vector loop's speed does not depend on what ran before it in
 * the JVM.
 *
 * <p>Why: {@code FloatVector.fromMemorySegment} and {@code intoMemorySegment} reach the segment's base and
 * offset through virtual calls in JDK code, and C2 binds those from the type profile of that JDK code, which
 * every caller in the process shares. Once any kernel has loaded vectors from a heap segment ({@code
 * MemorySegment.ofArray}, e.g. im2col scratch, or a caller's wrapped {@code float[]}), the profile holds two
 * segment classes and every load in every later compiled loop carries a two-way type switch: measured on the
 * depthwise 3x3 forward after the dense convolutions had run, C2 took 7 s instead of 0.17 s to compile it
 * (116 KB of code instead of 21 KB) and the calls in between ran C1 code at about 100x the time. A loop
 * method that starts with {@code if (seg.getClass() != NativeSegments.CLASS) ...} (the comparison written
 * out there, not behind a helper) lets C2 treat the segment as exactly this class below the check, bind
 * those calls without any profile, and compile the loop as if it were alone in the process.
 *
 * <p>Loops that rely on this take native segments only; {@link #staged} gives them native copies of other
 * operands (heap arrays, mapped files) for the length of one call.
 */
final class NativeSegments {
    private NativeSegments() {}

    /** The class of the segments that arenas allocate ({@code HostBuffer.allocate}); a zero-length one has it too. */
    static final Class<?> CLASS = MemorySegment.ofAddress(0).getClass();

    /** Whether every operand present in {@code a} is a segment of exactly {@link #CLASS}. */
    static boolean all(OpDesc d, Args a) {
        for (ArgSpec s : d.args())
            if (a.has(s.arg()) && a.host(s.arg()).getClass() != CLASS) return false;
        return true;
    }

    /**
     * Runs {@code op} on native copies of {@code a}'s operands (all copied in, so an output element the op
     * leaves alone keeps its value; outputs copied back after it returns; all freed on every path), for callers whose buffers are not native: one extra read and write
     * of each operand instead of a loop compiled for two segment classes.
     */
    static void staged(OpDesc d, Args a, Consumer<Args> op) {
        try (Arena arena = Arena.ofShared()) {
            Args copies = Args.of();
            for (ArgSpec s : d.args()) {
                if (!a.has(s.arg())) continue;
                MemorySegment from = a.host(s.arg());
                MemorySegment to = arena.allocate(Math.max(1, from.byteSize()), 64).asSlice(0, from.byteSize());
                MemorySegment.copy(from, 0, to, 0, from.byteSize());
                copies.put(s.arg(), HostBuffer.wrap(to, s.dtype()));
            }
            op.accept(copies);
            for (ArgSpec s : d.args())
                if (a.has(s.arg()) && s.access().writes())
                    MemorySegment.copy(copies.host(s.arg()), 0, a.host(s.arg()), 0, a.host(s.arg()).byteSize());
        }
    }
}
