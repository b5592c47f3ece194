from django import template
from django.utils.html import format_html

from transit.colours import badge_colours
from transit.timetable.punctuality import EARLY, LATE, punctuality_setting

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


@register.filter
def deviation_label(delay_seconds):
    """A deviation as a dispatcher reads it: "11 min late", "2 min early", "on time" (within the punctuality
    window, the one definition in transit.timetable.punctuality)."""
    if delay_seconds is None:
        return "deviation unknown"
    minutes = round(abs(delay_seconds) / 60)
    kind = punctuality_setting().classify(delay_seconds)
    if kind == LATE:
        return f"{minutes} min late"
    if kind == EARLY:
        return f"{minutes} min early"
    late_or_early = "late" if delay_seconds > 0 else "early"
    return "on time" if minutes == 0 else f"on time ({minutes} min {late_or_early})"
