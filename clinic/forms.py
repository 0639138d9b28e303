"""Data-entry forms. A record's form is a ModelForm on an instance that already knows its patient
or course, so the model's own `clean()` gives its field-specific messages here; the views then save
through `registry.services`. Every form lays itself out the same way (`EntryForm`): groups as
fieldsets, an error summary linked to the fields, the focus on the first error."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError

from registry.models import (
    ANALYTE_LAB_UNITS,
    ANALYTE_UNITS,
    CONSENT_SCOPE_FIELDS,
    GRADE_REFUSAL,
    MEDICATION_CLASS,
    RESOLVED_OUTCOMES,
    SERIOUSNESS_CRITERIA,
    SERIOUSNESS_FIELDS,
    AdverseEvent,
    AdverseEventDecision,
    Analyte,
    ClinicalAssessment,
    Comorbidity,
    Consent,
    ConsentDocument,
    ConsentedBy,
    ConsentScope,
    ConsentSigner,
    DrugClass,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabUnit,
    LesionSite,
    Medication,
    MedicationDrug,
    MedicationStopReason,
    Patient,
    Phenotype,
    RegimenChange,
    ReviewDecision,
    StopReason,
    TreatmentCourse,
    Vaccination,
    VaccinationReviewDecision,
)
from registry.phenotype_codes import (
    BRISTOL_ITEMS,
    FAMILY_CONDITIONS,
    JANSSON_ITEMS,
    VERTEBRAL_LEVEL_CHOICES,
    Bone,
    ComorbidityCondition,
    FamilyHistory,
    Laterality,
)
from registry.safety_codes import (
    HBV_TESTS,
    IMMUNITY_TESTS,
    LIVE_VACCINES,
    NAMED_TERMS,
    RECORDED_TERMS,
    TB_TESTS,
    AdverseEventTerm,
    ScreeningOutcome,
    ScreeningTest,
    Vaccine,
)
from registry.services import LabValue

# A service that records a row of the patient from a valid form's cleaned data (keyword arguments).
PatientRecordService = Callable[..., object]

# A date picker's value is always ISO (yyyy-mm-dd), whatever the locale: the en-GB input format
# (24/11/2026) would leave the picker empty in the browser and lose the pre-filled date.
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

# The standard regimen (DESIGN §1): the model's defaults, which a retreatment starts from.
STANDARD_DOSE_MG_PER_KG: Decimal = TreatmentCourse._meta.get_field("planned_dose_mg_per_kg").default
STANDARD_INTERVAL_WEEKS: int = TreatmentCourse._meta.get_field("maintenance_interval_weeks").default


@dataclass(frozen=True)
class Group:
    """Fields shown together in a fieldset with a legend.

    `shown_if` names a field whose value makes the group apply (any value, or one of
    `shown_values`): the page's script then hides and disables the group otherwise, and without
    the script everything shows; the server validates whatever is sent either way. A `collapsed`
    group is a <details> closed until it holds a value or an error.
    """

    name: str
    legend: str
    fields: tuple[str, ...]
    shown_if: str = ""
    shown_values: tuple[str, ...] = ()
    collapsed: bool = False


@dataclass(frozen=True)
class Block:
    """One place in the form's layout: a group of fields, or a single field (`group` None)."""

    group: Group | None
    fields: list[forms.BoundField]

    @property
    def has_errors(self) -> bool:
        return any(field.errors for field in self.fields)

    @property
    def has_values(self) -> bool:
        return any(field.value() not in (None, "", False) for field in self.fields)


@dataclass(frozen=True)
class SummaryError:
    message: str
    field_id: str = ""  # the field to go to; none for an error of the whole record
    label: str = ""


