"""Managed lab units, step 2 of 3: every typed unit becomes a managed one, and none is lost.

- A usual spelling becomes its code: "ug/ml", "mcg/mL" and "μg/mL" are µg/mL, "au/ml" is AU/mL,
  "10^9/l" is ×10⁹/L, "mm/hr" is mm/h (case, spaces, µ/μ/u/mcg, superscripts, ×/x/^/* ignored).
- CRP, ESR and the trough level keep their fixed unit: `clean()` always set it, so their values
  were entered in it. A different unit typed there (only a write around `clean()` could store one)
  is kept word for word in `unit_to_review`: the value may be in that unit.
- Antibodies and other tests get the code their typed unit spells when it is one of the test's
  units. Otherwise the unit becomes empty and the typed text is kept, word for word, in
  `unit_to_review` (never exported), which the admin lists as "unit to review" until a data
  manager has checked the result and marked it reviewed.

History rows are mapped the same way, so a result's history does not show a spurious change.
The lists are copied here, not imported: a migration must go on doing what it did when the
registry's lists grow. One UPDATE per distinct (test, typed unit), however many results.
"""

import re
import unicodedata

from django.db import migrations

FIXED = {"crp": "mg/L", "esr": "mm/h", "ifx_trough": "µg/mL"}
ANTIBODY_UNITS = ("", "AU/mL", "ng/mL", "µg/mL", "U/mL", "titre")
UNITS = (
    "mg/L", "mg/dL", "g/L", "g/dL", "µg/mL", "µg/L", "ng/mL", "mmol/L", "µmol/L", "nmol/L",
    "pmol/L", "U/L", "IU/L", "mU/L", "U/mL", "IU/mL", "AU/mL", "×10⁹/L", "×10¹²/L", "%", "mm/h",
    "mg/mmol", "µg/g", "fL", "pg", "s", "mL/min/1.73m²", "ratio", "titre",
)  # fmt: skip
ALLOWED = {
    **{analyte: (unit,) for analyte, unit in FIXED.items()},
    "anti_ifx": ANTIBODY_UNITS,
    "other": ("", *UNITS),
}


def spelling(text):
    """One spelling of a unit's usual ones."""
    key = unicodedata.normalize("NFKC", text).casefold()  # µ → μ, ⁹ → 9, ² → 2
    key = re.sub(r"[\s^*]", "", key).replace("μ", "u").replace("mcg", "ug")
    key = re.sub(r"^[x×]", "", key).replace("10e", "10").replace("titer", "titre")
    return re.sub(r"/hr$", "/h", key)


CODES = {spelling(code): code for code in UNITS}


def mapped(analyte, typed):
    """(unit, unit_to_review) for a result of `analyte` whose unit was typed as `typed`."""
    code = CODES.get(spelling(typed)) if typed.strip() else ""
    if analyte in FIXED:
        return FIXED[analyte], "" if code in ("", FIXED[analyte]) else typed
    if code is not None and code in ALLOWED.get(analyte, ()):
        return code, ""
    return "", typed


def map_units(apps, schema_editor):
    for name in ("LabResult", "HistoricalLabResult"):
        results = apps.get_model("registry", name).objects
        for analyte, typed in results.values_list("analyte", "unit").distinct().order_by():
            unit, to_review = mapped(analyte, typed)
            if (unit, to_review) != (typed, ""):
                results.filter(analyte=analyte, unit=typed, unit_to_review="").update(
                    unit=unit, unit_to_review=to_review
                )


def put_back_typed_units(apps, schema_editor):
    for name in ("LabResult", "HistoricalLabResult"):
        results = apps.get_model("registry", name).objects
        kept = results.exclude(unit_to_review="").values_list("unit_to_review", flat=True)
        for typed in kept.distinct().order_by():
            results.filter(unit_to_review=typed).update(unit=typed, unit_to_review="")


class Migration(migrations.Migration):

    dependencies = [('registry', '0007_lab_unit_codes')]

    operations = [
        migrations.RunPython(map_units, put_back_typed_units),
    ]
