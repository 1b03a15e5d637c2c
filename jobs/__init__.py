"""Flink jobs. Code here runs inside Flink: it imports only pyflink and the standard library."""
