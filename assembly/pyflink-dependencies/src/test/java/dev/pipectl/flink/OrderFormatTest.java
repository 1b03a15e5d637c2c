package dev.pipectl.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.types.logical.utils.LogicalTypeParser;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

/** The classification as the Kafka source's value format: the same row as the function's, plus the record. */
class OrderFormatTest {

    private final OrderFormatFactory.Deserializer format = new OrderFormatFactory.Deserializer(null);

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** VALID with the ë of the customer's name cut to its first byte. */
    private static byte[] notUtf8() {
        byte[] b = utf8(OrderClassifierTest.VALID);
        String text = new String(b, StandardCharsets.ISO_8859_1);
        b[text.indexOf("Zo") + 3] = 'x';
        return b;
    }

    @Test
    void eachRecordGivesTheFunctionsRowAndTheRecordWhenRejected() {
        byte[][] records = {
            utf8(OrderClassifierTest.VALID),
            utf8(OrderClassifierTest.with("\"EUR\"", "\"EURO\"")),
            utf8("not json"),
            utf8("\ufeff" + OrderClassifierTest.VALID),
            notUtf8(),
            new byte[0],
        };
        OrderClassifier function = new OrderClassifier();
        for (byte[] record : records) {
            RowData row = format.deserialize(record);
            GenericRowData expected = function.classify(StringData.fromBytes(record));
            assertEquals(OrderClassifier.COLUMNS + 1, row.getArity());
            for (int i = 0; i < OrderClassifier.COLUMNS; i++) {
                assertEquals(expected.getField(i), ((GenericRowData) row).getField(i), new String(record, StandardCharsets.UTF_8) + " column " + i);
            }
            if (expected.getField(0) == null) {
                assertNull(((GenericRowData) row).getField(OrderFormatFactory.RAW)); // the orders table does not keep it
            } else { // the bytes as they are, as Flink's raw format gives them
                assertEquals(StringData.fromBytes(record), row.getString(OrderFormatFactory.RAW));
            }
        }
        assertNull(((GenericRowData) format.deserialize(utf8(OrderClassifierTest.VALID))).getField(0));
        assertEquals(Reasons.NOT_UTF8, format.deserialize(records[4]).getString(0).toString());
    }

    @Test
    void aNullRecordIsRejectedWithoutARecord() {
        RowData row = format.deserialize(null);
        assertEquals(Reasons.NOT_A_JSON_OBJECT, row.getString(0).toString());
        assertEquals(true, row.isNullAt(OrderFormatFactory.RAW));
    }

    @Test
    void theTableMustDeclareTheFormatsColumns() {
        ClassLoader loader = getClass().getClassLoader();
        OrderFormatFactory.checkColumns(LogicalTypeParser.parse(OrderFormatFactory.COLUMNS_TYPE, loader));
        String missingRaw = ClassifyOrder.OUTPUT_TYPE;
        ValidationException e = assertThrows(ValidationException.class,
                () -> OrderFormatFactory.checkColumns(LogicalTypeParser.parse(missingRaw, loader)));
        assertEquals(true, e.getMessage().startsWith("format 'pipectl-orders' emits the columns ROW<`reject_reason` STRING"),
                e.getMessage());
        assertEquals(true, e.getMessage().endsWith(": declare exactly those physical columns"), e.getMessage());
        String wrongType = OrderFormatFactory.COLUMNS_TYPE.replace("`item_count` INT", "`item_count` BIGINT");
        assertThrows(ValidationException.class,
                () -> OrderFormatFactory.checkColumns(LogicalTypeParser.parse(wrongType, loader)));
    }
}
