"""A synthetic registry of N patients, written with COPY (not the ORM) in batches of patients.

Shape (fixed seed, so two runs with the same N and the same day give the same registry):
- about 55 % of patients have one active course, 20 % one stopped course, 25 % a stopped course, a
  relapse and a retreatment course that is still active (1.25 courses per patient);
- infusions at weeks 0, 2, 6 then every 8 weeks (6 for a few), mostly on time, some late, a few
  long gaps (interrupted therapy), a few active courses that stalled (overdue doses), tapers
  (interval 8 → 10 → 12 weeks) and a few intensifications as regimen changes;
- CRP and ESR about every 3 months (and after stopping), troughs for 40 % of courses (some low,
  then antibodies, some positive), whole-body MRI at baseline, 6 and 12 months for most, yearly for
  some; assessments every 2–3 months (a week-10 one for most) and at visits after stopping;
- about 3 % of infusions followed by a reaction (10 % of those severe, most reviewed by the site's
  clinician: one synthetic user per site, `bench-clinician-sNN`, kept across runs);
- a few dosing errors and stale weights; some unrecorded relapses after stopping;
- methotrexate with infliximab for about 20 % of patients (some stopped later), with a blood count
  (neutrophils, platelets) and ALT every 2–4 months while on it, lapsing for some (from a random
  stream of its own, so the rest of the registry is what it was without it);
- TB (IGRA, or a tuberculin skin test for some) and hepatitis B (HBsAg, anti-HBc) screening two to
  eight weeks before each course for about 95 % of courses (the rest raise screening_missing); a
  positive anti-HBc for about 2 % of them, reviewed by the site's clinician (from a stream of its
  own too).

Every database constraint holds (dates up to today, weights, the 10 mg/kg ceiling, one infusion per
course per day, lab ranges, courses of a patient never overlapping, one regimen change per day).
Ids are assigned here (the tables are wiped with RESTART IDENTITY first) and the identity sequences
are moved past them afterwards. The history tables (registry_historical*) are left empty.

    python -m benchmarks.generate --patients 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

SEED = 20261124
SITES = 20
BATCH_PATIENTS = 1000
COURSES_PER_PATIENT = 1.25  # 0.75 × 1 + 0.25 × 2

NULL = "\\N"
INDUCTION_WEEKS = "[0, 2, 6]"

# Column lists of each table as COPY writes them (id first, then created_at and updated_at).
COLUMNS: dict[str, tuple[str, ...]] = {
    "registry_site": ("code", "name"),
    "registry_membership": ("role", "user_id", "site_id"),
    "registry_consentdocument": (
        "code",
        "title",
        "version",
        "approved_on",
        "signed_by",
        "covers_care_data",
        "covers_research",
        "covers_contact",
    ),
    "registry_patient": (
        "registry_code",
        "mrn",
        "given_name",
        "family_name",
        "date_of_birth",
        "sex",
        "diagnosed_on",
        "site_id",
    ),
    "registry_treatmentcourse": (
        "drug",
        "started_on",
        "planned_dose_mg_per_kg",
        "induction_weeks",
        "maintenance_interval_weeks",
        "stopped_on",
        "stop_reason",
        "notes",
        "patient_id",
    ),
    "registry_regimenchange": (
        "effective_on",
        "dose_mg_per_kg",
        "interval_weeks",
        "reason",
        "note",
        "course_id",
    ),
    "registry_infusion": (
        "given_on",
        "weight_kg",
        "weight_measured_on",
        "dose_mg",
        "duration_minutes",
        "premedication_antihistamine",
        "premedication_corticosteroid",
        "premedication_antipyretic",
        "lot_number",
        "weight_confirmed",
        "notes",
        "course_id",
    ),
    "registry_infusionreaction": (
        "onset",
        "severity",
        "symptoms",
        "management",
        "infusion_stopped",
        "outcome",
        "reviewed_on",
        "infusion_id",
        "reviewed_by_id",
        "review_decision",
        "review_note",
    ),
    "registry_labresult": (
        "collected_on",
        "analyte",
        "analyte_name",
        "value",
        "unit",
        "antibodies_positive",
        "assay_name",
        "reference_low",
        "reference_high",
        "patient_id",
    ),
    "registry_imagingstudy": (
        "performed_on",
        "modality",
        "active_lesions",
        "new_lesions",
        "lesion_counts",
        "impression",
        "rinbo_total",
        "rai_cromris_total",
        "report_text",
        "patient_id",
    ),
    "registry_clinicalassessment": (
        "assessed_on",
        "pain_score",
        "physician_global",
        "patient_global",
        "chaq",
        "clinically_active_lesions",
        "lesion_counts",
        "disease_state",
        "notes",
        "patient_id",
    ),
    "registry_relapse": (
        "noted_on",
        "evidence",
        "patient_id",
        "course_id",
        "retreatment_course_id",
    ),
    "registry_medication": (
        "drug",
        "drug_name",
        "dose",
        "dose_unit",
        "route",
        "frequency",
        "started_on",
        "stopped_on",
        "stop_reason",
        "patient_id",
    ),
    "registry_screeningresult": (
        "test",
        "tested_on",
        "result",
        "reviewed_on",
        "patient_id",
        "reviewed_by_id",
    ),
    "registry_consent": (
        "consented_by",
        "assent",
        "care_data_given",
        "research_given",
        "contact_given",
        "given_on",
        "care_data_withdrawn_on",
        "research_withdrawn_on",
        "contact_withdrawn_on",
        "document_id",
        "patient_id",
    ),
}
# The consent documents (the wipe empties the list its migration seeded): a parent's for a child,
# the patient's own for an adult.
CONSENT_DOCUMENTS = {
    "parent_guardian": ("parent-guardian-consent", "Parent/guardian consent"),
    "patient": ("young-person-consent", "Young person/adult consent"),
}
# Parents before children, so that each batch's foreign keys point at rows already written.
TABLES = tuple(COLUMNS)

REACTIONS = {
    "mild": ("Flushing and pruritus", "Infusion slowed; oral antihistamine"),
    "moderate": ("Urticaria, chest tightness", "Infusion paused; IV antihistamine, paracetamol"),
    "severe": (
        "Hypotension, wheeze, facial angioedema",
        "Infusion stopped; IM adrenaline, IV hydrocortisone",
    ),
}


@dataclass
class Generated:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def courses(self) -> int:
        return self.rows.get("registry_treatmentcourse", 0)


def patients_for_courses(courses: int) -> int:
    return round(courses / COURSES_PER_PATIENT)


class Registry:
    """Builds the COPY text of every table, patient by patient, for one `today`."""

    def __init__(self, today: dt.date, clinicians: list[int], seed: int = SEED) -> None:
        self.clinicians = clinicians  # user id of each site's clinician, site n at index n - 1
        self.reviewer = NULL  # the clinician of the current patient's site
        self.rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
        self.co_rng = random.Random(seed + 1)  # noqa: S311 - methotrexate and its bloods
        self.screen_rng = random.Random(seed + 2)  # noqa: S311 - screening before each course
        self.consent_rng = random.Random(seed + 3)  # noqa: S311 - who consented, which scopes
        self.documents: dict[str, int] = {}
        # (patient, day) of the markers drawn: a retreatment's first visit can fall on a day the
        # earlier course's already had, and a second identical result breaks the lab's unique key.
        self.marker_days: set[tuple[int, int]] = set()
        self.today = today.toordinal()
        # Dates as ordinals; their ISO text from a table (formatting dates is the hot path).
        self.base = self.today - 100 * 366
        self.iso = [dt.date.fromordinal(o).isoformat() for o in range(self.base, self.today + 1)]
        now = dt.datetime.now(dt.UTC).isoformat()
        self.stamp = f"\t{now}\t{now}\t"
        self.next_id = dict.fromkeys(TABLES, 1)
        self.lines: dict[str, list[str]] = {table: [] for table in TABLES}
        self.rows = dict.fromkeys(TABLES, 0)

    # --- Writing ---------------------------------------------------------------------------------

    def _row(self, table: str, *values: object) -> int:
        """Append one row (values already COPY text); returns its id."""
        row_id = self.next_id[table]
        self.next_id[table] = row_id + 1
        self.lines[table].append(f"{row_id}{self.stamp}" + "\t".join(map(str, values)) + "\n")
        return row_id

    def _day(self, ordinal: int | None) -> str:
        return NULL if ordinal is None else self.iso[ordinal - self.base]

    def sites(self) -> None:
        for n, user_id in enumerate(self.clinicians, start=1):
            site_id = self._row("registry_site", f"s{n:02d}", f"Synthetic site {n:02d}")
            self._row("registry_membership", "clinician", user_id, site_id)
        for signer, (code, title) in CONSENT_DOCUMENTS.items():
            self.documents[signer] = self._row(
                "registry_consentdocument", code, title, "1", NULL, signer, "t", "t", "t"
            )

    def take(self) -> dict[str, str]:
        """The COPY text built since the last call, by table (parents first)."""
        batch = {}
        for table in TABLES:
            lines = self.lines[table]
            if lines:
                batch[table] = "".join(lines)
                self.rows[table] += len(lines)
                self.lines[table] = []
        return batch

    # --- One patient -----------------------------------------------------------------------------

    def patient(self) -> None:
        r, today = self.rng, self.today
        patient_id = self.next_id["registry_patient"]
        self.marker_days.clear()  # one patient's at a time
        u = r.random()
        plans: list[tuple[int, int | None, str]]  # (started_on, stopped_on, stop_reason), in order
        relapse_on: int | None
        if u < 0.55:
            plans = [(today - min(int(r.expovariate(1 / 900)), 3650), None, "")]
            relapse_on = None
        elif u < 0.75:
            start = today - r.randint(150, 9 * 365)
            if r.random() < 0.2:
                length = r.randint(60, 330)
                reason = r.choice(("adverse_event", "inefficacy", "patient_choice", "other"))
            else:
                length = r.randint(365, 4 * 365)
                reason = "remission" if r.random() < 0.85 else "patient_choice"
            plans = [(start, min(start + length, today - r.randint(1, 30)), reason)]
            relapse_on = None
        else:
            restart = today - min(int(r.expovariate(1 / 600)), 6 * 365)
            relapse_on = restart - r.randint(7, 60)
            stopped = relapse_on - r.randint(90, 720)
            plans = [
                (stopped - r.randint(365, 3 * 365), stopped, "remission"),
                (restart, None, ""),
            ]
        first_start = plans[0][0]
        paediatric = r.random() < 0.85
        born = first_start - (
            r.randint(4 * 365, 16 * 365) if paediatric else r.randint(18 * 365, 50 * 365)
        )
        diagnosed = max(born, first_start - r.randint(30, 3 * 365))
        consent = withdrawn = None
        if r.random() < 0.75:
            consent = min(today, first_start + r.randint(-60, 30))
            if r.random() < 0.04:
                withdrawn = consent + r.randint(30, 1000)
                if withdrawn > today:
                    withdrawn = None
        site = r.randint(1, SITES)
        self.reviewer = str(self.clinicians[site - 1])
        self._row(
            "registry_patient",
            f"CRMO-{patient_id:06d}",
            f"SYN{patient_id:07d}",
            "Synthetic",
            f"P{patient_id}",
            self._day(born),
            "female" if r.random() < 0.6 else "male",
            self._day(diagnosed),
            site,
        )
        if consent is not None:
            self._consent(patient_id, born, consent, withdrawn)
        weight_factor = r.uniform(0.85, 1.2)
        lab_range = r.random() < 0.6
        course_ids = []
        for index, (start, stop, reason) in enumerate(plans):
            next_start = plans[index + 1][0] if index + 1 < len(plans) else None
            onset = None
            if stop is not None:
                if relapse_on is not None and next_start is not None:
                    onset = max(stop + 1, relapse_on - r.randint(0, 45))
                elif r.random() < 0.12:  # a relapse the registry has not been told about
                    onset = stop + r.randint(60, 700)
            course_ids.append(
                self._course(
                    patient_id,
                    born,
                    weight_factor,
                    lab_range,
                    start,
                    stop,
                    reason,
                    next_start,
                    onset,
                )
            )
        if relapse_on is not None:
            self._row(
                "registry_relapse",
                self._day(relapse_on),
                "Whole-body MRI: new and active lesions; bone pain (synthetic)",
                patient_id,
                course_ids[0],
                course_ids[1],
            )
        self._methotrexate(patient_id, first_start)
        self._screening(patient_id, born, [start for start, _stop, _reason in plans])

    # --- Screening before each course ------------------------------------------------------------

    def _screening(self, patient_id: int, born: int, starts: list[int]) -> None:
        """TB and hepatitis B screening before most courses (never after today, never before
        birth); a positive anti-HBc now and then, with its specialist review."""
        r, today = self.screen_rng, self.today
        for start in starts:
            if r.random() < 0.05:
                continue  # not on record: screening_missing
            on = max(born, min(today, start - r.randint(14, 56)))
            tb = "tb_igra" if r.random() < 0.8 else "tb_skin_test"
            core = "positive" if r.random() < 0.02 else "negative"
            for test, result in (
                (tb, "negative"),
                ("hbv_hbsag", "negative"),
                ("hbv_anti_hbc", core),
            ):
                reviewed = min(today, on + r.randint(3, 21)) if result == "positive" else None
                self._row(
                    "registry_screeningresult",
                    test,
                    self._day(on),
                    result,
                    self._day(reviewed),
                    patient_id,
                    NULL if reviewed is None else self.reviewer,
                )

    # --- Methotrexate with infliximab ------------------------------------------------------------

    def _consent(self, patient_id: int, born: int, given: int, withdrawn: int | None) -> None:
        """A parent's consent for a child (with the child's assent when old enough to be
        asked), the patient's own for an adult; research withdrawn on `withdrawn`, if given."""
        r = self.consent_rng
        adult = given - born >= 18 * 365
        signer = "patient" if adult else "parent_guardian"
        assent = "not_applicable" if adult or given - born < 7 * 365 else "given"
        self._row(
            "registry_consent",
            signer,
            assent,
            "t",
            "t",
            "t" if r.random() < 0.7 else "f",
            self._day(given),
            NULL,
            self._day(withdrawn),
            NULL,
            self.documents[signer],
            patient_id,
        )

    def _methotrexate(self, patient_id: int, first_start: int) -> None:
        """Weekly methotrexate for about one patient in five, from around the first course's
        start; its blood count and ALT every 2–4 months, with a lapse for some."""
        r, today = self.co_rng, self.today
        if r.random() >= 0.2:
            return
        start = min(today, first_start + r.randint(-120, 400))
        stop = start + r.randint(90, 900) if r.random() < 0.3 else None
        if stop is not None and stop > today:
            stop = None
        self._row(
            "registry_medication",
            "methotrexate",
            "",
            "15.000",
            "mg/m2",
            "subcutaneous" if r.random() < 0.6 else "oral",
            "weekly",
            self._day(start),
            self._day(stop),
            "" if stop is None else "remission",
            patient_id,
        )
        lapse = today - r.randint(100, 300) if r.random() < 0.15 else today
        on = start - r.randint(0, 7)
        while on <= min(stop or today, lapse):
            day = self._day(on)
            for analyte, value, unit in (
                ("neutrophils", f"{r.uniform(1.6, 7.5):.1f}", "×10⁹/L"),
                ("platelets", f"{r.randint(150, 450)}", "×10⁹/L"),
                ("alt", f"{r.randint(8, 60)}", "U/L"),
            ):
                self._row(
                    "registry_labresult", day, analyte, "", value, unit, NULL, "", NULL, NULL,
                    patient_id,
                )  # fmt: skip
            on += r.randint(60, 120)

    # --- One course ------------------------------------------------------------------------------

    def _course(
        self,
        patient_id: int,
        born: int,
        weight_factor: float,
        lab_range: bool,
        start: int,
        stop: int | None,
        stop_reason: str,
        next_start: int | None,
        relapse_onset: int | None,
    ) -> int:
        r, today, day = self.rng, self.today, self._day
        u = r.random()
        dose_h = 500 if u < 0.97 else (750 if u < 0.99 else 1000)  # mg/kg × 100
        interval = 8 if r.random() < 0.95 else 6
        course_id = self._row(
            "registry_treatmentcourse",
            "infliximab",
            day(start),
            f"{dose_h // 100}.{dose_h % 100:02d}",
            INDUCTION_WEEKS,
            interval,
            day(stop),
            stop_reason,
            "",
            patient_id,
        )
        end = today if stop is None else stop  # on treatment up to and including `end`
        post_end = None
        if stop is not None:
            post_end = min(today, stop + 730, (next_start or today + 1) - 1)
        responder = r.random() < 0.8
        response_on = start + r.randint(60, 200)

        def active(on: int) -> bool:
            if on < response_on:
                return True
            if stop is not None and on > stop:
                return relapse_onset is not None and on >= relapse_onset
            return not responder and r.random() < 0.5

        given = self._infusions(course_id, born, weight_factor, start, end, stop, dose_h, interval)
        self._labs(patient_id, course_id, given, lab_range, start, end, stop, post_end, active)
        if relapse_onset is not None and post_end is not None and relapse_onset <= post_end:
            self._markers(patient_id, relapse_onset + r.randint(0, 14), post_end, lab_range, active)
        self._imaging(patient_id, start, end, stop, post_end, relapse_onset, active)
        self._assessments(patient_id, start, end, stop, post_end, relapse_onset, active)
        return course_id

    def _infusions(
        self,
        course_id: int,
        born: int,
        weight_factor: float,
        start: int,
        end: int,
        stop: int | None,
        dose_h: int,
        interval: int,
    ) -> list[tuple[int, bool]]:
        """Infusion rows and regimen changes; returns (date, restarted after a long gap)."""
        r, today, day, row = self.rng, self.today, self._day, self._row
        changes: list[tuple[int, int, int, str]] = []  # (from, dose_h, interval, reason)
        if end - start > 540 and r.random() < 0.3:
            taper_on = start + r.randint(450, 900)
            changes.append((taper_on, dose_h, interval + 2, "taper"))
            if r.random() < 0.5:
                changes.append((taper_on + r.randint(180, 400), dose_h, interval + 4, "taper"))
        elif r.random() < 0.04:
            boost = start + r.randint(100, 400)
            if interval == 8:
                changes.append((boost, dose_h, 6, "intensification"))
            else:
                changes.append((boost, min(dose_h + 250, 1000), interval, "intensification"))
        last = end
        if stop is None and r.random() < 0.08:  # stalled: the next dose is late or overdue
            last = today - r.randint(60, 130)
        shortened = r.random() < 0.5
        premedicated = r.random() < 0.05
        given: list[tuple[int, bool]] = []
        on, index, restart = start, 0, False
        while on <= last:
            applied = None
            while changes and changes[0][0] <= on:
                applied = changes.pop(0)
            if applied is not None:
                _from, dose_h, interval, reason = applied
                # effective from the infusion at which it was decided (one change per day)
                row(
                    "registry_regimenchange",
                    day(on),
                    f"{dose_h // 100}.{dose_h % 100:02d}",
                    interval,
                    reason,
                    "",
                    course_id,
                )
            age = (on - born) / 365.25
            kg = weight_factor * (8 + 2.6 * age if age < 18 else 54.8 + 0.2 * (age - 18))
            weight_h = min(max(int(kg * r.uniform(98.5, 101.5)), 1000), 15000)  # kg × 100
            u = r.random()
            weighed = day(on)
            if u < 0.04:
                weighed = day(on - r.randint(1, 20))
            elif u < 0.045:
                weighed = day(on - r.randint(35, 90))  # stale weight: a dose-check finding
            dose_t = round(weight_h * dose_h / 10000) * 10  # mg × 10, whole mg
            if r.random() < 0.005:  # a dosing error
                dose_t = int(dose_t * r.uniform(1.15, 1.3))
            dose_t = min(dose_t, weight_h)  # never above 10 mg/kg (no intensification)
            minutes = 120 if index < 4 or not shortened else 60
            premed = "t" if premedicated else "f"
            infusion_id = row(
                "registry_infusion",
                day(on),
                f"{weight_h // 100}.{weight_h % 100:02d}",
                weighed,
                f"{dose_t // 10}.{dose_t % 10}",
                minutes if r.random() < 0.97 else NULL,
                premed,
                premed,
                "t" if premedicated and r.random() < 0.5 else "f",
                f"L{(course_id * 7 + index) % 99991:05d}",
                "f",
                "",
                course_id,
            )
            given.append((on, restart))
            if r.random() < 0.03:
                self._reaction(infusion_id, on)
                premedicated = r.random() < 0.9  # premedicate from now on, usually
            if index < 2:
                step = (14, 28)[index] + r.randint(-1, 3)
            else:
                u = r.random()
                step = interval * 7
                if u < 0.84:
                    step += r.randint(-3, 3)
                elif u < 0.996:
                    step += r.randint(4, 21)  # late
                else:
                    step += r.randint(60, 200)  # interrupted therapy
            restart = step > 16 * 7
            on += step
            index += 1
        return given

    def _reaction(self, infusion_id: int, on: int) -> None:
        r = self.rng
        u = r.random()
        severity = "mild" if u < 0.6 else ("moderate" if u < 0.9 else "severe")
        symptoms, management = REACTIONS[severity]
        reviewed = None
        if r.random() < (0.85 if severity == "severe" else 0.5):
            reviewed = min(self.today, on + r.randint(0, 7))
        self._row(
            "registry_infusionreaction",
            "acute" if r.random() < 0.85 else "delayed",
            severity,
            symptoms,
            management,
            "t" if severity == "severe" or (severity == "moderate" and r.random() < 0.5) else "f",
            "resolved" if r.random() < 0.95 else "unknown",
            self._day(reviewed),
            infusion_id,
            NULL if reviewed is None else self.reviewer,
            "" if reviewed is None else "continue_premedicated",
            "",
        )

    def _markers(
        self,
        patient_id: int,
        on: int,
        until: int,
        lab_range: bool,
        active: Callable[[int], bool],
    ) -> None:
        """CRP (and usually ESR) on `on`, if it is not after `until`."""
        if on > until or (patient_id, on) in self.marker_days:
            return
        self.marker_days.add((patient_id, on))
        r, day = self.rng, self._day(on)
        flare = active(on)
        crp = r.uniform(6, 60) if flare else r.uniform(0.2, 4.5)
        low, high = ("0", "5") if lab_range else (NULL, NULL)
        self._row(
            "registry_labresult",
            day,
            "crp",
            "",
            f"{crp:.1f}",
            "mg/L",
            NULL,
            "",
            low,
            high,
            patient_id,
        )
        if r.random() < 0.95:
            esr = r.uniform(21, 80) if flare else r.uniform(2, 18)
            low, high = ("0", "20") if lab_range else (NULL, NULL)
            self._row(
                "registry_labresult",
                day,
                "esr",
                "",
                f"{esr:.0f}",
                "mm/h",
                NULL,
                "",
                low,
                high,
                patient_id,
            )

    def _drug_levels(self, patient_id: int, on: int, antibodies_likely: bool) -> None:
        """A trough level; when low (or after a restart), anti-infliximab antibodies too."""
        r, day = self.rng, self._day(on)
        low = r.random() < 0.12
        trough = r.uniform(0.4, 4.9) if low else r.uniform(5.1, 20)
        self._row(
            "registry_labresult",
            day,
            "ifx_trough",
            "",
            f"{trough:.1f}",
            "µg/mL",
            NULL,
            "",
            NULL,
            NULL,
            patient_id,
        )
        if antibodies_likely or (low and r.random() < 0.6):
            positive = r.random() < 0.3
            self._row(
                "registry_labresult",
                day,
                "anti_ifx",
                "",
                f"{r.uniform(10, 200):.0f}" if positive else NULL,
                "AU/mL",
                "t" if positive else "f",
                "Drug-tolerant ELISA",
                NULL,
                NULL,
                patient_id,
            )

    def _labs(
        self,
        patient_id: int,
        course_id: int,
        given: list[tuple[int, bool]],
        lab_range: bool,
        start: int,
        end: int,
        stop: int | None,
        post_end: int | None,
        active: Callable[[int], bool],
    ) -> None:
        r = self.rng
        on = start - r.randint(0, 14)
        while on <= end:
            self._markers(patient_id, on, end, lab_range, active)
            on += r.randint(75, 105)
        if stop is not None and post_end is not None:
            on = stop + r.randint(60, 120)
            while on <= post_end:
                self._markers(patient_id, on, post_end, lab_range, active)
                on += r.randint(90, 180)
        monitored = r.random() < 0.4
        last_trough = start
        for index, (on, restart) in enumerate(given):
            if restart and r.random() < 0.85:
                self._drug_levels(patient_id, on, antibodies_likely=True)
                last_trough = on
            elif monitored and index >= 3 and on >= last_trough + 170:
                self._drug_levels(patient_id, on, antibodies_likely=False)
                last_trough = on

    def _mri(self, patient_id: int, on: int, baseline: bool, active: Callable[[int], bool]) -> None:
        r = self.rng
        if active(on):
            lesions, new = r.randint(1, 6), (0 if baseline else r.randint(0, 2))
            impression = "" if baseline else ("worse" if r.random() < 0.3 else "stable")
        else:
            lesions, new, impression = 0, 0, ("resolved" if r.random() < 0.6 else "improved")
        self._row(
            "registry_imagingstudy",
            self._day(on),
            "wb_mri" if r.random() < 0.9 else "mri",
            lesions,
            new,
            "recorded",  # synthetic counts, no sites
            impression,
            NULL,
            NULL,
            "",
            patient_id,
        )

    def _imaging(
        self,
        patient_id: int,
        start: int,
        end: int,
        stop: int | None,
        post_end: int | None,
        relapse_onset: int | None,
        active: Callable[[int], bool],
    ) -> None:
        r = self.rng
        if r.random() < 0.85:
            self._mri(patient_id, start - r.randint(0, 30), True, active)
        for offset, window in ((182, 30), (365, 40)):
            on = start + offset + r.randint(-window, window)
            if r.random() < 0.8 and on <= end:
                self._mri(patient_id, on, False, active)
        if r.random() < 0.7:
            years = 2
            while (on := start + 365 * years + r.randint(-45, 45)) <= end:
                self._mri(patient_id, on, False, active)
                years += 1
        if stop is None or post_end is None:
            return
        if relapse_onset is not None:
            on = relapse_onset + r.randint(0, 30)
        elif r.random() < 0.3:
            on = stop + r.randint(300, 400)
        else:
            return
        if on <= post_end:
            self._mri(patient_id, on, False, active)

    def _assessment(self, patient_id: int, on: int, active: Callable[[int], bool]) -> None:
        r = self.rng
        if active(on):
            pain, physician, own = r.uniform(3, 8), r.uniform(3, 8), r.uniform(3, 9)
            chaq, lesions = r.uniform(0.3, 1.5), r.randint(1, 5)
            state = "active" if r.random() < 0.3 else ""
        else:
            pain, physician, own = r.uniform(0, 1), r.uniform(0, 1), r.uniform(0, 2)
            chaq, lesions = r.uniform(0, 0.25), 0
            state = "inactive" if r.random() < 0.4 else ""
        self._row(
            "registry_clinicalassessment",
            self._day(on),
            f"{pain:.1f}",
            f"{physician:.1f}",
            f"{own:.1f}",
            f"{chaq:.3f}",
            lesions,
            "recorded",
            state,
            "",
            patient_id,
        )

    def _assessments(
        self,
        patient_id: int,
        start: int,
        end: int,
        stop: int | None,
        post_end: int | None,
        relapse_onset: int | None,
        active: Callable[[int], bool],
    ) -> None:
        r = self.rng
        if r.random() < 0.9:
            self._assessment(patient_id, start, active)
        # the week-10 response assessment (days 56–98) for most courses
        on = start + (r.randint(60, 95) if r.random() < 0.92 else r.randint(100, 140))
        while on <= end:
            self._assessment(patient_id, on, active)
            on += r.randint(60, 91)
        if stop is None or post_end is None:
            return
        for offset in (91, 182, 365, 730):
            on = stop + offset + r.randint(-20, 20)
            if r.random() < 0.8 and on <= post_end:
                self._assessment(patient_id, on, active)
        if relapse_onset is not None and (on := relapse_onset + r.randint(0, 20)) <= post_end:
            self._assessment(patient_id, on, active)


