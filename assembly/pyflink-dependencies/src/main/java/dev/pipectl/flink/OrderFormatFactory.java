/*
 * The order_ingest job's classification as a Kafka value format: each record is classified where the
 * Kafka source reads it, in the same pass, and the source emits the classified row itself.
 *
 * Used in the job's SQL (jobs/order_ingest/statements.py, source_table):
 *   CREATE TEMPORARY TABLE kafka_orders (<COLUMNS>, kafka_partition ... METADATA, kafka_offset ... METADATA)
 *   WITH ('connector' = 'kafka', ..., 'format' = 'pipectl-orders')
 * The columns are ClassifyOrder's (the reject reason, then the columns of a valid order) and `raw`: the
 * record as Flink's raw format makes a STRING of it, for a rejected record only (NULL for a valid one:
 * the orders table does not keep it). One row per record, a null (tombstone) record included.
 */
package dev.pipectl.flink;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.utils.LogicalTypeParser;

import java.util.Collections;
import java.util.List;
import java.util.Set;

public final class OrderFormatFactory implements DeserializationFormatFactory {

    public static final String IDENTIFIER = "pipectl-orders";

    /** The columns the format emits, in this order: ClassifyOrder's, then the record itself. */
    public static final String COLUMNS_TYPE =
            ClassifyOrder.OUTPUT_TYPE.substring(0, ClassifyOrder.OUTPUT_TYPE.length() - 1) + ", `raw` STRING>";

    static final int RAW = OrderClassifier.COLUMNS;

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Collections.emptySet();
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Collections.emptySet();
    }

    @Override
    public DecodingFormat<DeserializationSchema<RowData>> createDecodingFormat(
            DynamicTableFactory.Context context, ReadableConfig formatOptions) {
        FactoryUtil.validateFactoryOptions(this, formatOptions);
        return new DecodingFormat<DeserializationSchema<RowData>>() {
            @Override
            public DeserializationSchema<RowData> createRuntimeDecoder(
                    DynamicTableSource.Context sourceContext, DataType physicalDataType) {
                checkColumns(physicalDataType.getLogicalType());
                return new Deserializer(sourceContext.createTypeInformation(physicalDataType));
            }

            @Override
            public ChangelogMode getChangelogMode() {
                return ChangelogMode.insertOnly();
            }
        };
    }

    /** The table's physical columns must be COLUMNS_TYPE's, by name and type (nullability aside). */
    static void checkColumns(LogicalType physical) {
        RowType want = (RowType) LogicalTypeParser.parse(COLUMNS_TYPE, OrderFormatFactory.class.getClassLoader());
        List<RowType.RowField> have = physical instanceof RowType ? ((RowType) physical).getFields() : List.of();
        boolean same = have.size() == want.getFieldCount();
        for (int i = 0; same && i < have.size(); i++) {
            RowType.RowField h = have.get(i);
            RowType.RowField w = want.getFields().get(i);
            same = h.getName().equals(w.getName()) && h.getType().copy(true).equals(w.getType().copy(true));
        }
        if (!same) {
            throw new ValidationException("format '" + IDENTIFIER + "' emits the columns " + want.asSummaryString()
                    + ", not " + physical.asSummaryString() + ": declare exactly those physical columns");
        }
    }

    /** One record, one row: OrderClassifier's, with the record itself when it is rejected. */
    static final class Deserializer implements DeserializationSchema<RowData> {
        private static final long serialVersionUID = 1L;

        private final TypeInformation<RowData> producedType;
        private transient OrderClassifier classifier;

        Deserializer(TypeInformation<RowData> producedType) {
            this.producedType = producedType;
        }

        @Override
        public void open(InitializationContext context) {
            classifier = new OrderClassifier(RAW + 1);
        }

        @Override
        public RowData deserialize(byte[] message) {
            if (classifier == null) {
                classifier = new OrderClassifier(RAW + 1);
            }
            GenericRowData row = classifier.classify(message);
            if (row.getField(0) != null && message != null) {
                row.setField(RAW, StringData.fromBytes(message)); // as Flink's raw format makes it
            }
            return row;
        }

        @Override
        public boolean isEndOfStream(RowData nextElement) {
            return false;
        }

        @Override
        public TypeInformation<RowData> getProducedType() {
            return producedType;
        }
    }
}
