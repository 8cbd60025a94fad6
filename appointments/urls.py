"""Public pages (no login) of the patient's one-click cancellation link."""

from django.urls import path

from appointments import views

urlpatterns = [
    path("<str:token>/", views.cancel, name="appointment-cancel"),
]
