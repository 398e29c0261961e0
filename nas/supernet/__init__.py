"""Supernet training: the trainer (:mod:`nas.supernet.trainer`: sampling rules, sandwich,
in-place distillation) and the study-driven flow behind ``nas train-supernet``
(:mod:`nas.supernet.from_study`: checkpoints per epoch, resume, records in the store)."""
