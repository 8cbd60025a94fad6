from csp.decorators import csp_exempt
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from appointments.api import AppointmentSeriesViewSet, AppointmentViewSet, CalendarColumnViewSet
from audit.api import AuditLogViewSet
from billing.accounting_api import AccountingExportView
from billing.api import (
    DunningNoticeViewSet,
    DunningProposalViewSet,
    InvoiceLineViewSet,
    InvoiceViewSet,
    ServiceChainViewSet,
)
from billing.runs_api import BillingRunViewSet
from doctolib_bridge.api import SyncLogViewSet
from doctolib_bridge.export_api import ExportViewSet
from documentation.api import AttachmentViewSet, DocumentationViewSet, PatientAttachmentViewSet
from lemniscus import views
from organisations.api import PracticeView
from patients.api import PatientViewSet

# Trailing slash optional: `/api/v1/invoices/{id}/issue` and `.../issue/` both work.
router = DefaultRouter(trailing_slash="/?")
router.trailing_slash = "/?"  # DRF turns the argument into "/"; set the pattern itself
router.include_root_view = False
router.include_format_suffixes = False
router.register("patients", PatientViewSet, basename="patient")
router.register(
    r"patients/(?P<patient_id>[^/]+)/documentation",
    DocumentationViewSet,
    basename="documentation",
)
router.register(
    r"patients/(?P<patient_id>[^/]+)/attachments",
    PatientAttachmentViewSet,
    basename="patient-attachment",
)
router.register("attachments", AttachmentViewSet, basename="attachment")
router.register("service-chains", ServiceChainViewSet, basename="service-chain")
router.register("invoices", InvoiceViewSet, basename="invoice")
router.register(
    r"invoices/(?P<invoice_id>[^/]+)/lines", InvoiceLineViewSet, basename="invoice-line"
)
router.register("dunning/proposals", DunningProposalViewSet, basename="dunning-proposal")
router.register("dunning-notices", DunningNoticeViewSet, basename="dunning-notice")
router.register("billing-runs", BillingRunViewSet, basename="billing-run")
router.register("calendar-columns", CalendarColumnViewSet, basename="calendar-column")
router.register("appointments", AppointmentViewSet, basename="appointment")
router.register("appointment-series", AppointmentSeriesViewSet, basename="appointment-series")
router.register("sync-log", SyncLogViewSet, basename="sync-log")
router.register("exports", ExportViewSet, basename="export")
router.register("audit-log", AuditLogViewSet, basename="audit-log")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI brings its own inline script and CDN files: outside the page CSP
    path(
        "api/docs/",
        csp_exempt()(SpectacularSwaggerView.as_view(url_name="schema")),
        name="api-docs",
    ),
    re_path(r"^api/v1/practice/?$", PracticeView.as_view(), name="practice-api"),
    re_path(
        r"^api/v1/accounting-export/?$",
        AccountingExportView.as_view(),
        name="accounting-export-api",
    ),
    path("api/v1/", include(router.urls)),
    path("api/zipper/v1/", include("doctolib_bridge.zipper.urls")),
    re_path(r"^api/", views.api_not_found),
    path("healthz", views.healthz, name="healthz"),
    path("", include("web.urls")),
    path("absage/", include("appointments.urls")),
]

if settings.BENCH_BASELINE:  # the benchmark's baseline (bench/zipper.py), never in production
    urlpatterns.append(path("bench/", include("bench.urls")))

handler500 = "lemniscus.views.server_error"
