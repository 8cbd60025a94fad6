from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from web import sitzung
from web.views import auth, start

urlpatterns = [
    path("", start.StartView.as_view(), name="start"),
    path("", include("web.urls_akten")),
    path("", include("web.urls_kalender")),
    path("", include("web.urls_abrechnung")),
    path("anmelden/", auth.LoginView.as_view(), name="login"),
    path("sitzung/status/", sitzung.status, name="sitzung_status"),
    path("abmelden/", auth_views.LogoutView.as_view(), name="logout"),
    path("passwort/vergessen/", auth.PasswordResetView.as_view(), name="password_reset"),
    path(
        "passwort/gesendet/",
        auth_views.PasswordResetDoneView.as_view(template_name="web/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "passwort/neu/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="web/password_reset_confirm.html",
            success_url=reverse_lazy("password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "passwort/festlegen/<uidb64>/<token>/",
        auth.InvitationAcceptView.as_view(),
        name="invitation_accept",
    ),
    path(
        "passwort/fertig/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="web/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
]
