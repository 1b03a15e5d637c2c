"""Flink: REST client and job lifecycle."""
