"""The project's URLs plus one that fails, to see the 500 page (tests of test_error_pages.py)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import handler404
from config.urls import urlpatterns as project_urlpatterns


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [path("broken/", broken), *project_urlpatterns]
__all__ = ["handler404", "urlpatterns"]
