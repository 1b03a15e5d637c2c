"""order_ingest: Kafka topic orders.created.v1 -> Iceberg analytics.orders (+ quarantine)."""
