package dev.pipectl.flink;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Untyped JSON values as Jackson's default ObjectMapper reads them (LinkedHashMap, ArrayList, String,
 * Integer/Long/BigInteger, Double, Boolean, null; a repeated key keeps its first position and its last
 * value), and written back the way it writes them: what Flink's JSON_QUERY returned for `items`.
 */
final class JsonValues {
    private JsonValues() {}

    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    /** Reads the value the parser stands on, with everything inside it. */
    static Object read(JsonParser p, JsonToken t) throws IOException {
        switch (t) {
            case START_OBJECT: {
                Map<String, Object> map = new LinkedHashMap<>();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String key = p.currentName();
                    map.put(key, read(p, p.nextToken()));
                }
                return map;
            }
            case START_ARRAY: {
                List<Object> list = new ArrayList<>();
                JsonToken next;
                while ((next = p.nextToken()) != JsonToken.END_ARRAY) {
                    list.add(read(p, next));
                }
                return list;
            }
            case VALUE_STRING:
                return p.getText();
            case VALUE_NUMBER_INT:
                return p.getNumberValue();
            case VALUE_NUMBER_FLOAT:
                return p.getDoubleValue();
            case VALUE_TRUE:
                return Boolean.TRUE;
            case VALUE_FALSE:
                return Boolean.FALSE;
            default:
                return null;
        }
    }

    /**
     * write(value) as UTF-8 bytes, written straight into a reused buffer: the bytes of
     * write(value).getBytes(UTF_8) (a lone surrogate becomes '?', as there), without the text in between.
     * The digits of recent doubles are kept (item prices repeat). One per classifier: not thread-safe.
     */
    static final class Utf8Writer {
        private static final int DOUBLES = 4096;
        private byte[] buf = new byte[512];
        private int len;
        /** Write nothing (Items reading a slice it will not write). */
        boolean muted;
        private final long[] doubleBits = new long[DOUBLES];
        private final String[] doubleTexts = new String[DOUBLES];

        byte[] write(Object value) {
            len = 0;
            value(value);
            return bytes();
        }

        /** Starts a new text, written piece by piece (Items), then taken with bytes(). */
        void begin() {
            len = 0;
        }

        byte[] bytes() {
            return Arrays.copyOf(buf, len);
        }

        /** A number as value(Object) writes it (Integer, Long, BigInteger or Double). */
        void number(Number n) {
            if (!muted) {
                value(n);
            }
        }

        @SuppressWarnings("unchecked")
        private void value(Object value) {
            if (value == null) {
                ascii("null");
            } else if (value instanceof String) {
                string((String) value);
            } else if (value instanceof Map) {
                put('{');
                boolean first = true;
                for (Map.Entry<String, Object> e : ((Map<String, Object>) value).entrySet()) {
                    if (!first) {
                        put(',');
                    }
                    first = false;
                    string(e.getKey());
                    put(':');
                    value(e.getValue());
                }
                put('}');
            } else if (value instanceof List) {
                put('[');
                boolean first = true;
                for (Object element : (List<Object>) value) {
                    if (!first) {
                        put(',');
                    }
                    first = false;
                    value(element);
                }
                put(']');
            } else if (value instanceof Double) {
                double d = (Double) value;
                if (Double.isFinite(d)) {
                    ascii(digits(d));
                } else { // QUOTE_NON_NUMERIC_NUMBERS
                    put('"');
                    ascii(Double.toString(d));
                    put('"');
                }
            } else { // Integer, Long, BigInteger, Boolean
                ascii(value.toString());
            }
        }

        /** Double.toString(d), remembered for the last doubles seen in each of DOUBLES slots. */
        String digits(double d) {
            long bits = Double.doubleToRawLongBits(d);
            int slot = (int) (bits ^ (bits >>> 29) ^ (bits >>> 47)) & (DOUBLES - 1);
            String text = doubleTexts[slot];
            if (text == null || doubleBits[slot] != bits) {
                text = Double.toString(d);
                doubleTexts[slot] = text;
                doubleBits[slot] = bits;
            }
            return text;
        }

        void string(String s) {
            if (muted) {
                return;
            }
            int n = s.length();
            room(2 + 6 * n); // at most 6 bytes per char (an escape), 3 per char otherwise
            byte[] b = buf;
            int at = len;
            b[at++] = '"';
            for (int i = 0; i < n; i++) {
                char c = s.charAt(i);
                if (c < 0x80) {
                    if (c >= 0x20 && c != '"' && c != '\\') {
                        b[at++] = (byte) c;
                        continue;
                    }
                    b[at++] = '\\';
                    switch (c) {
                        case '"': b[at++] = '"'; break;
                        case '\\': b[at++] = '\\'; break;
                        case '\b': b[at++] = 'b'; break;
                        case '\t': b[at++] = 't'; break;
                        case '\f': b[at++] = 'f'; break;
                        case '\n': b[at++] = 'n'; break;
                        case '\r': b[at++] = 'r'; break;
                        default:
                            b[at++] = 'u';
                            b[at++] = '0';
                            b[at++] = '0';
                            b[at++] = (byte) HEX[c >> 4];
                            b[at++] = (byte) HEX[c & 0xF];
                    }
                } else if (c < 0x800) {
                    b[at++] = (byte) (0xC0 | (c >> 6));
                    b[at++] = (byte) (0x80 | (c & 0x3F));
                } else if (Character.isSurrogate(c)) {
                    if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                        int cp = Character.toCodePoint(c, s.charAt(++i));
                        b[at++] = (byte) (0xF0 | (cp >> 18));
                        b[at++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
                        b[at++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
                        b[at++] = (byte) (0x80 | (cp & 0x3F));
                    } else {
                        b[at++] = '?'; // a lone surrogate, as String.getBytes(UTF_8) writes it
                    }
                } else {
                    b[at++] = (byte) (0xE0 | (c >> 12));
                    b[at++] = (byte) (0x80 | ((c >> 6) & 0x3F));
                    b[at++] = (byte) (0x80 | (c & 0x3F));
                }
            }
            b[at++] = '"';
            len = at;
        }

        /** A string whose UTF-8 bytes are b[from, from + length) and need no escape: quoted, copied as they are. */
        void quoted(byte[] b, int from, int length) {
            room(length + 2);
            buf[len++] = '"';
            System.arraycopy(b, from, buf, len, length);
            len += length;
            buf[len++] = '"';
        }

        @SuppressWarnings("deprecation") // getBytes(int, int, byte[], int): the low 8 bits of each char, as wanted here
        void ascii(String s) {
            if (muted) {
                return;
            }
            int n = s.length();
            room(n);
            s.getBytes(0, n, buf, len); // (byte) s.charAt(i) for each i, copied at once
            len += n;
        }

        void put(char c) {
            if (muted) {
                return;
            }
            room(1);
            buf[len++] = (byte) c;
        }

        private void room(int more) {
            if (len + more > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + more));
            }
        }
    }

    /** Compact JSON, as Jackson's default ObjectMapper writes it (the job writes it with Utf8Writer). */
    static String write(Object value) {
        StringBuilder out = new StringBuilder(256);
        write(value, out);
        return out.toString();
    }

    @SuppressWarnings("unchecked")
    private static void write(Object value, StringBuilder out) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String) {
            writeString((String) value, out);
        } else if (value instanceof Map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : ((Map<String, Object>) value).entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                writeString(e.getKey(), out);
                out.append(':');
                write(e.getValue(), out);
            }
            out.append('}');
        } else if (value instanceof List) {
            out.append('[');
            boolean first = true;
            for (Object element : (List<Object>) value) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                write(element, out);
            }
            out.append(']');
        } else if (value instanceof Double) {
            double d = (Double) value;
            if (Double.isFinite(d)) {
                out.append(d);
            } else { // QUOTE_NON_NUMERIC_NUMBERS
                out.append('"').append(d).append('"');
            }
        } else { // Integer, Long, BigInteger, Boolean
            out.append(value);
        }
    }

    private static void writeString(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c != '"' && c != '\\') {
                out.append(c);
                continue;
            }
            out.append('\\');
            switch (c) {
                case '"': out.append('"'); break;
                case '\\': out.append('\\'); break;
                case '\b': out.append('b'); break;
                case '\t': out.append('t'); break;
                case '\f': out.append('f'); break;
                case '\n': out.append('n'); break;
                case '\r': out.append('r'); break;
                default: out.append("u00").append(HEX[c >> 4]).append(HEX[c & 0xF]);
            }
        }
        out.append('"');
    }

    static boolean isIntegerAtLeast(Object n, long min) {
        if (n instanceof Integer || n instanceof Long) {
            return ((Number) n).longValue() >= min;
        }
        if (n instanceof BigInteger) {
            return ((BigInteger) n).compareTo(BigInteger.valueOf(min)) >= 0;
        }
        if (n instanceof Double) {
            double d = (Double) n;
            return Double.isFinite(d) && d == Math.rint(d) && d >= min;
        }
        return false;
    }

    static boolean isPositive(Object n) {
        if (n instanceof Integer || n instanceof Long) {
            return ((Number) n).longValue() > 0;
        }
        if (n instanceof BigInteger) {
            return ((BigInteger) n).signum() > 0;
        }
        if (n instanceof Double) {
            double d = (Double) n;
            return Double.isFinite(d) && d > 0;
        }
        return false;
    }

    static BigDecimal decimal(Number n) {
        return new BigDecimal(n.toString());
    }
}
