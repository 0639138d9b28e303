from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    default = True
    name = "accounts"
    verbose_name = "Sign-in"

    def ready(self) -> None:
        from accounts import checks, receivers  # noqa: F401 - registers the checks and receivers


class SecondFactorAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, whose default site (`admin.site`, where every app registers) asks for
    the second factor: the admin customisations and registrations stay as they are."""

    default = False
    default_site = "accounts.admin_site.SecondFactorAdminSite"
