package dev.kiln.bench;

import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.desc.SoftmaxDesc;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The broadcast and axis cases of {@code kiln bench elementwise}: their shapes, skipped directions, errors, and a tiny run. */
class EltwiseBenchTest {
    @Test void shapedCasesHaveTheirLayouts() {
        List<OpBench.Case> cases = EltwiseBench.cases("add-channel,mul-column,sum-axis0,argmax,softmax-channel", "32768", "fwd,bwd");
        // reductions have no backward pass: 2 + 2 + 1 + 1 + 2
        assertEquals(8, cases.size(), cases.toString());
        BinaryDesc channel = (BinaryDesc) cases.get(0).desc();
        assertEquals(Shape.of(2, 64, 16, 16), channel.a());
        assertEquals(Shape.of(1, 64, 1, 1), channel.b());
        assertEquals(Shape.of(32, 1), ((BinaryDesc) cases.get(2).desc()).b());
        assertEquals(new ReduceDesc(dev.kiln.kernels.desc.ReduceOp.SUM, 1, 32, 1024), cases.get(4).desc());
        assertEquals("32x[1024]", cases.get(5).shape());
        SoftmaxDesc s = (SoftmaxDesc) cases.get(7).desc();
        assertEquals(List.of(2, 64, 256), List.of(s.outer(), s.length(), s.inner()));
        assertEquals("bwd", cases.get(7).direction());
    }

    @Test void badRequestsSayWhy() {
        IllegalArgumentException size = assertThrows(IllegalArgumentException.class, () -> EltwiseBench.cases("add-channel", "1024", "fwd"));
        assertTrue(size.getMessage().contains("add-channel needs a size that is a multiple of 16384, got 1024"), size.getMessage());
        IllegalArgumentException bwd = assertThrows(IllegalArgumentException.class, () -> EltwiseBench.cases("argmax", "1024", "bwd"));
        assertTrue(bwd.getMessage().contains("no backward pass"), bwd.getMessage());
    }

    @Test void runsAgainstTheReferenceOnTheCpu() {
        var r = BenchCommandTest.bench("elementwise", "--ops", "mul-column,argmax", "--sizes", "4096", "--threads", "1",
                "--backend", "cpu,cpu/ref", "--time", "0.02", "--warmup", "0.1");
        System.out.println(r.out());
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("ok (vector-binary)") && r.out().contains("ok (vector-reduce)") && r.out().contains("ok (ref)"), r.out());
    }
}
