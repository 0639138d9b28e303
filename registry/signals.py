"""Signals the registry sends; other apps (monitoring) receive them without registry knowing."""

from django.dispatch import Signal

# Sent inside the saving transaction with `record` and `patient_id`; receivers that enqueue work
# must defer it with `transaction.on_commit`.
clinical_record_saved = Signal()
