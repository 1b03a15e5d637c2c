package dev.pipectl.flink;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;

/**
 * One member of a JSON object as the parser met it: its token and, for a scalar, the text that Flink's
 * JSON_VALUE would return for it (String.valueOf of the value Jackson's untyped reader makes: the
 * string itself, Integer/Long/BigInteger digits, Double.toString for floats, true/false).
 */
final class JsonField {
    JsonToken token;
    String text;
    Number number;

    void reset() {
        token = null;
        text = null;
        number = null;
    }

    /** Reads the value the parser stands on (a later duplicate key replaces an earlier one). */
    void read(JsonParser p, JsonToken t) throws IOException {
        token = t;
        number = null;
        switch (t) {
            case VALUE_STRING:
                text = p.getText();
                break;
            case VALUE_NUMBER_INT:
                number = p.getNumberValue();
                text = number.toString();
                break;
            case VALUE_NUMBER_FLOAT:
                number = p.getDoubleValue();
                text = number.toString();
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
        return text;
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
