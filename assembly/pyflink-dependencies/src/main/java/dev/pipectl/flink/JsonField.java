package dev.pipectl.flink;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import org.apache.flink.table.data.StringData;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;

/**
 * One member of a JSON object as the parser met it: its token and, for a scalar, the text that Flink's
 * JSON_VALUE would return for it (String.valueOf of the value Jackson's untyped reader makes: the
 * string itself, Integer/Long/BigInteger digits, Double.toString for floats, true/false).
 */
final class JsonField {
    JsonToken token;
    /** The text of a string, true or false; for a number, made from it when first asked for (see value()). */
    String text;
    Number number;
    private BigDecimal decimal;
    /** A string read by RecordScanner: the record's bytes of it (no escape in them), wrapped, not copied. */
    private byte[] source;
    private int sourceOffset;
    private int sourceLength;

    void reset() {
        token = null;
        text = null;
        number = null;
        decimal = null;
        source = null;
    }

    /** A scalar as read() would read it: the token, a string's (or true's, false's) text, or the number. */
    void set(JsonToken t, String text, Number number) {
        reset();
        token = t;
        this.text = text;
        this.number = number;
    }

    /** A string that is record[from, from + length) as it is (valid UTF-8 without an escape). */
    void setString(byte[] record, int from, int length) {
        set(JsonToken.VALUE_STRING, new String(record, from, length, StandardCharsets.UTF_8), null);
        source = record;
        sourceOffset = from;
        sourceLength = length;
    }

    /** The value's text as a StringData (null when it has none): OrderClassifier.utf8 of value(). */
    StringData utf8() {
        if (source != null) {
            return StringData.fromBytes(source, sourceOffset, sourceLength);
        }
        String t = value();
        return t == null ? null : OrderClassifier.utf8(t);
    }

    /** Reads the value the parser stands on (a later duplicate key replaces an earlier one). */
    void read(JsonParser p, JsonToken t) throws IOException {
        token = t;
        number = null;
        decimal = null;
        source = null;
        switch (t) {
            case VALUE_STRING:
                text = p.getText();
                break;
            case VALUE_NUMBER_INT:
                number = p.getNumberValue();
                text = null;
                break;
            case VALUE_NUMBER_FLOAT:
                number = p.getDoubleValue();
                text = null;
                break;
            case VALUE_TRUE:
                text = "true";
                break;
            case VALUE_FALSE:
                text = "false";
                break;
            case START_OBJECT:
            case START_ARRAY:
                p.skipChildren();
                text = null;
                break;
            default: // VALUE_NULL
                text = null;
        }
    }

    /** JSON_VALUE semantics: the scalar's text; NULL when absent, null, an object or an array. */
    String value() {
        if (text == null && number != null) {
            text = number.toString(); // a double's digits cost a Double.toString: only for the fields read as text
        }
        return text;
    }

    /** The number as JsonValues.decimal makes it (a BigDecimal of its text), made once per record. */
    BigDecimal decimal() {
        if (decimal == null) {
            decimal = new BigDecimal(value());
        }
        return decimal;
    }

    boolean isString() {
        return token == JsonToken.VALUE_STRING;
    }

    boolean isNonEmptyString() {
        return token == JsonToken.VALUE_STRING && !text.isEmpty();
    }

    boolean isNumber() {
        return number != null;
    }

    /** A finite number (JSON_QUERY ... WITH WRAPPER gives "[<digits>..."). */
    boolean isFiniteNumber() {
        return number != null && !(number instanceof Double && ((Double) number).isInfinite());
    }

    /** JSON Schema "integer": an integral value, also when written as 1.0. */
    boolean isIntegerAtLeast(long min) {
        return JsonValues.isIntegerAtLeast(number, min);
    }

    boolean isPositiveNumber() {
        return JsonValues.isPositive(number);
    }
}
