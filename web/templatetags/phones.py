"""`{{ number|phone }}`: a stored (E.164) phone number as staff and patients read it."""

from django import template

from lemniscus.phones import display_phone

register = template.Library()


@register.filter
def phone(value) -> str:
    return display_phone(value)
