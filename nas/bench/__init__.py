"""What ``nas bench`` runs: the NAS-Bench-201 search benchmark (:mod:`nas.bench.search`)
and supernet ranking against a reference (:mod:`nas.bench.supernet_ranking`)."""
