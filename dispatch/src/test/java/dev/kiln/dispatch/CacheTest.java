package dev.kiln.dispatch;

import dev.kiln.dispatch.Fakes.FakeDevice;
import dev.kiln.dispatch.Fakes.FakeImpl;
import dev.kiln.dispatch.Fakes.FakeProvider;
import dev.kiln.dispatch.SelectionTest.Closer;
import dev.kiln.dispatch.TestSupport.GemmCase;
import dev.kiln.dispatch.TestSupport.Trace;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.GemmDesc;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** Decisions and plans are made once; repeated calls only execute. */
class CacheTest {
    @Test void aRepeatedCallBuildsNoPlanAndPrintsNoLine() {
        FakeImpl vector = FakeImpl.yes("vector-gemm", OpKind.GEMM);
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(vector);
        Trace trace = new Trace();
        try (var c = new Closer(TestSupport.verbose(trace, null, FakeProvider.of("cpu", cpu)))) {
            Dispatch dispatch = c.dispatch();
            GemmCase first = new GemmCase(GemmDesc.of(7, 13, 3), 31);
            dispatch.execute(first.desc, first.hostArgs());
            assertEquals(1, dispatch.planCount());
            assertEquals(1, trace.decisions().size());
            // Same descriptor, new operands: same decision and plan.
            GemmCase again = new GemmCase(GemmDesc.of(7, 13, 3), 32);
            dispatch.execute(again.desc, again.hostArgs());
            assertArrayEquals(again.expected(), again.c);
            assertEquals(1, dispatch.planCount());
            assertEquals(1, vector.plans.get());
            assertEquals(2, vector.runs.get());
            assertEquals(1, dispatch.decisionCount());
            assertEquals(1, trace.decisions().size(), trace.text());
            // Another shape is another decision and another plan.
            GemmCase other = new GemmCase(GemmDesc.of(7, 13, 4), 33);
            dispatch.execute(other.desc, other.hostArgs());
            assertEquals(2, dispatch.planCount());
            assertEquals(2, trace.decisions().size());
        }
    }

    @Test void decideMakesNoPlanAndExecuteReusesItsDecision() {
        FakeImpl vector = FakeImpl.yes("vector-gemm", OpKind.GEMM);
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(vector);
        Trace trace = new Trace();
        try (var c = new Closer(TestSupport.verbose(trace, null, FakeProvider.of("cpu", cpu)))) {
            GemmCase g = new GemmCase(GemmDesc.of(6, 6, 6), 34);
            Decision d = c.dispatch().decide(g.desc, null);
            assertEquals(0, c.dispatch().planCount());
            c.dispatch().execute(g.desc, g.hostArgs());
            assertEquals(1, c.dispatch().planCount());
            assertEquals(1, trace.decisions().size(), trace.text());
            assertSame(d, c.dispatch().decide(g.desc, g.hostArgs()), "host arrays and null args are the same placement");
        }
    }

    @Test void concurrentFirstCallsShareOnePlanAndOneLine() throws Exception {
        AtomicInteger concurrentPlans = new AtomicInteger();
        FakeImpl slow = new FakeImpl("slow-gemm", OpKind.GEMM, d -> dev.kiln.kernels.spi.Support.YES) {
            @Override public dev.kiln.kernels.spi.Plan plan(dev.kiln.kernels.desc.OpDesc desc) {
                concurrentPlans.incrementAndGet();
                try {
                    Thread.sleep(50); // a kernel build: others must wait for it, not start their own
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return super.plan(desc);
            }
        };
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(slow);
        Trace trace = new Trace();
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try (var c = new Closer(TestSupport.verbose(trace, null, FakeProvider.of("cpu", cpu)))) {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<GemmCase>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long seed = 40 + t;
                results.add(pool.submit(() -> {
                    GemmCase g = new GemmCase(GemmDesc.of(17, 9, 11), seed);
                    start.await();
                    c.dispatch().execute(g.desc, g.hostArgs());
                    return g;
                }));
            }
            start.countDown();
            for (Future<GemmCase> f : results) {
                GemmCase g = f.get();
                assertArrayEquals(g.expected(), g.c);
            }
            assertEquals(1, concurrentPlans.get());
            assertEquals(1, c.dispatch().planCount());
            assertEquals(threads, slow.runs.get());
            assertEquals(1, trace.decisions().size(), trace.text());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test void aFailedPlanIsNotCachedSoTheNextCallTriesAgain() {
        AtomicInteger attempts = new AtomicInteger();
        FakeImpl flaky = new FakeImpl("flaky-gemm", OpKind.GEMM, d -> dev.kiln.kernels.spi.Support.YES) {
            @Override public dev.kiln.kernels.spi.Plan plan(dev.kiln.kernels.desc.OpDesc desc) {
                if (attempts.incrementAndGet() == 1) throw new IllegalStateException("build failed: out of registers");
                return super.plan(desc);
            }
        };
        FakeDevice cpu = FakeDevice.host("cpu", 100, 50).with(flaky);
        try (var c = new Closer(Dispatch.create(List.of(FakeProvider.of("cpu", cpu)), DispatchConfig.defaults()))) {
            GemmCase g = new GemmCase(GemmDesc.of(4, 5, 6), 35);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.dispatch().execute(g.desc, g.hostArgs()));
            assertEquals("build failed: out of registers", e.getMessage());
            assertEquals(0, c.dispatch().planCount());
            c.dispatch().execute(g.desc, g.hostArgs());
            assertArrayEquals(g.expected(), g.c);
            assertEquals(1, c.dispatch().planCount());
        }
    }
}
