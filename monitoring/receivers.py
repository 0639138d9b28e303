"""Re-evaluate the patients a clinical action changed, once it has committed."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from monitoring.tasks import enqueue_patient_evaluations
from registry.signals import reevaluation_requested


@receiver(reevaluation_requested, dispatch_uid="monitoring.reevaluate_after_action")
def reevaluate_after_action(
    sender: Any, *, patient_ids: list[int], actor_id: int | None, **kwargs: Any
) -> None:
    enqueue_patient_evaluations(patient_ids, actor_id)
