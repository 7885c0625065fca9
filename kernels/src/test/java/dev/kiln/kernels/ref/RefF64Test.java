package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.*;
import dev.kiln.kernels.spi.F32Only;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.verify.Parity;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The f64 path of every reference kernel that has one, against its f32 path: on the parity harness's
 * cases with inputs that are floats, both compute in double from the same values, so the f64 result rounded
 * to float must equal the f32 result bit for bit (NaN poison included, which also shows that no output was
 * left unwritten). And the f64 outputs must not already be floats everywhere: the f64 path keeps the digits.
 */
class RefF64Test {
    static OpDesc inF64(OpDesc d) {
        return switch (d) {
            case UnaryDesc u -> u.withDType(DType.F64);
            case BinaryDesc b -> b.withDType(DType.F64);
            case ConvDesc c -> c.withDType(DType.F64);
            case NormDesc n -> n.withDType(DType.F64);
            case PoolDesc p -> p.withDType(DType.F64);
            case SoftmaxDesc s -> s.withDType(DType.F64);
            case ReduceDesc r -> r.withDType(DType.F64);
            case PixelShuffleDesc p -> p.withDType(DType.F64);
            default -> throw new IllegalArgumentException("no f64 reference for " + d.opName());
        };
    }

    @ParameterizedTest
    @EnumSource(value = OpKind.class, names = {"UNARY", "BINARY", "CONV", "NORM", "POOL", "SOFTMAX", "REDUCE", "PIXEL_SHUFFLE"})
    void f64RoundsToTheF32Result(OpKind kind) {
        long seed = 7;
        int compared = 0;
        boolean sawExtraDigits = false;
        for (OpDesc d32 : Parity.cases(kind, 12)) {
            OpDesc d64 = inF64(d32);
            assertEquals(DType.F64, d64.dtype());
            Map<Arg, HostBuffer> in32 = Parity.inputs(d32, seed++);
            List<HostBuffer> owned = new ArrayList<>(in32.values());
            try {
                Args a32 = Args.of(), a64 = Args.of();
                for (Map.Entry<Arg, HostBuffer> e : in32.entrySet()) {
                    HostBuffer b = e.getValue();
                    HostBuffer wide = b.dtype() == DType.F32 ? HostBuffer.allocate(null, DType.F64, b.count()) : HostBuffer.allocate(null, b.dtype(), b.count());
                    owned.add(wide);
                    MemorySegment from = b.hostSegment(), to = wide.hostSegment();
                    if (b.dtype() == DType.F32)
                        for (long i = 0; i < b.count(); i++) to.setAtIndex(ValueLayout.JAVA_DOUBLE, i, from.getAtIndex(ValueLayout.JAVA_FLOAT, i));
                    else
                        MemorySegment.copy(from, 0, to, 0, from.byteSize());
                    a32.put(e.getKey(), b);
                    a64.put(e.getKey(), wide);
                }
                Kernels.validate(d64, a64);
                RefKernels.run(d32, a32);
                RefKernels.run(d64, a64);
                for (ArgSpec out : d32.args()) {
                    if (!out.access().writes()) continue;
                    MemorySegment s32 = a32.host(out.arg()), s64 = a64.host(out.arg());
                    for (long i = 0; i < out.count(); i++) {
                        if (out.dtype() == DType.S32) {
                            assertEquals(s32.getAtIndex(ValueLayout.JAVA_INT, i), s64.getAtIndex(ValueLayout.JAVA_INT, i),
                                    d32.opName() + " " + d32.shape() + " " + out.arg() + "[" + i + "]");
                            continue;
                        }
                        float f = s32.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                        double w = s64.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
                        assertEquals(Float.floatToIntBits(f), Float.floatToIntBits((float) w),
                                d32.opName() + " " + d32.shape() + " " + out.arg() + "[" + i + "]: f32 " + f + ", f64 " + w);
                        sawExtraDigits |= Double.isFinite(w) && w != (float) w;
                    }
                }
                compared++;
            } finally {
                owned.forEach(HostBuffer::close);
            }
        }
        assertTrue(compared > 0, "no cases for " + kind);
        // Pixel shuffle only moves values: its outputs are the (float) inputs. Everything else computes new digits.
        if (kind != OpKind.PIXEL_SHUFFLE) assertTrue(sawExtraDigits, kind + ": the f64 path produced only float-representable values");
    }

    @Test void descriptorsTakeF32OrF64Only() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new UnaryDesc(UnaryOp.RELU, 4, Pass.FORWARD, DType.F16));
        assertTrue(e.getMessage().contains("relu") && e.getMessage().contains("f16"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SoftmaxDesc.rows(2, 3, false).withDType(DType.S32));
        assertThrows(IllegalArgumentException.class, () -> new BinaryDesc(BinaryOp.ADD, Shape.of(2), Shape.of(2), Pass.FORWARD, null));
        assertEquals(DType.F32, ConvDesc.conv2d(1, 1, 3, 3, 1, 3, 3, 1, 1).dtype(), "the default stays f32");
        // The f64 descriptor's operands are f64 (s32 indices stay s32).
        for (ArgSpec s : PoolDesc.of(PoolDesc.PoolKind.MAX, 1, 1, 4, 4, 2, 2, 0).withDType(DType.F64).args())
            assertEquals(s.arg() == Arg.INDICES ? DType.S32 : DType.F64, s.dtype(), s.arg().toString());
    }

    @Test void f32OnlyWrapperDeclinesF64WithAReason() {
        KernelImpl ref = RefKernels.impl(OpKind.UNARY), wrapped = F32Only.wrap(ref);
        UnaryDesc d = new UnaryDesc(UnaryOp.TANH, 5);
        assertTrue(wrapped.supports(d).ok());
        var no = wrapped.supports(d.withDType(DType.F64));
        assertFalse(no.ok());
        assertTrue(no.reason().contains("f32") && no.reason().contains("f64") && no.reason().contains("tanh"), no.reason());
        assertEquals(ref.name(), wrapped.name());
        assertEquals(OpKind.UNARY, wrapped.kind());
    }
}
