package dev.kiln.kernels.io;

import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * A minimal JSON writer for machine-readable output (kiln info --json, bench rows, checkpoint headers). Values are {@link Map} (keys written with
 * {@code String.valueOf}, in the map's iteration order, so pass a {@link java.util.LinkedHashMap}),
 * {@link List}, {@link CharSequence}, {@link Number}, {@link Boolean} and null. Non-finite numbers have no
 * JSON form and are written as null.
 */
public final class Json {
    private Json() {}

    public static String write(Object value) {
        StringBuilder sb = new StringBuilder();
        append(sb, value);
        return sb.toString();
    }

    private static void append(StringBuilder sb, Object value) {
        switch (value) {
            case null -> sb.append("null");
            case Boolean b -> sb.append(b);
            case Double d when !Double.isFinite(d) -> sb.append("null");
            case Float f when !Float.isFinite(f) -> sb.append("null");
            case Number n -> sb.append(n);
            case CharSequence s -> string(sb, s);
            case Map<?, ?> map -> {
                sb.append('{');
                Iterator<? extends Map.Entry<?, ?>> it = map.entrySet().iterator();
                while (it.hasNext()) {
                    Map.Entry<?, ?> e = it.next();
                    string(sb, String.valueOf(e.getKey()));
                    sb.append(':');
                    append(sb, e.getValue());
                    if (it.hasNext()) sb.append(',');
                }
                sb.append('}');
            }
            case List<?> list -> {
                sb.append('[');
                for (int i = 0; i < list.size(); i++) {
                    if (i > 0) sb.append(',');
                    append(sb, list.get(i));
                }
                sb.append(']');
            }
            default -> throw new IllegalArgumentException("json: cannot write a " + value.getClass().getName());
        }
    }

    /** {@code s} as a JSON string literal. */
    public static String quote(CharSequence s) {
        StringBuilder sb = new StringBuilder(s.length() + 2);
        string(sb, s);
        return sb.toString();
    }

    private static void string(StringBuilder sb, CharSequence s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    // Other control characters must be escaped; everything else is written as is (UTF-8 output).
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }
}
