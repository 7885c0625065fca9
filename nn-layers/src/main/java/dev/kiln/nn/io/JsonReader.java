package dev.kiln.nn.io;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The small part of JSON a safetensors header needs: objects (as ordered maps), arrays (lists), strings,
 * integers (longs), other numbers (doubles), true, false and null. Errors carry the character position.
 */
final class JsonReader {
    /** A syntax error at character {@code position} of the text. */
    static final class SyntaxError extends Exception {
        final int position;

        SyntaxError(int position, String message) {
            super(message);
            this.position = position;
        }
    }

    private final String text;
    private int at;

    private JsonReader(String text) { this.text = text; }

    /** Parses one JSON value that must make up the whole text (surrounding whitespace allowed). */
    static Object parse(String text) throws SyntaxError {
        JsonReader p = new JsonReader(text);
        Object v = p.value(0);
        p.skipSpace();
        if (p.at != text.length()) throw p.error("unexpected " + p.describe() + " after the value");
        return v;
    }

    private Object value(int depth) throws SyntaxError {
        if (depth > 32) throw error("nesting deeper than 32 levels");
        skipSpace();
        if (at >= text.length()) throw error("unexpected end of header, expected a value");
        char c = text.charAt(at);
        return switch (c) {
            case '{' -> object(depth);
            case '[' -> array(depth);
            case '"' -> string();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", null);
            default -> {
                if (c == '-' || (c >= '0' && c <= '9')) yield number();
                throw error("unexpected " + describe() + ", expected a value");
            }
        };
    }

    private Map<String, Object> object(int depth) throws SyntaxError {
        Map<String, Object> map = new LinkedHashMap<>();
        at++;
        skipSpace();
        if (peek() == '}') {
            at++;
            return map;
        }
        while (true) {
            skipSpace();
            if (peek() != '"') throw error("unexpected " + describe() + ", expected a string key");
            int keyAt = at;
            String key = string();
            skipSpace();
            expect(':');
            if (map.containsKey(key)) throw new SyntaxError(keyAt, "duplicate key " + dev.kiln.kernels.io.Json.quote(key));
            map.put(key, value(depth + 1));
            skipSpace();
            if (peek() == ',') {
                at++;
            } else if (peek() == '}') {
                at++;
                return map;
            } else {
                throw error("unexpected " + describe() + ", expected ',' or '}'");
            }
        }
    }

    private List<Object> array(int depth) throws SyntaxError {
        List<Object> list = new ArrayList<>();
        at++;
        skipSpace();
        if (peek() == ']') {
            at++;
            return list;
        }
        while (true) {
            list.add(value(depth + 1));
            skipSpace();
            if (peek() == ',') {
                at++;
            } else if (peek() == ']') {
                at++;
                return list;
            } else {
                throw error("unexpected " + describe() + ", expected ',' or ']'");
            }
        }
    }

    private String string() throws SyntaxError {
        at++;
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (at >= text.length()) throw error("unterminated string");
            char c = text.charAt(at++);
            if (c == '"') return sb.toString();
            if (c < 0x20) throw new SyntaxError(at - 1, "control character in a string");
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (at >= text.length()) throw error("unterminated escape");
            char e = text.charAt(at++);
            switch (e) {
                case '"', '\\', '/' -> sb.append(e);
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    if (at + 4 > text.length()) throw error("truncated \\u escape");
                    try {
                        sb.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                    } catch (NumberFormatException x) {
                        throw error("bad \\u escape");
                    }
                    at += 4;
                }
                default -> throw new SyntaxError(at - 1, "bad escape \\" + e);
            }
        }
    }

    private Object number() throws SyntaxError {
        int start = at;
        if (peek() == '-') at++;
        while (at < text.length() && "0123456789.eE+-".indexOf(text.charAt(at)) >= 0) at++;
        String s = text.substring(start, at);
        try {
            if (s.indexOf('.') < 0 && s.indexOf('e') < 0 && s.indexOf('E') < 0) return Long.parseLong(s);
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw new SyntaxError(start, "bad number " + s);
        }
    }

    private Object literal(String word, Object v) throws SyntaxError {
        if (!text.startsWith(word, at)) throw error("unexpected " + describe() + ", expected a value");
        at += word.length();
        return v;
    }

    private void expect(char c) throws SyntaxError {
        if (peek() != c) throw error("unexpected " + describe() + ", expected '" + c + "'");
        at++;
    }

    private char peek() { return at < text.length() ? text.charAt(at) : '\0'; }

    private void skipSpace() {
        while (at < text.length() && (text.charAt(at) == ' ' || text.charAt(at) == '\n' || text.charAt(at) == '\r' || text.charAt(at) == '\t')) at++;
    }

    private String describe() { return at >= text.length() ? "end of header" : "'" + text.charAt(at) + "'"; }

    private SyntaxError error(String message) { return new SyntaxError(at, message); }
}
