from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views import defaults

from api import errors as api_errors
from config import health as readiness_checks


def health(request: HttpRequest) -> HttpResponse:
    """Liveness probe for the container health check; touches nothing."""
    return HttpResponse("ok", content_type="text/plain")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A URL no route matches: JSON under /api/ (a script parses the API's error format there),
    Django's HTML page everywhere else."""
    if request.path_info.startswith("/api/"):
        return api_errors.not_found(request, exception)
    return defaults.page_not_found(request, exception)


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever a page links: send them to the SVG (temporarily, as
    its static name changes with its content in the image's hashed storage)."""
    return redirect(static("clinic/favicon.svg"))


handler404 = not_found

admin.site.site_header = "CRMO infliximab registry"
admin.site.site_title = "CRMO registry"
admin.site.index_title = "Clinical record"
admin.site.index_template = "admin/clinic_index.html"  # with the clinic's lab import

urlpatterns = [
    path("healthz", health, name="health"),
    # Readiness: database, migrations, Redis, workers, the nightly run (details for operators).
    path("health/", readiness_checks.readiness, name="readiness"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("accounts.urls")),  # the two-factor step, password change and reset
    path("api/", include("api.urls")),
    path("settings/api-tokens/", include("api.token_pages")),  # the person's own API tokens
    path("", include("clinic.urls")),
]
