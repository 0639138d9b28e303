from typing import Any

from django.http import HttpRequest


def memberships(request: HttpRequest) -> dict[str, Any]:
    """The signed-in person's sites and roles, shown in every page's header."""
    user = request.user
    if not user.is_authenticated:
        return {}
    return {
        "my_roles": [
            (m.site.code, m.get_role_display())
            for m in user.memberships.select_related("site").order_by("site__code")
        ]
    }
