from django.views.generic import TemplateView

from web.mixins import StaffPageMixin


class StartView(StaffPageMixin, TemplateView):
    """Start page: today's appointments, open transfers, problems from the sync log."""

    template_name = "web/start.html"