def clinicians(conn: psycopg.Connection) -> list[int]:
    """A clinician per site (unusable password), kept across runs; their ids, site by site."""
    names = [f"bench-clinician-s{n:02d}" for n in range(1, SITES + 1)]
    conn.execute(
        "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
        "is_staff, is_active, date_joined) "
        "SELECT '!', false, name, 'Synthetic', 'Clinician', '', true, true, now() "
        "FROM unnest(%s::text[]) AS name ON CONFLICT (username) DO NOTHING",
        [names],
    )
    rows = conn.execute("SELECT username, id FROM auth_user WHERE username = ANY(%s)", [names])
    ids: dict[str, int] = dict(rows.fetchall())
    return [ids[name] for name in names]


def reset_sequences(conn: psycopg.Connection) -> None:
    """Move each identity sequence past the ids written here."""
    for table in TABLES:
        conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence({name}, 'id'), "
                "COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
            ).format(name=sql.Literal(table), table=sql.Identifier(table))
        )


def copy_batch(conn: psycopg.Connection, batch: dict[str, str]) -> None:
    """COPY one batch, parents first, in one transaction (deferred foreign keys checked at its
    commit)."""
    with conn.transaction(), conn.cursor() as cur:
        for table, text in batch.items():
            columns = ("id", "created_at", "updated_at", *COLUMNS[table])
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with cur.copy(statement) as copy:
                copy.write(text)


