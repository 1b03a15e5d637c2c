/*
 * The order_ingest job's classification: one JSON parse per Kafka record.
 *
 * Registered in the job's SQL (jobs/order_ingest/statements.py):
 *   CREATE TEMPORARY SYSTEM FUNCTION classify_order AS 'dev.pipectl.flink.ClassifyOrder' LANGUAGE JAVA
 * and called once per record through LATERAL TABLE(classify_order(`raw`)). It emits exactly one row:
 * the reject reason (NULL for a valid order) and, for a valid order, the columns of analytics.orders
 * (contract version 1 or 2; the version 2 columns are NULL for a version 1 event).
 */
package dev.pipectl.flink;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.TableFunction;

@FunctionHint(output = @DataTypeHint(value = ClassifyOrder.OUTPUT_TYPE, bridgedTo = RowData.class))
public final class ClassifyOrder extends TableFunction<RowData> {

    private static final long serialVersionUID = 1L;

    /** The emitted row; field names are the view's column names. */
    public static final String OUTPUT_TYPE = "ROW<"
            + "`reject_reason` STRING, "
            + "`event_id` STRING, "
            + "`event_type` STRING, "
            + "`schema_version` INT, "
            + "`order_id` STRING, "
            + "`customer_id` STRING, "
            + "`customer_name` STRING, "
            + "`customer_email` STRING, "
            + "`ship_city` STRING, "
            + "`ship_country` STRING, "
            + "`items` STRING, "
            + "`item_count` INT, "
            + "`total_amount` DECIMAL(12, 2), "
            + "`currency` STRING, "
            + "`payment_method` STRING, "
            + "`channel` STRING, "
            + "`event_time` TIMESTAMP(3), "
            // contract version 2 (NULL for a version 1 event)
            + "`discount_amount` DECIMAL(12, 2), "
            + "`coupon_code` STRING>";

    private transient OrderClassifier classifier;

    public void eval(@DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData raw) {
        if (classifier == null) {
            classifier = new OrderClassifier();
        }
        collect(classifier.classify(raw));
    }
}
