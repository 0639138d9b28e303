"""What the patient page shows of consent: each scope, plainly in force today or not (and by
which consent, or since when withdrawn), the consent records, and what this person may do."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from registry import roles
from registry.models import Consent, ConsentScope, Patient
from registry.selectors import consent_by_scope, patient_consents


@dataclass(frozen=True)
class ScopeStatus:
    """One scope on the patient page: in force (by which consent) or not, and why not."""

    scope: str
    label: str
    consent: Consent | None  # the consent that holds it today
    withdrawn_on: dt.date | None  # not in force because withdrawn on this day (the latest)

    @property
    def in_force(self) -> bool:
        return self.consent is not None


def consent_summary(
    patient: Patient, today: dt.date, records: list[Consent] | None = None
) -> list[ScopeStatus]:
    """Each scope's state today: what the patient page shows first."""
    records = patient_consents(patient) if records is None else records
    holding = consent_by_scope(patient, today, records)
    statuses = []
    for scope, label in ConsentScope.choices:
        withdrawals = [
            day for c in records if (day := c.withdrawn_on(scope)) is not None and day <= today
        ]
        statuses.append(ScopeStatus(scope, label, holding[scope], max(withdrawals, default=None)))
    return statuses


def patient_page_context(
    patient: Patient, allowed: frozenset[str], today: dt.date
) -> dict[str, object]:
    records = patient_consents(patient)  # one query for the summary and the table
    return {
        "consent_scopes": consent_summary(patient, today, records),
        "consents": records,
        "can_record_consent": roles.RECORD_CONSENT in allowed,
        "can_withdraw_consent": roles.WITHDRAW_CONSENT in allowed,
    }
