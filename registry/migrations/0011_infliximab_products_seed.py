"""The infliximab products of the registry's list: the originator and the EU biosimilars.

EMA product numbers are the European public assessment reports' (ema.europa.eu; checked for each).
No product here has an RxNorm branded-drug code (SBD) that could be verified: the EU brands
Remsima, Flixabi and Zessly are not in RxNorm at all, and the RxNorm concepts openFDA lists for
Inflectra (1790541, 1790546) do not say which is the branded one, so the field stays empty rather
than guessed. Superusers add products (and codes) in the admin. Existing rows are left as they are.
"""

from django.db import migrations

INFLIXIMAB_ATC = "L04AB02"

PRODUCTS = (
    # code, name, manufacturer (marketing-authorisation holder), biosimilar, EMA product number
    ("remicade", "Remicade", "Janssen Biologics B.V.", False, "EMEA/H/C/000240"),
    ("inflectra", "Inflectra", "Pfizer (Hospira)", True, "EMEA/H/C/002778"),
    ("remsima", "Remsima", "Celltrion Healthcare Hungary Kft.", True, "EMEA/H/C/002576"),
    ("flixabi", "Flixabi", "Samsung Bioepis", True, "EMEA/H/C/004020"),
    ("zessly", "Zessly", "Sandoz", True, "EMEA/H/C/004647"),
)


def add_products(apps, schema_editor):
    product = apps.get_model("registry", "InfliximabProduct")
    for code, name, manufacturer, biosimilar, ema in PRODUCTS:
        product.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "manufacturer": manufacturer,
                "is_biosimilar": biosimilar,
                "atc_code": INFLIXIMAB_ATC,
                "ema_product_number": ema,
            },
        )


def remove_unused_products(apps, schema_editor):
    # Going back: the seeded products no infusion or course names (PROTECT keeps the others).
    product = apps.get_model("registry", "InfliximabProduct")
    product.objects.filter(
        code__in=[code for code, *_ in PRODUCTS], infusions__isnull=True, courses__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("registry", "0010_infliximab_products")]

    operations = [migrations.RunPython(add_products, remove_unused_products, elidable=False)]
