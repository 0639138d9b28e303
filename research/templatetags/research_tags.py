from typing import Any

from django import template

from research.selectors import exporter_site_ids

register = template.Library()


@register.filter
def is_researcher(user: Any) -> bool:
    """Whether the navigation offers research exports (a researcher role at some site)."""
    return bool(exporter_site_ids(user))
