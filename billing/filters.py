"""The invoice list's filters (staff API `GET /api/v1/invoices/`)."""

import django_filters
from django.db.models import Q
from django.utils import timezone

from billing.models import InvoiceStatus
from billing.payments import PAYABLE

STATUS_CHOICES = [*InvoiceStatus.choices, ("open", "offen (gestellt oder teilweise bezahlt)")]


class InvoiceFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES,
        method="filter_status",
        label="A status, or `open`: issued and partly paid ones.",
    )
    overdue = django_filters.BooleanFilter(
        method="filter_overdue",
        label="true: open invoices past their due date (in the organisation's zone); "
        "false: all others.",
    )
    patient = django_filters.UUIDFilter(field_name="patient__public_id", label="Patient id.")
    issued_after = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="gte", label="Issued on or after this date."
    )
    issued_before = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="lte", label="Issued on or before this date."
    )

    def filter_status(self, queryset, name, value):
        if value == "open":
            return queryset.filter(status__in=PAYABLE)
        return queryset.filter(status=value)

    def filter_overdue(self, queryset, name, value):
        organisation = getattr(self.request.user, "organisation", None)
        today = organisation.today() if organisation else timezone.localdate()
        overdue = Q(status__in=PAYABLE, due_date__lt=today)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
