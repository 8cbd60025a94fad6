"""Staff pages: kalender (the calendar, appointments, the transfer dialog). Included
from web/urls.py; the paths are fixed in docs/decisions.md."""

from django.urls import path

from web.views import kalender, transfer

urlpatterns = [
    path("kalender/", kalender.KalenderView.as_view(), name="kalender"),
    path("kalender/neu/", kalender.AppointmentCreateView.as_view(), name="kalender-neu"),
    path("kalender/tagesliste/", kalender.DayListView.as_view(), name="kalender-tagesliste"),
    path(
        "kalender/akten-suche/",
        kalender.PatientOptionsView.as_view(),
        name="kalender-akten-suche",
    ),
    path("termine/<uuid:appointment_id>/", kalender.AppointmentView.as_view(), name="termin"),
    path(
        "termine/<uuid:appointment_id>/absagen/",
        kalender.AppointmentCancelView.as_view(),
        name="termin-absagen",
    ),
    path(
        "termine/<uuid:appointment_id>/absage-zuruecknehmen/",
        kalender.AppointmentRestoreView.as_view(),
        name="termin-absage-zuruecknehmen",
    ),
    path(
        "termine/<uuid:appointment_id>/verschieben/",
        kalender.AppointmentMoveView.as_view(),
        name="termin-verschieben",
    ),
    path(
        "uebertragungen/<uuid:transfer_id>/",
        transfer.TransferDialogView.as_view(),
        name="uebertragung",
    ),
]
