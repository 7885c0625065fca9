package dev.kiln.nn.prune;

import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Ops;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Parameter;
import dev.kiln.nn.optim.Optimizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Applies magnitude pruning to a model's weight matrices and convolution kernels during training. Each
 * prunable parameter has a 0/1 mask tensor on its device. Around every optimiser step the trainer calls
 * {@link #beforeStep} (recompute the masks when the {@link PruneSchedule} says so, then zero the gradients of
 * pruned weights) and {@link #afterStep} (zero the pruned weights and the optimiser's state for them, e.g.
 * SGD momentum and Adam's moments, so nothing pulls a pruned weight back from zero later). Biases and
 * one-dimensional parameters (norm scales) are never pruned.
 *
 * <p>Masks are recomputed on the host from the weights' current magnitudes ({@link MagnitudePruning}); with
 * 16 updates per run that costs nothing next to training. {@link #masks()} names them
 * {@code prune.mask.NAME} for checkpoints, and {@link #metadata()} / {@link #fromMetadata} carry the
 * specification and schedule, so a resumed run prunes exactly as the uninterrupted one would.
 */
public final class Pruner implements AutoCloseable {
    public static final String MASK_PREFIX = "prune.mask.";
    static final String META_PREFIX = "prune.";

    /** One prunable parameter's sparsity: zeros out of count (including weights that trained to exactly zero). */
    public record LayerSparsity(String name, int[] shape, long count, long zeros, boolean twoFour) {
        public double sparsity() { return count == 0 ? 0 : (double) zeros / count; }
    }

    private final PruneSpec spec;
    private final PruneSchedule schedule;
    private final List<Parameter> targets;
    private final List<Tensor> masks = new ArrayList<>();
    private final boolean[][] kept;
    private final int[] rowLength;
    private final Map<String, Integer> indexByName = new HashMap<>();
    /** False until a mask prunes anything: before that every multiplication by the mask would change nothing. */
    private boolean active;

    /** Prunes the prunable ones among {@code parameters} (see {@link #prunable}) by {@code spec} along {@code schedule}. */
    public Pruner(List<Parameter> parameters, PruneSpec spec, PruneSchedule schedule) {
        if (spec == null || schedule == null) throw new IllegalArgumentException("prune: spec and schedule are required");
        if (schedule.target() != spec.sparsity())
            throw new IllegalArgumentException("prune: schedule ends at sparsity " + schedule.target() + " but " + spec + " asks for " + spec.sparsity());
        this.spec = spec;
        this.schedule = schedule;
        this.targets = prunable(parameters);
        if (targets.isEmpty()) throw new IllegalArgumentException("prune: the model has no weight matrices or kernels to prune");
        kept = new boolean[targets.size()][];
        rowLength = new int[targets.size()];
        for (int i = 0; i < targets.size(); i++) {
            Tensor w = targets.get(i).tensor();
            int n = Math.toIntExact(w.count());
            kept[i] = new boolean[n];
            Arrays.fill(kept[i], true);
            rowLength[i] = w.dim(0) == 0 ? 0 : n / w.dim(0);
            float[] ones = new float[n];
            Arrays.fill(ones, 1f);
            masks.add(Tensor.of(ones, w.shape()).keep());
            indexByName.put(targets.get(i).name(), i);
        }
    }

    /** The parameters pruning touches: weights of rank 2 or more (Linear matrices, convolution kernels). */
    public static List<Parameter> prunable(List<Parameter> parameters) {
        List<Parameter> out = new ArrayList<>();
        for (Parameter p : parameters) if (p.tensor().rank() >= 2 && p.name().endsWith("weight")) out.add(p);
        return out;
    }

    public PruneSpec spec() { return spec; }

    public PruneSchedule schedule() { return schedule; }

    /** The pruned parameters, in model order. */
    public List<Parameter> targets() { return List.copyOf(targets); }

    /** Host copy of the mask of target {@code i}: true where the weight is kept. */
    public boolean[] kept(int i) { return kept[i].clone(); }

    /** Whether target {@code i} is under the 2:4 pattern (2:4 pruning and rows a multiple of 4 long). */
    public boolean twoFour(int i) {
        return spec.method() == PruneSpec.Method.TWO_FOUR && MagnitudePruning.twoFourApplies(kept[i].length, rowLength[i]);
    }

    /** Called after the backward pass of optimiser step {@code step}, before clipping and the update. */
    public void beforeStep(long step, Optimizer optimizer) {
        if (schedule.prunesAt(step)) pruneTo(schedule.sparsityAt(step), optimizer);
        if (!active) return;
        try (Scope s = Scope.open(); NoGrad ignored = NoGrad.enter()) {
            for (int i = 0; i < targets.size(); i++) {
                Tensor g = targets.get(i).tensor().grad();
                if (g != null) Ops.copyInto(Ops.mul(g, masks.get(i)), g);
            }
        }
    }

    /** Called after the optimiser's update: pruned weights and their optimiser state back to exactly zero. */
    public void afterStep(Optimizer optimizer) {
        if (active) applyMasks(optimizer);
    }

    /**
     * Recomputes the masks for {@code sparsity} from the current weights (already pruned ones stay pruned) and
     * applies them to the weights and to {@code optimizer}'s state (may be null).
     */
    public void pruneTo(double sparsity, Optimizer optimizer) {
        if (sparsity <= 0 && !active) return;
        float[][] w = new float[targets.size()][];
        for (int i = 0; i < w.length; i++) w[i] = targets.get(i).tensor().toArray();
        boolean[][] next = switch (spec.method()) {
            case GLOBAL -> MagnitudePruning.global(w, kept, sparsity, spec.minKeep());
            case LAYER -> MagnitudePruning.layerWise(w, kept, sparsity);
            case TWO_FOUR -> MagnitudePruning.twoFour(w, rowLength, kept, sparsity / 0.5);
        };
        for (int i = 0; i < next.length; i++) setMask(i, next[i]);
        active = true;
        applyMasks(optimizer);
    }

    private void setMask(int i, boolean[] keep) {
        kept[i] = keep;
        float[] m = new float[keep.length];
        for (int j = 0; j < m.length; j++) m[j] = keep[j] ? 1f : 0f;
        masks.get(i).set(m);
    }

    private void applyMasks(Optimizer optimizer) {
        try (Scope s = Scope.open(); NoGrad ignored = NoGrad.enter()) {
            for (int i = 0; i < targets.size(); i++) maskInPlace(targets.get(i).tensor(), masks.get(i));
            if (optimizer == null) return;
            for (Parameter st : optimizer.state()) {
                // State is named KIND.PARAMETER (momentum.0.weight, exp_avg_sq.7.weight).
                Integer i = indexByName.get(st.name().substring(st.name().indexOf('.') + 1));
                if (i != null && st.tensor().count() == masks.get(i).count()) maskInPlace(st.tensor(), masks.get(i));
            }
        }
    }

    private static void maskInPlace(Tensor t, Tensor mask) { Ops.copyInto(Ops.mul(t, mask), t); }

    /** The masks as checkpoint tensors, {@code prune.mask.NAME}; loading writes into them ({@link #masksLoaded}). */
    public List<Parameter> masks() {
        List<Parameter> out = new ArrayList<>();
        for (int i = 0; i < targets.size(); i++) out.add(new Parameter(MASK_PREFIX + targets.get(i).name(), masks.get(i)));
        return out;
    }

    /** Re-reads the host masks after a checkpoint wrote the mask tensors; rejects values other than 0 and 1. */
    public void masksLoaded() {
        boolean any = false;
        for (int i = 0; i < targets.size(); i++) {
            float[] m = masks.get(i).toArray();
            boolean[] keep = new boolean[m.length];
            for (int j = 0; j < m.length; j++) {
                if (m[j] != 0f && m[j] != 1f)
                    throw new IllegalArgumentException("prune: mask " + MASK_PREFIX + targets.get(i).name() + " holds " + m[j] + " at element " + j
                            + " (masks are 0 or 1)");
                keep[j] = m[j] == 1f;
                any |= !keep[j];
            }
            kept[i] = keep;
        }
        active = any;
    }

    /** Specification and schedule as checkpoint metadata ({@code prune.spec}, {@code prune.start}, ...). */
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(META_PREFIX + "spec", spec.toString());
        m.put(META_PREFIX + "min_keep", Double.toString(spec.minKeep()));
        m.put(META_PREFIX + "initial", Double.toString(schedule.initial()));
        m.put(META_PREFIX + "start", Long.toString(schedule.start()));
        m.put(META_PREFIX + "end", Long.toString(schedule.end()));
        m.put(META_PREFIX + "every", Long.toString(schedule.every()));
        return m;
    }

    /** Whether checkpoint metadata describes a pruned run. */
    public static boolean inMetadata(Map<String, String> meta) { return meta.containsKey(META_PREFIX + "spec"); }

    /** The pruner a checkpoint's metadata describes, with all-ones masks until the checkpoint's are loaded. */
    public static Pruner fromMetadata(Map<String, String> meta, List<Parameter> parameters, String where) {
        try {
            PruneSpec parsed = PruneSpec.parse(meta.get(META_PREFIX + "spec"));
            PruneSpec spec = new PruneSpec(parsed.method(), parsed.sparsity(), Double.parseDouble(meta.get(META_PREFIX + "min_keep")));
            PruneSchedule schedule = new PruneSchedule(Double.parseDouble(meta.get(META_PREFIX + "initial")), spec.sparsity(),
                    Long.parseLong(meta.get(META_PREFIX + "start")), Long.parseLong(meta.get(META_PREFIX + "end")),
                    Long.parseLong(meta.get(META_PREFIX + "every")));
            return new Pruner(parameters, spec, schedule);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException(where + ": bad pruning metadata: " + e.getMessage(), e);
        }
    }

    /** Per pruned parameter: zeros in the weight as it is now. */
    public List<LayerSparsity> report() {
        List<LayerSparsity> out = new ArrayList<>();
        for (int i = 0; i < targets.size(); i++) {
            float[] w = targets.get(i).tensor().toArray();
            long zeros = 0;
            for (float v : w) if (v == 0f) zeros++;
            out.add(new LayerSparsity(targets.get(i).name(), targets.get(i).tensor().shape(), w.length, zeros, twoFour(i)));
        }
        return out;
    }

    /** Zeros over all pruned parameters. */
    public static double overall(List<LayerSparsity> layers) {
        long zeros = 0, count = 0;
        for (LayerSparsity l : layers) {
            zeros += l.zeros();
            count += l.count();
        }
        return count == 0 ? 0 : (double) zeros / count;
    }

    @Override public void close() {
        for (Tensor m : masks) m.close();
        masks.clear();
    }
}