def generate(url: str, patients: int, today: dt.date, seed: int = SEED) -> Generated:
    """Write the synthetic registry into the (wiped) database of `url`.

    A batch is copied by a second thread while the next one is built: the server ingests on one
    core while Python builds rows on the other.
    """
    result = Generated()
    started = time.perf_counter()
    building = waiting = 0.0
    with psycopg.connect(url, autocommit=True) as conn, ThreadPoolExecutor(1) as copier:
        registry = Registry(today, clinicians(conn), seed)
        registry.sites()
        pending: Future[None] | None = None
        done = 0
        while done < patients:
            mark = time.perf_counter()
            for _ in range(min(BATCH_PATIENTS, patients - done)):
                registry.patient()
            done += min(BATCH_PATIENTS, patients - done)
            batch = registry.take()
            building += time.perf_counter() - mark
            mark = time.perf_counter()
            if pending is not None:
                pending.result()  # raises what the copy raised
            waiting += time.perf_counter() - mark
            pending = copier.submit(copy_batch, conn, batch)
        mark = time.perf_counter()
        if pending is not None:
            pending.result()
        waiting += time.perf_counter() - mark
        reset_sequences(conn)
        result.seconds["build rows (Python)"] = building
        result.seconds["waiting for COPY"] = waiting
        started = time.perf_counter()
        # Fresh COPY pages have no visibility map or statistics yet: settle them before measuring.
        conn.execute(
            sql.SQL("VACUUM (ANALYZE) {}").format(sql.SQL(", ").join(map(sql.Identifier, TABLES)))
        )
        result.seconds["VACUUM ANALYZE"] = time.perf_counter() - started
    result.rows = dict(registry.rows)
    return result


def main() -> None:
    from benchmarks import database

    parser = argparse.ArgumentParser(description="Generate the synthetic registry (COPY).")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--database-url", help=f"default: $BENCH_DATABASE_URL or {database.DEFAULT_URL}"
    )
    args = parser.parse_args()
    url = database.database_url(args.database_url)
    database.prepare(url)
    from django.utils import timezone

    result = generate(url, args.patients, timezone.localdate(), args.seed)
    for table, count in result.rows.items():
        print(f"{table:32s} {count:>10,d}")
    for phase, seconds in result.seconds.items():
        print(f"{phase:32s} {seconds:>10.1f} s")


if __name__ == "__main__":
    main()
