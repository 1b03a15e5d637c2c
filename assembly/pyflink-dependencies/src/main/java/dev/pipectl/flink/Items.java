package dev.pipectl.flink;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import org.apache.flink.table.data.StringData;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The record's `items`, read once while the record is parsed: what OrderContract checks of it, and the
 * column's text, written as JsonValues.write writes the untyped value (what Flink's JSON_QUERY returned),
 * without building that value. The one thing a single pass cannot write that way is an object with a
 * repeated key (the untyped value keeps the key's first position and its last value): then
 * {@link #repeatedKey} is set and the caller reads the record again with {@link #fromValue}.
 *
 * Read from the record's bytes, the array is usually already written that way (the producer writes compact
 * JSON): no whitespace between tokens, no escape, every number as the untyped value writes it. Then the
 * column is that slice of the record, not copied; anything else sets {@link #again()}, and the caller reads
 * the record again with the text written. RecordScanner, reading the record's bytes itself, fills the same
 * members and writes the text through {@link #beginWritten()}. One per classifier: not thread-safe.
 */
final class Items {
    /** `items` was an array (the last `items` of the record, as the untyped reader keeps). */
    boolean present;
    /** Lines in the array. */
    int lines;
    /** Every line is an item: an object with a non-empty sku and product_name, an integer quantity >= 1, a unit_price > 0. */
    boolean allItems;
    /** A key repeated within one object somewhere in `items`: the text written is not the untyped value's. */
    boolean repeatedKey;
    /** Each line's quantity and unit_price as the untyped reader makes them (null when not a number). */
    final List<Number> quantities = new ArrayList<>();
    final List<Number> unitPrices = new ArrayList<>();

    private final JsonValues.Utf8Writer out = new JsonValues.Utf8Writer();
    /** The record the array was read from as a slice, or null (written into `out`, or `written`). */
    private byte[] source;
    private int sliceFrom;
    private int sliceLength;
    /** Read as a slice (nothing written) and found written otherwise: read again, writing. */
    private boolean notCompact;
    /** The text made by fromValue; null when read() wrote it into `out`. */
    private byte[] written;
    /** The keys of the objects being read, innermost last (to find a repeated key). */
    private String[] keys = new String[16];
    private int keyCount;

    void reset() {
        written = null;
        source = null;
        notCompact = false;
        present = false;
        lines = 0;
        allItems = true;
        repeatedKey = false;
        quantities.clear();
        unitPrices.clear();
        keyCount = 0;
    }

    /** Reads the array the parser stands on (its START_ARRAY), with everything inside it, writing its text. */
    void read(JsonParser p) throws IOException {
        read(p, null);
    }

    /**
     * The same; `record`: the bytes the parser reads (or null): then the text is taken as a slice of them when
     * it is already written as the untyped value writes it, and nothing is written.
     */
    void read(JsonParser p, byte[] record) throws IOException {
        reset();
        present = true;
        long from = record == null ? -1 : p.currentTokenLocation().getByteOffset();
        out.muted = from >= 0;
        try {
            array(p);
        } finally {
            out.muted = false;
        }
        if (from >= 0 && !notCompact) {
            long to = p.currentLocation().getByteOffset();
            if (to > from && to <= record.length && isCompact(record, (int) from, (int) to)) {
                source = record;
                sliceFrom = (int) from;
                sliceLength = (int) (to - from);
            } else {
                notCompact = true;
            }
        }
    }

    /**
     * RecordScanner: an array it reads (lines, allItems and the lists filled by it) and writes with
     * {@link #writer()} from here on, as JsonValues.write writes the untyped value.
     */
    JsonValues.Utf8Writer beginWritten() {
        reset();
        present = true;
        out.begin();
        return out;
    }

    /** The record must be read again: with `items` into its untyped value (repeatedKey), or written. */
    boolean again() {
        return present && (repeatedKey || notCompact);
    }

    /**
     * No whitespace outside strings and no backslash at all in record[from, to): with the numbers checked while
     * reading, the bytes are then the text JsonValues.write gives (keys and strings are written as they are, in
     * UTF-8, checked already; control characters cannot be inside a string the parser accepted).
     */
    static boolean isCompact(byte[] record, int from, int to) {
        boolean inString = false;
        for (int i = from; i < to; i++) {
            byte b = record[i];
            if (b == '\\') {
                return false;
            }
            if (b == '"') {
                inString = !inString;
            } else if (!inString && (b == ' ' || b == '\t' || b == '\n' || b == '\r')) {
                return false;
            }
        }
        return true;
    }

    private void array(JsonParser p) throws IOException {
        out.begin();
        out.put('[');
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (lines++ > 0) {
                out.put(',');
            }
            if (t == JsonToken.START_OBJECT) {
                line(p);
            } else {
                allItems = false;
                quantities.add(null);
                unitPrices.add(null);
                value(p, t);
            }
        }
        out.put(']');
    }

    /** The same from the untyped value (JsonValues.read) of an array. */
    void fromValue(List<Object> value) {
        reset();
        present = true;
        for (Object line : value) {
            lines++;
            Map<?, ?> item = line instanceof Map ? (Map<?, ?>) line : null;
            Object quantity = item == null ? null : item.get("quantity");
            Object unitPrice = item == null ? null : item.get("unit_price");
            quantities.add(quantity instanceof Number ? (Number) quantity : null);
            unitPrices.add(unitPrice instanceof Number ? (Number) unitPrice : null);
            allItems &= item != null && isNonEmptyString(item.get("sku")) && isNonEmptyString(item.get("product_name"))
                    && JsonValues.isIntegerAtLeast(quantity, 1) && JsonValues.isPositive(unitPrice);
        }
        written = out.write(value);
    }

    /** The column's text: JsonValues.write of the untyped value, as UTF-8. */
    byte[] text() {
        if (source != null) {
            return java.util.Arrays.copyOfRange(source, sliceFrom, sliceFrom + sliceLength);
        }
        return written != null ? written : out.bytes();
    }

    /** text() as a StringData; a slice of the record is wrapped, not copied. */
    StringData string() {
        return source != null ? StringData.fromBytes(source, sliceFrom, sliceLength) : StringData.fromBytes(text());
    }

    /** One line that is an object: written, and its four members kept (the last of a repeated key, as the map keeps). */
    private void line(JsonParser p) throws IOException {
        boolean sku = false;
        boolean productName = false;
        Number quantity = null;
        Number unitPrice = null;
        int base = keyCount;
        out.put('{');
        boolean first = true;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            member(key, base, first);
            first = false;
            JsonToken v = p.nextToken();
            switch (key) {
                case "sku":
                    sku = v == JsonToken.VALUE_STRING && p.getTextLength() > 0;
                    value(p, v);
                    break;
                case "product_name":
                    productName = v == JsonToken.VALUE_STRING && p.getTextLength() > 0;
                    value(p, v);
                    break;
                case "quantity":
                    quantity = number(p, v);
                    write(p, v, quantity);
                    break;
                case "unit_price":
                    unitPrice = number(p, v);
                    write(p, v, unitPrice);
                    break;
                default:
                    value(p, v);
            }
        }
        out.put('}');
        keyCount = base;
        quantities.add(quantity);
        unitPrices.add(unitPrice);
        allItems &= sku && productName && JsonValues.isIntegerAtLeast(quantity, 1) && JsonValues.isPositive(unitPrice);
    }

    /** Writes `"key":` (after a comma unless first) and notes a key repeated in the object that began at `base`. */
    private void member(String key, int base, boolean first) {
        for (int i = base; i < keyCount; i++) {
            if (keys[i].equals(key)) {
                repeatedKey = true;
            }
        }
        if (keyCount == keys.length) {
            keys = java.util.Arrays.copyOf(keys, keyCount * 2);
        }
        keys[keyCount++] = key;
        if (!first) {
            out.put(',');
        }
        out.string(key);
        out.put(':');
    }

    /** The number the untyped reader makes of the value, or null when it is not a number. */
    private static Number number(JsonParser p, JsonToken t) throws IOException {
        if (t == JsonToken.VALUE_NUMBER_INT) {
            return p.getNumberValue();
        }
        return t == JsonToken.VALUE_NUMBER_FLOAT ? (Number) p.getDoubleValue() : null;
    }

    private void write(JsonParser p, JsonToken t, Number n) throws IOException {
        if (n == null) {
            value(p, t);
        } else if (out.muted) {
            checkCompact(p, n);
        } else {
            out.number(n);
        }
    }

    /** A number read as a slice is written as the untyped value writes it: "-0" is not (0), nor 1.50 (1.5). */
    private void checkCompact(JsonParser p, Number n) throws IOException {
        char[] text = p.getTextCharacters();
        int at = p.getTextOffset();
        int length = p.getTextLength();
        if (n instanceof Double) {
            double d = (Double) n;
            String digits = Double.isFinite(d) ? out.digits(d) : null;
            if (digits == null || digits.length() != length) {
                notCompact = true;
                return;
            }
            for (int i = 0; i < length; i++) {
                if (digits.charAt(i) != text[at + i]) {
                    notCompact = true;
                    return;
                }
            }
        } else if (length == 2 && text[at] == '-' && text[at + 1] == '0') {
            notCompact = true;
        }
    }

    /** Writes the value the parser stands on, with everything inside it, as JsonValues.write writes it. */
    private void value(JsonParser p, JsonToken t) throws IOException {
        switch (t) {
            case START_OBJECT: {
                int base = keyCount;
                out.put('{');
                boolean first = true;
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    member(p.currentName(), base, first);
                    first = false;
                    value(p, p.nextToken());
                }
                out.put('}');
                keyCount = base;
                break;
            }
            case START_ARRAY: {
                out.put('[');
                boolean first = true;
                JsonToken next;
                while ((next = p.nextToken()) != JsonToken.END_ARRAY) {
                    if (!first) {
                        out.put(',');
                    }
                    first = false;
                    value(p, next);
                }
                out.put(']');
                break;
            }
            case VALUE_STRING:
                if (!out.muted) {
                    out.string(p.getText());
                }
                break;
            case VALUE_NUMBER_INT:
            case VALUE_NUMBER_FLOAT:
                write(p, t, number(p, t));
                break;
            case VALUE_TRUE:
                out.ascii("true");
                break;
            case VALUE_FALSE:
                out.ascii("false");
                break;
            default: // VALUE_NULL, as JsonValues.read makes of anything else
                out.ascii("null");
        }
    }

    private static boolean isNonEmptyString(Object value) {
        return value instanceof String && !((String) value).isEmpty();
    }
}
