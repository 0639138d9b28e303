from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.generic import RedirectView


def health(request: HttpRequest) -> HttpResponse:
    """Liveness probe for the container health check; touches nothing."""
    return HttpResponse("ok", content_type="text/plain")


admin.site.site_header = "CRMO infliximab registry"
admin.site.site_title = "CRMO registry"
admin.site.index_title = "Clinical record"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", health, name="health"),
    path("admin/", admin.site.urls),
]
