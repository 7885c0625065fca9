package dev.kiln.nn.train;

import dev.kiln.nn.io.Checkpoint;
import dev.kiln.nn.layers.Parameter;
import dev.kiln.nn.prune.PruneSpec;
import dev.kiln.nn.prune.Pruner;
import dev.kiln.nn.prune.SparseInference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** {@link Trainer#enablePruning}: the schedule over a run, masks in checkpoints, exact resumption, sparse evaluation. */
class TrainerPruneTest {
    @TempDir Path dir;

    static List<float[]> weightsAndMasks(Trainer t) {
        List<float[]> out = TrainerTest.weights(t);
        for (Parameter m : t.pruner().masks()) out.add(m.tensor().toArray());
        return out;
    }

    @Test void prunesGraduallyAndAResumedRunContinuesExactly() throws IOException {
        // 256 images in batches of 64: 4 steps per epoch, 12 in all; dense to step 2, masks at 2..7, fine-tuning after.
        TrainConfig config = TrainerTest.small("sgd", 3).withSchedule("cosine", 0);
        List<EpochMetrics> straight;
        List<float[]> wStraight;
        try (Trainer t = new Trainer(config, TrainerTest.TRAIN, TrainerTest.TEST)) {
            t.enablePruning(PruneSpec.global(0.8));
            assertEquals(2, t.pruner().schedule().start());
            assertEquals(7, t.pruner().schedule().end());
            straight = t.fit(Progress.NONE);
            wStraight = weightsAndMasks(t);
            List<Pruner.LayerSparsity> layers = t.pruner().report();
            assertEquals(3, layers.size());
            long total = 0;
            for (Pruner.LayerSparsity l : layers) {
                total += l.count();
                assertTrue(l.sparsity() < 0.95 + 1e-9, l.name() + " keeps its 5%: " + l.sparsity());
            }
            assertEquals(Math.round(0.8 * total) / (double) total, Pruner.overall(layers), 1e-9);
            // The pruned model on sparse kernels classifies the test set as it does on dense ones.
            Trainer.Evaluation dense = t.evaluate();
            try (SparseInference si = SparseInference.of(t.model(), t.pruner())) {
                Trainer.Evaluation sparse = t.evaluate(si::forward);
                assertEquals(dense.accuracy(), sparse.accuracy(), 1.0 / dense.samples() + 1e-12);
                assertEquals(dense.loss(), sparse.loss(), 1e-4 * Math.max(1, dense.loss()));
            }
        }
        Path ckpt = dir.resolve("epoch-2.safetensors");
        try (Trainer t = new Trainer(config, TrainerTest.TRAIN, TrainerTest.TEST)) {
            t.enablePruning(PruneSpec.global(0.8));
            t.trainEpoch(Progress.NONE);
            t.trainEpoch(Progress.NONE);
            t.save(ckpt);
        }
        assertTrue(Checkpoint.metadata(ckpt).get("prune.spec").equals("global:0.8"));
        try (Trainer t = Trainer.resume(ckpt, 0, TrainerTest.TRAIN, TrainerTest.TEST)) {
            assertNotNull(t.pruner(), "the checkpoint turns pruning back on");
            assertEquals(PruneSpec.global(0.8), t.pruner().spec());
            List<EpochMetrics> rest = t.fit(Progress.NONE);
            assertTrue(rest.getFirst().sameResults(straight.get(2)), rest + " vs " + straight.get(2));
            TrainerTest.assertSameWeights(wStraight, weightsAndMasks(t));
        }
        // A pruned checkpoint cannot be loaded as a dense model (its masks are not parameters of the model).
        try (Trainer dense = new Trainer(config, TrainerTest.TRAIN, TrainerTest.TEST)) {
            IOException e = assertThrows(IOException.class, () -> Checkpoint.load(ckpt, dense.model(), dense.optimizer()));
            assertTrue(e.getMessage().contains("unexpected tensor prune.mask."), e.getMessage());
        }
        // Nor can a dense checkpoint be continued as a pruned run.
        Path densePoint = dir.resolve("dense.safetensors");
        try (Trainer t = new Trainer(config, TrainerTest.TRAIN, TrainerTest.TEST)) {
            t.save(densePoint);
        }
        try (Trainer t = new Trainer(config, TrainerTest.TRAIN, TrainerTest.TEST)) {
            t.enablePruning(PruneSpec.layerWise(0.5));
            IOException e = assertThrows(IOException.class, () -> t.load(densePoint));
            assertTrue(e.getMessage().contains("holds a dense run"), e.getMessage());
        }
    }

    @Test void pruningStartsWithTheRun() {
        try (Trainer t = new Trainer(TrainerTest.small("sgd", 1), TrainerTest.TRAIN, TrainerTest.TEST)) {
            t.trainEpoch(Progress.NONE);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.enablePruning(PruneSpec.twoFour()));
            assertTrue(e.getMessage().contains("before training starts"), e.getMessage());
        }
    }
}
