from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from lemniscus import views
from patients.api import PatientViewSet

# Trailing slash optional: `/api/v1/invoices/{id}/issue` and `.../issue/` both work.
router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("patients", PatientViewSet, basename="patient")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include(router.urls)),
    re_path(r"^api/", views.api_not_found),
    path("healthz", views.healthz, name="healthz"),
]

handler500 = "lemniscus.views.server_error"
