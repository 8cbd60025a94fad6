"""Staff pages: akten. Included from web/urls.py."""

from django.urls import path

from web.views import akten, akten_sync, dokumentation

urlpatterns = [
    path("akten/", akten.AktenListView.as_view(), name="akten"),
    path("akten/neu/", akten.AkteCreateView.as_view(), name="akte_neu"),
    path("akten/verknuepfen/", akten.LinkView.as_view(), name="akte_verknuepfen"),
    path("akten/<uuid:patient_id>/", akten.AkteView.as_view(), name="akte"),
    path(
        "akten/<uuid:patient_id>/an-doctolib/",
        akten.AkteSendView.as_view(),
        name="akte_an_doctolib",
    ),
    path(
        "akten/<uuid:patient_id>/rechnungsempfaenger/",
        akten.AkteRecipientView.as_view(),
        name="akte_rechnungsempfaenger",
    ),
    path(
        "akten/<uuid:patient_id>/archivieren/",
        akten.AkteArchiveView.as_view(),
        name="akte_archivieren",
    ),
    path(
        "akten/<uuid:patient_id>/archivierung-aufheben/",
        akten.AkteArchiveView.as_view(),
        {"undo": True},
        name="akte_archivierung_aufheben",
    ),
    path(
        "akten/<uuid:patient_id>/dokumentation/neu/",
        dokumentation.EntryCreateView.as_view(),
        name="doku_neu",
    ),
    path(
        "akten/<uuid:patient_id>/dokumentation/<uuid:entry_id>/",
        dokumentation.EntryEditView.as_view(),
        name="doku_bearbeiten",
    ),
    path(
        "akten/<uuid:patient_id>/dokumentation/<uuid:entry_id>/abschliessen/",
        dokumentation.EntryFinaliseView.as_view(),
        name="doku_abschliessen",
    ),
    path(
        "akten/<uuid:patient_id>/dokumentation/<uuid:entry_id>/korrektur/",
        dokumentation.EntryCorrectView.as_view(),
        name="doku_korrektur",
    ),
    path(
        "akten/<uuid:patient_id>/anhaenge/",
        dokumentation.AttachmentUploadView.as_view(),
        name="anhang_hochladen",
    ),
    path(
        "anhaenge/<uuid:attachment_id>/datei/",
        dokumentation.AttachmentFileView.as_view(),
        name="anhang_datei",
    ),
    path(
        "akten/<uuid:patient_id>/auskunft/",
        akten.AkteDisclosureView.as_view(),
        name="akte_auskunft",
    ),
    path("akten/<uuid:patient_id>/loeschen/", akten.AkteDeleteView.as_view(), name="akte_loeschen"),
    path("sync-protokoll/", akten_sync.SyncLogView.as_view(), name="sync_protokoll"),
]
