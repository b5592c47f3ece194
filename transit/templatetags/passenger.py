from django import template
from django.utils.html import format_html

from transit.colours import badge_colours

register = template.Library()


@register.simple_tag
def route_badge(route_id, short_name=None, color=None, text_color=None, href=None):
    """A route's badge in its GTFS colours, text colour fixed where it would miss WCAG AA."""
    bg, fg = badge_colours(color, text_color)
    label = short_name or route_id
    if href:
        return format_html('<a class="route-badge" href="{}" style="background:{};color:{}">{}</a>', href, bg, fg, label)
    return format_html('<span class="route-badge" style="background:{};color:{}">{}</span>', bg, fg, label)


@register.filter
def minutes_label(minutes):
    """"due" under a minute, "N min" otherwise."""
    return "due" if minutes is None or minutes < 1 else f"{minutes} min"
