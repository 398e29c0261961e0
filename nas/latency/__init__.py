"""Latency of architectures: per-layer lookup tables (:mod:`nas.latency.table`) and the
layer units each space is timed in (:mod:`nas.latency.units`)."""
