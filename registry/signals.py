"""Signals the registry sends; other apps (monitoring) receive them without registry knowing."""

from django.dispatch import Signal

# Sent once a clinical action has committed, with `patient_ids` (a sorted list) and `actor_id` (who
# acted, or None): the patients whose courses must be re-evaluated. One action sends it once,
# however many rows it saved (see `registry.reevaluation`).
reevaluation_requested = Signal()
