from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.models import User
        from django.db.models.signals import post_save, pre_save

        from api import tokens

        pre_save.connect(tokens.password_before_save, sender=User, dispatch_uid="api-password")
        post_save.connect(
            tokens.revoke_after_password_change, sender=User, dispatch_uid="api-password"
        )
