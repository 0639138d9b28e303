"""One error format: {"detail": "...", "errors": {field: [messages]}} for 400s, {"detail"} else."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from api.authentication import anonymous_refusal


class PreconditionRequired(exceptions.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = (
        "Send If-Match with the ETag of the record you read, so a colleague's change is not "
        "silently overwritten."
    )
    default_code = "precondition_required"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The record changed since you read it: read it again, then apply your change."
    default_code = "precondition_failed"


class Gone(exceptions.APIException):
    """The record was there and is no more, for good (an export's file after its download days)."""

    status_code = status.HTTP_410_GONE
    default_detail = "This is no longer available."
    default_code = "gone"


class InvalidFilter(exceptions.ValidationError):
    """A list's query parameter that does not validate: a refusal to select, not to save."""


INVALID_INPUT = "Invalid input: nothing was saved."
INVALID_FILTER = "Invalid filter: nothing was selected."


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is too large."
    default_code = "payload_too_large"


def exception_handler(error: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(error, exceptions.NotAuthenticated):
        # No credentials at all: refused before DRF's throttles run, so counted here (per address).
        error = anonymous_refusal(context["request"], context.get("view")) or error
    if isinstance(error, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        # 401 with a challenge, whichever authentication class comes first (DRF answers 403 when
        # the first one, the session, has no WWW-Authenticate header to offer).
        error.status_code = status.HTTP_401_UNAUTHORIZED
        error.auth_header = "Token"  # type: ignore[union-attr]
    if isinstance(error, DjangoValidationError):
        detail = as_serializer_error(error)
        # A service's refusal of the record as a whole: the API's name for it, as a serializer's.
        if NON_FIELD_ERRORS in detail:
            detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
        error = exceptions.ValidationError(detail)
    response = drf_exception_handler(error, context)
    if response is None:
        return None
    if isinstance(error, exceptions.ValidationError):
        errors = (
            response.data
            if isinstance(response.data, dict)
            else {"non_field_errors": response.data}
        )
        refusal = INVALID_FILTER if isinstance(error, InvalidFilter) else INVALID_INPUT
        response.data = {"detail": refusal, "errors": errors}
    elif response.status_code == status.HTTP_400_BAD_REQUEST:  # a body that does not parse
        response.data = {**response.data, "errors": {}}
    return response


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    """A URL under /api/ that no route matches: the API's 404, not Django's HTML page (a script
    parses the answer, whichever URL it got wrong)."""
    return JsonResponse({"detail": str(exceptions.NotFound.default_detail)}, status=404)
