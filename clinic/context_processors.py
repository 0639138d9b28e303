from typing import Any

from django.http import HttpRequest

from registry import roles


def memberships(request: HttpRequest) -> dict[str, Any]:
    """The signed-in person's sites and roles, shown in every page's header, and the sites where
    they may make a clinician's decisions (pages offer those actions there only)."""
    user = request.user
    if not user.is_authenticated:
        return {}
    return {
        "my_roles": [
            (m.site.code, m.get_role_display())
            for m in user.memberships.select_related("site").order_by("site__code")
        ],
        "clinician_site_ids": roles.sites_where(user, roles.DISMISS_URGENT_ALERT),
    }
