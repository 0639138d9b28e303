from typing import Any

from django import template

from research.selectors import researcher_site_ids

register = template.Library()


@register.filter
def is_researcher(user: Any) -> bool:
    """Whether the navigation offers research exports (a researcher role at some site)."""
    return bool(researcher_site_ids(user))
