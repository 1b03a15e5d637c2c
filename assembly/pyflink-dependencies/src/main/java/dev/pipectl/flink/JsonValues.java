package dev.pipectl.flink;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
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

    /** Compact JSON, as Jackson's default ObjectMapper writes it. */
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
