"""pipectl: operator toolkit for the orders pipeline (Kafka -> PyFlink -> Iceberg)."""

__version__ = "0.1.0"
