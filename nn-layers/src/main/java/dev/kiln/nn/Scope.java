package dev.kiln.nn;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Frees device memory deterministically: every tensor created while a scope is open on this thread
 * (activations, gradients of intermediates, temporaries) is closed when the scope closes. Parameters and
 * their gradients belong to no scope. Typical use is one scope per training step:
 * {@code try (Scope step = Scope.open()) { loss = model.forward(x); loss.backward(); opt.step(); }}
 */
public final class Scope implements AutoCloseable {
    private static final ThreadLocal<Deque<Scope>> OPEN = ThreadLocal.withInitial(ArrayDeque::new);

    private final List<Tensor> owned = new ArrayList<>();
    private boolean closed;

    private Scope() {}

    public static Scope open() {
        Scope s = new Scope();
        OPEN.get().push(s);
        return s;
    }

    /** Registers {@code t} with the innermost open scope, if any. */
    static void adopt(Tensor t) {
        Scope s = OPEN.get().peek();
        if (s != null) s.owned.add(t);
    }

    /** Removes {@code t} from the innermost scope that holds it, so it outlives the scope. */
    static void release(Tensor t) {
        for (Scope s : OPEN.get()) if (s.owned.remove(t)) return;
    }

    /** Tensors held by this scope (for tests and leak checks). */
    public int size() { return owned.size(); }

    @Override public void close() {
        if (closed) return;
        closed = true;
        Deque<Scope> stack = OPEN.get();
        if (stack.peek() != this) throw new IllegalStateException("scopes must close innermost first");
        stack.pop();
        RuntimeException first = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        owned.clear();
        if (first != null) throw first;
    }
}
