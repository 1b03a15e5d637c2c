package dev.pipectl.flink;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.binary.BinaryStringData;

import java.io.IOException;
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
    /**
     * A number RecordScanner read from at most 15 digits, at most 2 of them after the point, without an
     * exponent: its exact value in hundredths (see amount()).
     */
    private boolean exactCents;
    private long cents;

    void reset() {
        token = null;
        text = null;
        number = null;
        decimal = null;
        source = null;
        exactCents = false;
    }

    /** A scalar as read() would read it: the token, a string's (or true's, false's) text, or the number. */
    void set(JsonToken t, String text, Number number) {
        reset();
        token = t;
        this.text = text;
        this.number = number;
    }

    /**
     * A string that is record[from, from + length) as it is (valid UTF-8 without an escape). Its text is
     * made only when asked for (value()): the checks below read the bytes.
     */
    void setString(byte[] record, int from, int length) {
        set(JsonToken.VALUE_STRING, null, null);
        source = record;
        sourceOffset = from;
        sourceLength = length;
    }

    /** A number as set() sets it, with its exact hundredths when the scan read them (see exactCents). */
    void setNumber(JsonToken t, Number number, boolean exact, long hundredths) {
        set(t, null, number);
        exactCents = exact;
        cents = hundredths;
    }

    /**
     * The number as a DECIMAL(12, 2) column: DecimalData.fromBigDecimal(decimal(), 12, 2). From the exact
     * hundredths when the scan read them, without a Double.toString and a BigDecimal: the same value, since
     * below 10^10 a double's digits are within 2e-6 of the text they were parsed from, and the rounding
     * to 2 places (HALF_UP) gives that text's value back.
     */
    DecimalData amount() {
        if (exactCents && cents > -MAX_CENTS && cents < MAX_CENTS) {
            return DecimalData.fromUnscaledLong(cents, 12, 2);
        }
        return DecimalData.fromBigDecimal(decimal(), 12, 2);
    }

    private static final long MAX_CENTS = 1_000_000_000_000L; // 10^12 hundredths: DECIMAL(12, 2)'s bound

    /** value() != null, without making the text. */
    boolean hasValue() {
        return text != null || number != null || source != null;
    }

    /** A string equal to `ascii` (an ASCII text). */
    boolean isString(String ascii) {
        if (token != JsonToken.VALUE_STRING) {
            return false;
        }
        if (source == null) {
            return text.equals(ascii);
        }
        if (sourceLength != ascii.length()) {
            return false;
        }
        for (int k = 0; k < sourceLength; k++) {
            if (source[sourceOffset + k] != ascii.charAt(k)) {
                return false;
            }
        }
        return true;
    }

    /** A string equal to one of `asciis`. */
    boolean isOneOf(java.util.List<String> asciis) {
        for (String ascii : asciis) {
            if (isString(ascii)) {
                return true;
            }
        }
        return false;
    }

    /** A string matching ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ (OrderContract.isUuidV4). */
    boolean isUuidV4() {
        if (token != JsonToken.VALUE_STRING) {
            return false;
        }
        if (source == null) {
            return OrderContract.isUuidV4(text);
        }
        if (sourceLength != 36) {
            return false;
        }
        for (int k = 0; k < 36; k++) {
            byte ch = source[sourceOffset + k];
            if (k == 8 || k == 13 || k == 18 || k == 23) {
                if (ch != '-') {
                    return false;
                }
            } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
                return false;
            }
        }
        byte variant = source[sourceOffset + 19];
        return source[sourceOffset + 14] == '4' && (variant == '8' || variant == '9' || variant == 'a' || variant == 'b');
    }

    /** A string matching ^<prefix>[0-9a-z]+$ (OrderContract.isPrefixedId; `prefix` is ASCII). */
    boolean isPrefixedId(String prefix) {
        if (token != JsonToken.VALUE_STRING) {
            return false;
        }
        if (source == null) {
            return OrderContract.isPrefixedId(text, prefix);
        }
        int p = prefix.length();
        if (sourceLength <= p) {
            return false;
        }
        for (int k = 0; k < sourceLength; k++) {
            byte ch = source[sourceOffset + k];
            if (k < p ? ch != prefix.charAt(k) : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z'))) {
                return false;
            }
        }
        return true;
    }

    /** A string matching ^[A-Z]{n}$ (OrderContract.isUpperLetters). */
    boolean isUpperLetters(int n) {
        if (token != JsonToken.VALUE_STRING) {
            return false;
        }
        if (source == null) {
            return OrderContract.isUpperLetters(text, n);
        }
        if (sourceLength != n) { // a non-ASCII character is not A-Z either way
            return false;
        }
        for (int k = 0; k < n; k++) {
            byte ch = source[sourceOffset + k];
            if (ch < 'A' || ch > 'Z') {
                return false;
            }
        }
        return true;
    }

    /** A string matching ^[^@\s]+@[^@\s]+$ (OrderContract.isEmail); its text is made only when it is not ASCII. */
    boolean isEmail() {
        if (token != JsonToken.VALUE_STRING) {
            return false;
        }
        if (source == null) {
            return OrderContract.isEmail(text);
        }
        int at = -1;
        for (int k = 0; k < sourceLength; k++) {
            byte ch = source[sourceOffset + k];
            if (ch < 0) {
                return OrderContract.isEmail(value()); // Unicode whitespace: the text's check
            }
            if (ch == '@') {
                if (at >= 0) {
                    return false;
                }
                at = k;
            } else if (ch == ' ' || (ch >= 0x09 && ch <= 0x0D) || (ch >= 0x1C && ch <= 0x1F)) {
                return false; // Character.isWhitespace or isSpaceChar of an ASCII character
            }
        }
        return at > 0 && at < sourceLength - 1;
    }

    /** The number of code points of value() (null: -1). */
    int codePoints() {
        if (source == null) {
            String t = value();
            return t == null ? -1 : t.codePointCount(0, t.length());
        }
        int count = 0;
        for (int k = 0; k < sourceLength; k++) {
            if ((source[sourceOffset + k] & 0xC0) != 0x80) { // not a continuation byte (valid UTF-8)
                count++;
            }
        }
        return count;
    }

    /**
     * The value's text as a StringData (null when it has none): a string of the record is cut from
     * `record` (the record wrapped once as Flink memory and shared by all its strings: one object per
     * string instead of three); any other text is OrderClassifier.utf8 of value().
     */
    StringData utf8(RecordMemory record) {
        if (source != null) {
            return BinaryStringData.fromAddress(record.of(source), sourceOffset, sourceLength);
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
        if (text == null && source != null) {
            text = new String(source, sourceOffset, sourceLength, StandardCharsets.UTF_8);
        }
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
        return token == JsonToken.VALUE_STRING && (source != null ? sourceLength > 0 : !text.isEmpty());
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
