package dev.pipectl.flink;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.math.BigDecimal;

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

    void reset() {
        token = null;
        text = null;
        number = null;
        decimal = null;
    }

    /** Reads the value the parser stands on (a later duplicate key replaces an earlier one). */
    void read(JsonParser p, JsonToken t) throws IOException {
        token = t;
        number = null;
        decimal = null;
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