class EntryForm(forms.BaseForm):
    """What every data-entry form shows the same way: its layout (`groups`), an error summary
    that links each error to its field, and the focus on the first field in error."""

    required_css_class = "required"
    groups: ClassVar[tuple[Group, ...]] = ()

    def add_error(self, field: str | None, error: Any) -> None:
        # A model's clean() judges its whole row again after the form's fields: a field the form
        # already refused ("This field is required.") is not refused a second time.
        if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            errors = {
                name: messages
                for name, messages in error.error_dict.items()
                if name not in self.fields or name not in self.errors
            }
            if not errors:
                return
            error = ValidationError(errors)
        super().add_error(field, error)

    def add_refusal(self, refused: ValidationError) -> None:
        """A service's refusal: each error at its field, the rest above the form."""
        if hasattr(refused, "error_dict"):
            for field, errors in refused.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, refused.messages)

    @property
    def has_field_errors(self) -> bool:
        return any(name in self.fields for name in self.errors)

    def layout(self) -> list[Block]:
        """The fields in order, each group where its first field is; the first field in error
        gets the focus when the page loads (autofocus: no script needed)."""
        grouped = {name: group for group in self.groups for name in group.fields}
        blocks: list[Block] = []
        placed: set[str] = set()
        for field in self:
            group = grouped.get(field.name)
            if group is None:
                blocks.append(Block(None, [field]))
            elif group.name not in placed:
                placed.add(group.name)
                blocks.append(Block(group, [self[name] for name in group.fields]))
        first = next((f for block in blocks for f in block.fields if f.errors), None)
        if first is not None:
            first.field.widget.attrs["autofocus"] = True
        return blocks

    def error_summary(self) -> list[SummaryError]:
        summary = [SummaryError(str(message)) for message in self.non_field_errors()]
        for block in self.layout():
            for field in block.fields:
                legend = f"{block.group.legend}: " if block.group and block.group.legend else ""
                label = f"{legend}{field.label}" if legend.rstrip(": ") != field.label else legend
                summary.extend(
                    SummaryError(str(message), field.auto_id or "", label.rstrip(": "))
                    for message in field.errors
                )
        return summary


class RecordForm(EntryForm, forms.ModelForm):
    """Dates as native date pickers; every field labelled; required fields marked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.DateField):
                field.widget = DATE


class Form(EntryForm, forms.Form):
    """A data-entry form that is not one model's row (a panel, an action with a decision)."""


