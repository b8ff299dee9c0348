"""Partition state in the store: ordered keys for records and indexes, a bounded cache, one write per checkpoint."""
