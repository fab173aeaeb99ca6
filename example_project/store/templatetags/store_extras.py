"""Template filters of the example shop."""

from urllib.parse import urlsplit

from django import template
from django.conf import settings

register = template.Library()


@register.filter
def on_this_site(url):
    """A link Dengage knows by the shop's public address (``DENGAGE_ORIGIN``)
    made relative, so it works wherever this demo shop runs."""
    if not isinstance(url, str):
        return url
    origin = urlsplit(settings.DENGAGE_ORIGIN)
    parts = urlsplit(url)
    if (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc):
        return parts._replace(scheme="", netloc="").geturl()
    return url
