"""Latency of architectures: per-layer lookup tables (:mod:`nas.latency.table`); each space
defines the units it is timed in (:meth:`search_spaces.SearchSpace.latency_keys`)."""
