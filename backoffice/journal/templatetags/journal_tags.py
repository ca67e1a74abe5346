from django import template

from backoffice.journal.models import JournalAnchor
from backoffice.journal.selectors import journal_anchor_last as _last

register = template.Library()


@register.simple_tag
def journal_anchor_last() -> JournalAnchor | None:
    """The last confirmed anchor, for the admin home (shown to whoever may view anchors)."""
    return _last()
