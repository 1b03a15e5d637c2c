// Creates the Kafka Connect sink's table in a Hadoop catalog before the connector starts: the contract's
// columns with their types (the sink converts each JSON record to them), partitioned by day(event_time).
// The sink cannot make this table itself from schemaless JSON: it would infer event_time as a string.
// Run (single-file source, Java 11+):
//   java -cp 'target/bench-connect/plugin/iceberg-sink/*' bench/kafka-connect/CreateTable.java WAREHOUSE NAMESPACE TABLE
import static org.apache.iceberg.types.Types.NestedField.optional;

import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.iceberg.PartitionSpec;
import org.apache.iceberg.Schema;
import org.apache.iceberg.catalog.TableIdentifier;
import org.apache.iceberg.hadoop.HadoopCatalog;
import org.apache.iceberg.types.Types;

public class CreateTable {
  public static void main(String[] args) throws Exception {
    Schema schema =
        new Schema(
            optional(1, "event_id", Types.StringType.get()),
            optional(2, "event_type", Types.StringType.get()),
            optional(3, "schema_version", Types.IntegerType.get()),
            optional(4, "event_time", Types.TimestampType.withZone()),
            optional(5, "order_id", Types.StringType.get()),
            optional(
                6,
                "customer",
                Types.StructType.of(
                    optional(20, "customer_id", Types.StringType.get()),
                    optional(21, "name", Types.StringType.get()),
                    optional(22, "email", Types.StringType.get()))),
            optional(
                7,
                "shipping_address",
                Types.StructType.of(
                    optional(23, "street", Types.StringType.get()),
                    optional(24, "city", Types.StringType.get()),
                    optional(25, "postal_code", Types.StringType.get()),
                    optional(26, "country", Types.StringType.get()))),
            optional(
                8,
                "items",
                Types.ListType.ofOptional(
                    27,
                    Types.StructType.of(
                        optional(28, "sku", Types.StringType.get()),
                        optional(29, "product_name", Types.StringType.get()),
                        optional(30, "quantity", Types.IntegerType.get()),
                        optional(31, "unit_price", Types.DecimalType.of(12, 2))))),
            optional(9, "item_count", Types.IntegerType.get()),
            optional(10, "total_amount", Types.DecimalType.of(12, 2)),
            optional(11, "currency", Types.StringType.get()),
            optional(12, "payment_method", Types.StringType.get()),
            optional(13, "channel", Types.StringType.get()));
    PartitionSpec spec = PartitionSpec.builderFor(schema).day("event_time").build();
    try (HadoopCatalog catalog = new HadoopCatalog(new Configuration(), args[0])) {
      catalog.createTable(TableIdentifier.of(args[1], args[2]), schema, spec, Map.of("format-version", "2"));
    }
  }
}