class ProductChoiceForm(RecordForm):
    """A record with an infliximab product: chosen from the registry's list, by name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].empty_label = "— not known —"  # type: ignore[attr-defined]


class InfusionForm(ProductChoiceForm):
    groups = (
        Group(
            "premedication",
            "Premedication given before this infusion",
            (
                "premedication_antihistamine",
                "premedication_corticosteroid",
                "premedication_antipyretic",
            ),
        ),
        Group("product", "Infliximab product given", ("product", "lot_number")),
    )

    class Meta:
        model = Infusion
        fields = [
            "given_on",
            "weight_kg",
            "weight_measured_on",
            "weight_confirmed",
            "dose_mg",
            "duration_minutes",
            "premedication_antihistamine",
            "premedication_corticosteroid",
            "premedication_antipyretic",
            "product",
            "lot_number",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}
        labels = {
            "product": "Product",
            "lot_number": "Lot number",
            "weight_measured_on": "Weight measured on",
            "weight_confirmed": "I have checked this weight: it is right although it differs from "
            "the previous one",
            "premedication_antihistamine": "Antihistamine",
            "premedication_corticosteroid": "Corticosteroid",
            "premedication_antipyretic": "Antipyretic",
        }

    def premedication(self) -> list[str]:
        return [
            name
            for name in ("antihistamine", "corticosteroid", "antipyretic")
            if self.cleaned_data.get(f"premedication_{name}")
        ]


# --- Lab panel -----------------------------------------------------------------------------------

# The results of one draw; each field is named `<analyte>_<LabResult field>`, so a refusal of the
# panel service (`<analyte>.<field>`) lands on its field.
MARKERS = (Analyte.CRP, Analyte.ESR, Analyte.INFLIXIMAB_TROUGH)
# Methotrexate's safety bloods: a blood count's neutrophils and platelets, and ALT.
SAFETY_BLOODS = (Analyte.NEUTROPHILS, Analyte.PLATELETS, Analyte.ALT)
MEASURED = (*MARKERS, *SAFETY_BLOODS)  # a value in the test's fixed unit, and the lab's range
ANTIBODIES, OTHER = Analyte.ANTI_INFLIXIMAB_ANTIBODIES, Analyte.OTHER
DETECTED, NOT_DETECTED = "detected", "not_detected"


def _number(label: str, **kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=False, max_digits=10, decimal_places=3, **kwargs
    )


def _reference_fields(analyte: str) -> dict[str, forms.Field]:
    return {
        f"{analyte}_reference_low": _number("Lower limit of normal"),
        f"{analyte}_reference_high": _number(
            "Upper limit of normal", help_text="As the lab reports it; leave empty if not given."
        ),
    }


def _unit(label: str, analyte: str) -> forms.ChoiceField:
    """The units the test is recorded in (never free text: it would reach the exports)."""
    units = ANALYTE_LAB_UNITS[analyte]
    choices = [(unit, LabUnit(unit).label if unit else "— none —") for unit in units]
    return forms.ChoiceField(label=label, required=False, choices=choices)


def _measured_group(analyte: str) -> Group:
    fields = (f"{analyte}_value", f"{analyte}_reference_low", f"{analyte}_reference_high")
    return Group(analyte, Analyte(analyte).label, fields)


class LabPanelForm(Form):
    """One draw: its date, then any of CRP, ESR, trough, antibodies, the neutrophil and platelet
    counts, ALT and one other test."""

    collected_on = forms.DateField(widget=DATE, label="Collected on")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_measured(MARKERS)
        self.fields[f"{ANTIBODIES}_antibodies_positive"] = forms.ChoiceField(
            label="Result",
            required=False,
            choices=[
                ("", "— not tested —"),
                (DETECTED, "Detected"),
                (NOT_DETECTED, "Not detected"),
            ],
        )
        self.fields[f"{ANTIBODIES}_value"] = _number("Titre", help_text="If the lab reports one.")
        self.fields[f"{ANTIBODIES}_unit"] = _unit("Titre unit", ANTIBODIES)
        self.fields[f"{ANTIBODIES}_assay_name"] = forms.CharField(
            label="Assay",
            required=False,
            max_length=100,
            help_text="The lab's assay, e.g. ELISA (drug-sensitive).",
        )
        self._add_measured(SAFETY_BLOODS)
        self.fields[f"{OTHER}_analyte_name"] = forms.CharField(
            label="Test",
            required=False,
            max_length=100,
            help_text="The test's name, e.g. ferritin.",
        )
        self.fields[f"{OTHER}_value"] = _number("Value")
        self.fields[f"{OTHER}_unit"] = _unit("Unit", OTHER)
        self.fields.update(_reference_fields(OTHER))

    def _add_measured(self, analytes: tuple[str, ...]) -> None:
        for analyte in analytes:
            self.fields[f"{analyte}_value"] = _number(Analyte(analyte).label)
            self.fields.update(_reference_fields(analyte))

    groups = (
        *(_measured_group(analyte) for analyte in MARKERS),
        Group(
            ANTIBODIES,
            Analyte.ANTI_INFLIXIMAB_ANTIBODIES.label,
            (f"{ANTIBODIES}_antibodies_positive",),
        ),
        Group(
            f"{ANTIBODIES}_details",
            "Antibody titre and assay",
            (f"{ANTIBODIES}_value", f"{ANTIBODIES}_unit", f"{ANTIBODIES}_assay_name"),
            shown_if=f"{ANTIBODIES}_antibodies_positive",
        ),
        *(_measured_group(analyte) for analyte in SAFETY_BLOODS),
        Group(
            OTHER,
            "Another test",
            (
                f"{OTHER}_analyte_name",
                f"{OTHER}_value",
                f"{OTHER}_unit",
                f"{OTHER}_reference_low",
                f"{OTHER}_reference_high",
            ),
            collapsed=True,
        ),
    )

    def _entered(self, analyte: str) -> dict[str, Any]:
        prefix = f"{analyte}_"
        return {
            name.removeprefix(prefix): value
            for name, value in self.cleaned_data.items()
            if name.startswith(prefix) and value not in (None, "")
        }

    def results(self) -> dict[str, LabValue]:
        """The results entered, by analyte: a test with any of its fields filled in is one."""
        results: dict[str, LabValue] = {}
        for analyte in (*MEASURED, ANTIBODIES, OTHER):
            entered = self._entered(analyte)
            if not entered:
                continue
            if analyte == ANTIBODIES:
                answer = entered.pop("antibodies_positive", "")
                entered["antibodies_positive"] = {DETECTED: True, NOT_DETECTED: False}.get(answer)
            elif analyte in ANALYTE_UNITS:
                entered["unit"] = ANALYTE_UNITS[analyte]
            results[analyte] = LabValue(analyte=analyte, **entered)
        return results

    def add_refusal(self, refused: ValidationError) -> None:
        """Each of the panel service's errors at its field; a result's own (a duplicate) at its
        first field."""
        for key, messages in refused.message_dict.items():
            name = key.replace(".", "_", 1)
            if name not in self.fields:
                group = next((g for g in self.groups if g.name == key), None)
                name = group.fields[0] if group else ""
            self.add_error(name or None, messages)


SITE_ROWS = 8  # rows of the plain form (the body map fills them; more sites: the admin or API)
_STATES = [("", "— seen, no MRI state —"), ("active", "Active"), ("new", "New (active)"),
           ("resolved", "Resolved")]  # fmt: skip
# A site's model field → the row's form field its refusal is shown at.
_SITE_ERROR_AT = {"bone": "bone", "vertebral_level": "level", "laterality": "laterality",
                  "active": "state", "new": "state", "resolved": "state",
                  "vertebral_fracture": "fracture"}  # fmt: skip


class LesionSitesForm(RecordForm):
    """Lesion sites as rows of plain selects (the form works without a script); the body map
    (static/clinic/bodymap.js) fills and clears them. The record's counts are derived from the
    sites by the service; counts typed without sites are "recorded without sites"."""

    imaging = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for row in range(SITE_ROWS):
            self.fields[f"site_{row}_bone"] = forms.ChoiceField(
                label="Bone", required=False, choices=[("", "—"), *Bone.choices]
            )
            self.fields[f"site_{row}_level"] = forms.ChoiceField(
                label="Vertebral level", required=False,
                choices=[("", "—"), *VERTEBRAL_LEVEL_CHOICES],
            )  # fmt: skip
            self.fields[f"site_{row}_laterality"] = forms.ChoiceField(
                label="Side", required=False, choices=[("", "—"), *Laterality.choices]
            )
            if self.imaging:
                self.fields[f"site_{row}_state"] = forms.ChoiceField(
                    label="MRI state", required=False, choices=_STATES
                )
                self.fields[f"site_{row}_fracture"] = forms.BooleanField(
                    label="Vertebral fracture", required=False
                )
        self.groups = (  # type: ignore[misc]  # the rows depend on the form's kind
            *type(self).groups,
            *(
                Group(
                    f"site-{row}",
                    f"Lesion site {row + 1}",
                    tuple(name for name in self.fields if name.startswith(f"site_{row}_")),
                    collapsed=row > 0,
                )
                for row in range(SITE_ROWS)
            ),
        )

    def _site(self, row: int) -> LesionSite | None:
        data = self.cleaned_data
        bone = data.get(f"site_{row}_bone")
        if not bone:
            return None
        state = data.get(f"site_{row}_state", "")
        return LesionSite(
            bone=bone,
            vertebral_level=data.get(f"site_{row}_level", ""),
            laterality=data.get(f"site_{row}_laterality", ""),
            active=state in ("active", "new"),
            new=state == "new",
            resolved=state == "resolved",
            vertebral_fracture=bool(data.get(f"site_{row}_fracture")),
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        parent = copy.copy(self.instance)
        for name, value in data.items():
            if hasattr(parent, name) and not name.startswith("site_"):
                setattr(parent, name, value)
        rows: dict[tuple[str, str, str], int] = {}
        for row in range(SITE_ROWS):
            site = self._site(row)
            if site is None:
                continue
            key = (site.bone, site.vertebral_level, site.laterality)
            if key in rows and site.bone not in (Bone.METATARSAL, Bone.OTHER):
                self.add_error(f"site_{row}_bone", f"This site is already in row {rows[key] + 1}.")
            rows.setdefault(key, row)
            if isinstance(parent, ImagingStudy):
                site.imaging_study = parent
            else:
                site.assessment = parent
            try:
                site.clean()
            except ValidationError as refused:
                for field, messages in refused.message_dict.items():
                    self.add_error(f"site_{row}_{_SITE_ERROR_AT.get(field, 'bone')}", messages)
        return data

    def lesion_sites(self) -> list[LesionSite]:
        sites = (self._site(row) for row in range(SITE_ROWS))
        return [site for site in sites if site is not None]

    def service_arguments(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith("site_")}
        return data | {"lesion_sites": self.lesion_sites()}


class ImagingStudyForm(LesionSitesForm):
    class Meta:
        model = ImagingStudy
        fields = [
            "performed_on",
            "modality",
            "active_lesions",
            "new_lesions",
            "impression",
            "rinbo_total",
            "rai_cromris_total",
            "report_text",
        ]
        widgets = {"report_text": forms.Textarea(attrs={"rows": 3})}


class AssessmentForm(LesionSitesForm):
    imaging = False

    class Meta:
        model = ClinicalAssessment
        fields = [
            "assessed_on",
            "pain_score",
            "physician_global",
            "patient_global",
            "chaq",
            "clinically_active_lesions",
            "disease_state",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class ReactionForm(RecordForm):
    class Meta:
        model = InfusionReaction
        fields = ["infusion", "onset", "severity", "symptoms", "management", "infusion_stopped",
                  "outcome"]  # fmt: skip
        widgets = {
            "symptoms": forms.Textarea(attrs={"rows": 2}),
            "management": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, course: TreatmentCourse, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only this course's infusions, newest first ("200 mg on 10 Nov 2026").
        self.fields["infusion"].queryset = course.infusions.order_by("-given_on")  # type: ignore[attr-defined]


class RegimenChangeForm(RecordForm):
    class Meta:
        model = RegimenChange
        fields = ["effective_on", "reason", "dose_mg_per_kg", "interval_weeks", "note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 2})}


class CourseStartForm(ProductChoiceForm):
    class Meta:
        model = TreatmentCourse
        fields = [
            "started_on",
            "product",
            "planned_dose_mg_per_kg",
            "maintenance_interval_weeks",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}
        labels = {"product": "Infliximab product planned"}


def _drug_choices() -> list[tuple[str, Any]]:
    """The drugs grouped by class (NSAIDs, DMARDs, …), as a clinician looks for them."""
    grouped: dict[str, list[tuple[str, str]]] = {}
    for value, label in MedicationDrug.choices:
        grouped.setdefault(MEDICATION_CLASS[value], []).append((value, label))
    return [("", "— choose —")] + [
        (str(DrugClass(drug_class).label), drugs) for drug_class, drugs in grouped.items()
    ]


class MedicationForm(RecordForm):
    groups = (
        Group(
            "other_drug",
            "The other drug",
            ("drug_name",),
            shown_if="drug",
            shown_values=(MedicationDrug.OTHER,),
        ),
        Group("dosing", "Dose", ("dose", "dose_unit", "route", "frequency")),
        Group(
            "stopped", "Stopped (for a drug no longer taken)", ("stopped_on", "stop_reason"),
            collapsed=True,
        ),
    )  # fmt: skip

    class Meta:
        model = Medication
        fields = [
            "drug",
            "drug_name",
            "started_on",
            "dose",
            "dose_unit",
            "route",
            "frequency",
            "stopped_on",
            "stop_reason",
        ]
        labels = {"drug_name": "Name of the drug", "dose_unit": "Unit"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["drug"].choices = _drug_choices()  # type: ignore[attr-defined]


def _choose(choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """No answer pre-selected: the person must choose (a default would be a silent decision)."""
    return [("", "— choose —"), *choices]


class StopCourseForm(Form):
    stopped_on = forms.DateField(widget=DATE, label="Stopped on")
    reason = forms.ChoiceField(choices=_choose(StopReason.choices), label="Reason")
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Note (optional)",
        help_text="Kept in the course's notes, e.g. what was agreed with the family.",
    )


class MedicationStopForm(Form):
    stopped_on = forms.DateField(widget=DATE, label="Stopped on")
    reason = forms.ChoiceField(
        choices=_choose(MedicationStopReason.choices), label="Reason for stopping"
    )


class RelapseForm(Form):
    noted_on = forms.DateField(widget=DATE, label="Relapse noted on")
    evidence = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What showed the relapse: MRI, examination, markers.",
    )
    retreatment_starts_on = forms.DateField(
        widget=DATE,
        required=False,
        label="Start retreatment on",
        help_text="Leave empty to record the relapse only.",
    )
    planned_dose_mg_per_kg = forms.DecimalField(
        label="Planned dose (mg/kg)",
        max_digits=4,
        decimal_places=2,
        required=False,
        help_text=f"Empty: the standard {STANDARD_DOSE_MG_PER_KG} mg/kg.",
    )
    maintenance_interval_weeks = forms.IntegerField(
        label="Maintenance interval (weeks)",
        min_value=1,
        required=False,
        help_text=f"Empty: every {STANDARD_INTERVAL_WEEKS} weeks.",
    )
    groups = (
        Group(
            "retreatment_regimen",
            "Retreatment regimen",
            ("planned_dose_mg_per_kg", "maintenance_interval_weeks"),
            shown_if="retreatment_starts_on",
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("planned_dose_mg_per_kg") is None:
            data["planned_dose_mg_per_kg"] = STANDARD_DOSE_MG_PER_KG
        if data.get("maintenance_interval_weeks") is None:
            data["maintenance_interval_weeks"] = STANDARD_INTERVAL_WEEKS
        return data


class ReviewForm(Form):
    reviewed_on = forms.DateField(widget=DATE, label="Reviewed on")
    decision = forms.ChoiceField(
        choices=ReviewDecision.choices,
        widget=forms.RadioSelect,
        label="Decision on further infusions",
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Why: what the reaction was, what was agreed.",
    )


class DismissForm(forms.Form):
    reason = forms.CharField(
        max_length=500, label="Why does this alert not apply?", widget=forms.TextInput()
    )


# --- Safety: adverse events, screening results, vaccinations ------------------------------------

# The criteria's labels as a question's answers ("It …"), under the legend of their group.
_SERIOUSNESS_LABELS = {
    f"seriousness_{name}": f"It {words}" for name, words in SERIOUSNESS_CRITERIA.items()
}


class AdverseEventForm(RecordForm):
    groups = (
        Group(
            "named",
            "The event's name",
            ("specified_term",),
            shown_if="term",
            shown_values=NAMED_TERMS,
        ),
        Group(
            "seriousness",
            "Seriousness criteria it meets (ICH E2A)",
            SERIOUSNESS_FIELDS,
            shown_if="serious",
        ),
        Group(
            "resolution",
            "Resolution",
            ("resolved_on",),
            shown_if="outcome",
            shown_values=RESOLVED_OUTCOMES,
        ),
    )

    class Meta:
        model = AdverseEvent
        fields = [
            "onset_on",
            "term",
            "specified_term",
            "grade",
            "serious",
            *SERIOUSNESS_FIELDS,
            "relation_to_infliximab",
            "action_taken",
            "outcome",
            "resolved_on",
            "course",
        ]
        labels = {
            "onset_on": "Onset on",
            "serious": "Serious (ICH E2A): it meets at least one of the criteria",
            "specified_term": "Name of the event",
            "resolved_on": "Resolved on (for a fatal event, the date of death)",
            **_SERIOUSNESS_LABELS,
        }
        help_texts = {
            "term": "Aligned with CTCAE v5.0. An infusion reaction is recorded with “Reaction”, "
            "on its infusion.",
            "grade": "CTCAE v5.0: how severe it is, which is not how serious.",
        }

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        term = self.fields["term"]
        term.choices = [  # type: ignore[attr-defined]
            ("", "— choose —"),
            *(
                (value, label)
                for value, label in AdverseEventTerm.choices
                if value in RECORDED_TERMS
            ),
        ]
        self.fields["grade"].error_messages["invalid_choice"] = GRADE_REFUSAL.format(
            grade="%(value)s"
        )
        course = self.fields["course"]
        course.queryset = patient.courses.order_by("-started_on")  # type: ignore[attr-defined]
        course.empty_label = "— none —"  # type: ignore[attr-defined]
        course.help_text = "The course it happened on, if any."

    def seriousness(self) -> list[str]:
        return [
            name for name in SERIOUSNESS_CRITERIA if self.cleaned_data.get(f"seriousness_{name}")
        ]

    def service_arguments(self) -> dict[str, Any]:
        """The cleaned data as `adverse_event_record` takes it: the criteria by name."""
        data = {k: v for k, v in self.cleaned_data.items() if k not in SERIOUSNESS_FIELDS}
        return {**data, "seriousness": self.seriousness()}


class AdverseEventReviewForm(Form):
    reviewed_on = forms.DateField(widget=DATE, label="Reviewed on")
    decision = forms.ChoiceField(
        choices=AdverseEventDecision.choices,
        widget=forms.RadioSelect,
        label="Decision on infliximab",
    )


class VaccinationReviewForm(Form):
    reviewed_on = forms.DateField(widget=DATE, label="Reviewed on")
    decision = forms.ChoiceField(
        choices=VaccinationReviewDecision.choices,
        widget=forms.RadioSelect,
        label="Decision on the infusions",
    )
    note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Note",
        help_text="Why: e.g. the vaccine's indication, the patient's state, when to infuse.",
    )


NOT_TESTED = ""


class ScreeningPanelForm(Form):
    """The screening results of one date: any of the tests, each positive, negative or
    indeterminate; a field per test, named by its code (the panel service's refusal keys)."""

    tested_on = forms.DateField(widget=DATE, label="Tested on")
    groups = (
        Group("tb", "Tuberculosis", TB_TESTS),
        Group("hbv", "Hepatitis B", HBV_TESTS),
        Group(
            "other",
            "Hepatitis C, HIV, varicella immunity",
            tuple(t for t in ScreeningTest.values if t not in (*TB_TESTS, *HBV_TESTS)),
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for test, label in ScreeningTest.choices:
            name = str(label).removeprefix("TB: ")
            self.fields[test] = forms.ChoiceField(
                label=name[0].upper() + name[1:],
                required=False,
                choices=[(NOT_TESTED, "— not tested —"), *ScreeningOutcome.choices],
                help_text="Positive means immune." if test in IMMUNITY_TESTS else "",
            )

    def results(self) -> dict[str, str]:
        return {
            test: self.cleaned_data[test]
            for test in ScreeningTest.values
            if self.cleaned_data.get(test, NOT_TESTED) != NOT_TESTED
        }


class ScreeningReviewForm(Form):
    reviewed_on = forms.DateField(
        widget=DATE,
        label="Specialist review recorded on",
        help_text="The date the specialist's advice (e.g. latent TB treatment, hepatitis B "
        "prophylaxis) was received and acted on.",
    )


class VaccinationForm(RecordForm):
    class Meta:
        model = Vaccination
        fields = ["vaccine", "given_on"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["vaccine"].choices = [  # type: ignore[attr-defined]
            ("", "— choose —"),
            *(
                (value, f"{label} — live" if value in LIVE_VACCINES else label)
                for value, label in Vaccine.choices
            ),
        ]
        self.fields[
            "vaccine"
        ].help_text = "Live vaccines are contraindicated on infliximab: they are marked “live”."


# --- Consent -------------------------------------------------------------------------------------

_SCOPE_GIVEN_FIELDS = tuple(given for given, _w, _c in CONSENT_SCOPE_FIELDS.values())


class ConsentForm(RecordForm):
    """Consent given: the document signed, by whom, the child's assent, the scopes it gives."""

    groups = (Group("scopes", "Scopes the consent gives", _SCOPE_GIVEN_FIELDS),)

    class Meta:
        model = Consent
        fields = ["document", "consented_by", "assent", *_SCOPE_GIVEN_FIELDS, "given_on"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "Not recorded" is for consent taken before consent versions, never for a new one.
        documents = ConsentDocument.objects.exclude(signed_by=ConsentSigner.NOT_RECORDED)
        self.fields["document"].queryset = documents  # type: ignore[attr-defined]
        self.fields["consented_by"].choices = [  # type: ignore[attr-defined]
            ("", "— choose —"),
            *((v, label) for v, label in ConsentedBy.choices if v != ConsentedBy.NOT_RECORDED),
        ]
        self.fields["assent"].help_text = (
            "With a parent's consent for a child: did the child assent? Not applicable for the "
            "patient's own consent, an adult, or a child too young to be asked."
        )

    def service_arguments(self) -> dict[str, Any]:
        """The cleaned data as `consent_record` takes it: the scopes by name."""
        data = {k: v for k, v in self.cleaned_data.items() if k not in _SCOPE_GIVEN_FIELDS}
        scopes = [
            s for s, (given, _w, _c) in CONSENT_SCOPE_FIELDS.items() if self.cleaned_data.get(given)
        ]
        return {**data, "scopes": scopes}

    def add_refusal(self, refused: ValidationError) -> None:
        """A refusal about the scopes ("scopes", or a scope's field) goes with the scopes."""
        if hasattr(refused, "error_dict"):
            for field, errors in refused.message_dict.items():
                name = _SCOPE_GIVEN_FIELDS[0] if field == "scopes" else field
                self.add_error(name if name in self.fields else None, errors)
        else:
            self.add_error(None, refused.messages)


class ConsentWithdrawalForm(Form):
    """The withdrawal of some of a consent's scopes on one date."""

    withdrawn_on = forms.DateField(widget=DATE, label="Withdrawn on")
    scopes = forms.MultipleChoiceField(
        choices=ConsentScope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,  # the service says which to tick, in its words
        label="Scopes withdrawn",
        error_messages={
            "invalid_choice": "%(value)s was never given on this consent, or is already withdrawn."
        },
    )

    def __init__(self, *args: Any, consent: Consent, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only what can be withdrawn: given, and not withdrawn yet.
        self.fields["scopes"].choices = [  # type: ignore[attr-defined]
            (scope, label)
            for scope, label in ConsentScope.choices
            if scope in consent.scopes_given() and consent.withdrawn_on(scope) is None
        ]


# --- The phenotype and comorbidities --------------------------------------------------------------

# An instrument's item: present, absent, or not recorded (None: "met" or the score stays open).
_ITEM_CHOICES = [("unknown", "— not recorded —"), ("true", "Present"), ("false", "Absent")]


class PhenotypeForm(RecordForm):
    """The patient's phenotype, recorded or corrected as a whole (one per patient): the first
    symptoms, the Bristol criteria's and the Jansson score's items (met and the score are derived
    from them, shown above the form), and the family history with the relatives' conditions."""

    groups = (
        Group("bristol", "Bristol criteria (Roderick et al. 2016)",
              tuple(item.name for item in BRISTOL_ITEMS)),
        Group("jansson", "Jansson clinical score (Jansson et al. 2009)",
              tuple(item.name for item in JANSSON_ITEMS)),
        Group("family-conditions", "Conditions in the family",
              tuple(f"family_{name}" for name in FAMILY_CONDITIONS),
              shown_if="family_history", shown_values=("yes",)),
    )  # fmt: skip

    class Meta:
        model = Phenotype
        fields = [
            "first_symptoms_on",
            *(item.name for item in BRISTOL_ITEMS),
            *(item.name for item in JANSSON_ITEMS),
            "family_history",
            *(f"family_{name}" for name in FAMILY_CONDITIONS),
        ]
        labels = {
            "first_symptoms_on": "First symptoms on",
            "family_history": "Family history of autoimmune or inflammatory disease",
            **{item.name: item.words for item in BRISTOL_ITEMS},
            **{item.name: f"{item.words} ({item.points} points)" for item in JANSSON_ITEMS},
            **{f"family_{name}": words for name, words in FAMILY_CONDITIONS.items()},
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in (*BRISTOL_ITEMS, *JANSSON_ITEMS):
            self.fields[item.name].widget = forms.NullBooleanSelect()
            self.fields[item.name].widget.choices = _ITEM_CHOICES
        self.fields["family_history"].choices = [  # type: ignore[attr-defined]
            ("", "— not recorded —"),
            *FamilyHistory.choices,
        ]


class ComorbidityForm(RecordForm):
    class Meta:
        model = Comorbidity
        fields = ["condition", "onset_on"]
        labels = {"onset_on": "Onset on"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["condition"].choices = [  # type: ignore[attr-defined]
            ("", "— choose —"),
            *ComorbidityCondition.choices,
        ]
        self.fields[
            "condition"
        ].help_text = (
            "From the registry's list; “other” is not named (nothing free-text reaches an export)."
        )
