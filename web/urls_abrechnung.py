"""Staff pages: abrechnung (Leistungsketten, Rechnungen) and Einstellungen (practice
data, staff users, calendar columns, opening hours, token management, handover export,
Protokoll). Included from web/urls.py."""

from django.urls import path

from web.views import (
    abrechnung,
    einstellungen,
    einstellungen_team,
    mahnwesen,
    protokoll,
    rechnungslauf,
    steuerberater,
    versand,
    zahlungen,
)

urlpatterns = [
    path("leistungsketten/", abrechnung.ChainListView.as_view(), name="chain_list"),
    path("leistungsketten/neu/", abrechnung.ChainEditView.as_view(), name="chain_create"),
    path("leistungsketten/<uuid:id>/", abrechnung.ChainEditView.as_view(), name="chain_edit"),
    path(
        "leistungsketten/<uuid:id>/loeschen/",
        abrechnung.ChainDeleteView.as_view(),
        name="chain_delete",
    ),
    path("rechnungen/", abrechnung.InvoiceListView.as_view(), name="invoice_list"),
    path("rechnungen/neu/", abrechnung.InvoiceCreateView.as_view(), name="invoice_create"),
    path("rechnungen/offene-posten/", abrechnung.OpenItemsView.as_view(), name="open_items"),
    path(
        "rechnungen/mahnvorschlaege/",
        mahnwesen.ProposalsView.as_view(),
        name="dunning_proposals",
    ),
    path(
        "rechnungen/<uuid:id>/mahnung/",
        mahnwesen.NoticeCreateView.as_view(),
        name="dunning_notice_create",
    ),
    path(
        "rechnungen/mahnungen/<uuid:notice_id>/pdf/",
        mahnwesen.NoticePdfView.as_view(),
        name="dunning_notice_pdf",
    ),
    path("rechnungen/laeufe/", rechnungslauf.BillingRunListView.as_view(), name="billing_runs"),
    path(
        "rechnungen/laeufe/<uuid:id>/",
        rechnungslauf.BillingRunDetailView.as_view(),
        name="billing_run_detail",
    ),
    path(
        "rechnungen/laeufe/<uuid:id>/stellen/",
        rechnungslauf.BillingRunIssueView.as_view(),
        name="billing_run_issue",
    ),
    path(
        "rechnungen/laeufe/<uuid:id>/senden/",
        rechnungslauf.BillingRunSendView.as_view(),
        name="billing_run_send",
    ),
    path(
        "rechnungen/laeufe/<uuid:id>/druck.pdf",
        rechnungslauf.BillingRunPrintView.as_view(),
        name="billing_run_print",
    ),
    path(
        "rechnungen/mahnungen/<uuid:notice_id>/senden/",
        versand.NoticeSendView.as_view(),
        name="dunning_notice_send",
    ),
    path(
        "rechnungen/steuerberater-export/",
        steuerberater.AccountingExportPageView.as_view(),
        name="accounting_export",
    ),
    path("rechnungen/<uuid:id>/", abrechnung.InvoiceDetailView.as_view(), name="invoice_detail"),
    path(
        "rechnungen/<uuid:id>/positionen/",
        abrechnung.InvoiceLineAddView.as_view(),
        name="invoice_line_add",
    ),
    path(
        "rechnungen/<uuid:id>/positionen/<uuid:line_id>/",
        abrechnung.InvoiceLineEditView.as_view(),
        name="invoice_line_edit",
    ),
    path(
        "rechnungen/<uuid:id>/positionen/<uuid:line_id>/entfernen/",
        abrechnung.InvoiceLineRemoveView.as_view(),
        name="invoice_line_remove",
    ),
    path(
        "rechnungen/<uuid:id>/stellen/",
        abrechnung.InvoiceIssueView.as_view(),
        name="invoice_issue",
    ),
    path(
        "rechnungen/<uuid:id>/empfaenger/",
        abrechnung.InvoiceRecipientView.as_view(),
        name="invoice_recipient",
    ),
    path(
        "rechnungen/<uuid:id>/bezahlt/",
        abrechnung.InvoiceStatusView.as_view(),
        {"action": "bezahlt"},
        name="invoice_pay",
    ),
    path(
        "rechnungen/<uuid:id>/zahlungen/",
        zahlungen.PaymentCreateView.as_view(),
        name="payment_create",
    ),
    path(
        "rechnungen/<uuid:id>/zahlungen/<uuid:payment_id>/stornieren/",
        zahlungen.PaymentReverseView.as_view(),
        name="payment_reverse",
    ),
    path(
        "rechnungen/<uuid:id>/abschreiben/",
        zahlungen.WriteOffView.as_view(),
        name="invoice_write_off",
    ),
    path(
        "rechnungen/<uuid:id>/senden/",
        versand.InvoiceSendView.as_view(),
        name="invoice_send",
    ),
    path(
        "rechnungen/<uuid:id>/stornieren/",
        abrechnung.InvoiceCancelView.as_view(),
        name="invoice_cancel",
    ),
    path("rechnungen/<uuid:id>/pdf/", abrechnung.InvoicePdfView.as_view(), name="invoice_pdf"),
    path(
        "rechnungen/<uuid:id>/storno-pdf/",
        abrechnung.CancellationPdfView.as_view(),
        name="invoice_cancellation_pdf",
    ),
    path("einstellungen/", einstellungen.SettingsView.as_view(), name="settings"),
    path("einstellungen/praxis/", einstellungen.PracticeView.as_view(), name="practice"),
    path("einstellungen/mahnstufen/", mahnwesen.LevelsView.as_view(), name="dunning_levels"),
    path("einstellungen/tokens/", einstellungen.TokensView.as_view(), name="tokens"),
    path(
        "einstellungen/tokens/doctolib/aktivieren/",
        einstellungen.DoctolibActivateView.as_view(),
        name="doctolib_activate",
    ),
    path(
        "einstellungen/tokens/doctolib/deaktivieren/",
        einstellungen.DoctolibDeactivateView.as_view(),
        name="doctolib_deactivate",
    ),
    path(
        "einstellungen/tokens/<uuid:id>/widerrufen/",
        einstellungen.TokenRevokeView.as_view(),
        name="token_revoke",
    ),
    path("einstellungen/mitarbeiter/", einstellungen_team.TeamView.as_view(), name="team"),
    path(
        "einstellungen/mitarbeiter/einladen/",
        einstellungen_team.UserInviteView.as_view(),
        name="user_invite",
    ),
    path(
        "einstellungen/mitarbeiter/<int:id>/",
        einstellungen_team.UserEditView.as_view(),
        name="user_edit",
    ),
    path(
        "einstellungen/mitarbeiter/<int:id>/deaktivieren/",
        einstellungen_team.UserDeactivateView.as_view(),
        name="user_deactivate",
    ),
    path(
        "einstellungen/mitarbeiter/<int:id>/aktivieren/",
        einstellungen_team.UserReactivateView.as_view(),
        name="user_reactivate",
    ),
    path(
        "einstellungen/mitarbeiter/<int:id>/einladung/",
        einstellungen_team.UserResendInvitationView.as_view(),
        name="user_resend_invitation",
    ),
    path(
        "einstellungen/kalenderspalten/",
        einstellungen_team.ColumnListView.as_view(),
        name="columns",
    ),
    path(
        "einstellungen/kalenderspalten/<uuid:id>/",
        einstellungen_team.ColumnEditView.as_view(),
        name="column_edit",
    ),
    path(
        "einstellungen/kalenderspalten/<uuid:id>/verschieben/",
        einstellungen_team.ColumnMoveView.as_view(),
        name="column_move",
    ),
    path(
        "einstellungen/kalenderspalten/<uuid:id>/loeschen/",
        einstellungen_team.ColumnDeleteView.as_view(),
        name="column_delete",
    ),
    path(
        "einstellungen/oeffnungszeiten/",
        einstellungen_team.OpeningHoursView.as_view(),
        name="opening_hours",
    ),
    path("einstellungen/protokoll/", protokoll.AuditLogView.as_view(), name="audit_log"),
    path(
        "einstellungen/protokoll/protokoll.csv",
        protokoll.AuditLogCsvView.as_view(),
        name="audit_log_csv",
    ),
    path("einstellungen/exporte/", einstellungen.ExportListView.as_view(), name="export_list"),
    path(
        "einstellungen/exporte/starten/",
        einstellungen.ExportStartView.as_view(),
        name="export_start",
    ),
]
urlpatterns += [
    path(
        f"einstellungen/exporte/<uuid:id>/{name}",
        einstellungen.ExportFileView.as_view(),
        {"name": name},
        name=f"export_{name.removesuffix('.csv')}",
    )
    for name in einstellungen.EXPORT_FILES
]
