"""Einstellungen for the team and the calendar (organisation admins only): staff users
("Mitarbeiter": invite, role and rights, deactivate), calendar columns
("Kalenderspalten": add, rename, kind, order, colour, delete) and opening hours
("Öffnungszeiten" and Schließtage). The views call organisations.services and
appointments.services; the rules (last admin, unique e-mail, a column in use) are
theirs. Invalid input is a 422 with the form's German messages, nothing saved."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View

from appointments.selectors import access_calendar_column, calendar_columns_in_order
from appointments.services import (
    calendar_column_create,
    calendar_column_delete,
    calendar_column_move,
    calendar_column_update,
)
from lemniscus.errors import DomainError, NotFound
from organisations.invitations import validity_text
from organisations.selectors import access_user, user_list
from organisations.services import (
    USER_FIELDS,
    is_invited,
    organisation_update_practice,
    rights_text,
    user_invite,
    user_resend_invitation,
    user_set_active,
    user_update,
)
from web.forms_einstellungen_team import (
    DEFAULT_COLOUR,
    ColumnForm,
    OpeningHoursForm,
    UserForm,
    UserInviteForm,
)
from web.mixins import add_domain_errors
from web.views.einstellungen import AdminPageMixin


class SettingsPage(AdminPageMixin, View):
    """A page with one form: `_render` adds the organisation."""

    template_name = ""

    def _render(self, status=200, **context):
        context = {"organisation": self.organisation, **context}
        return render(self.request, self.template_name, context, status=status)

    @staticmethod
    def _write(form, write):
        """`write()` (a service call) when the form is valid, and its result; None when
        the form is invalid or the service refused (its messages are on the form)."""
        if not form.is_valid():
            return None
        try:
            return write()
        except DomainError as exc:
            add_domain_errors(form, exc)
            return None


# Staff users


class MemberMixin:
    def _member(self, id):
        try:
            return access_user(organisation=self.organisation, user_id=id)
        except NotFound:
            raise Http404 from None


class TeamView(SettingsPage):
    """The organisation's members: name, e-mail, role, rights, state."""

    template_name = "web/einstellungen/mitarbeiter.html"

    def get(self, request):
        members = [
            {"user": user, "invited": is_invited(user), "rights": rights_text(user)}
            for user in user_list(organisation=self.organisation)
        ]
        return self._render(members=members)


class UserInviteView(SettingsPage):
    """Invite a member: they get an e-mail with a link to set their password."""

    template_name = "web/einstellungen/mitarbeiter_einladen.html"

    def get(self, request):
        return self._render(form=UserInviteForm(), validity=validity_text())

    def post(self, request):
        form = UserInviteForm(request.POST)
        user = self._write(
            form,
            lambda: user_invite(
                organisation=self.organisation, actor=request.user, **form.cleaned_data
            ),
        )
        if user is not None:
            messages.success(
                request,
                f"{user.display_name} ist eingeladen; die E-Mail an {user.email} ist unterwegs.",
            )
            return redirect("team")
        return self._render(form=form, validity=validity_text(), status=422)


class UserEditView(MemberMixin, SettingsPage):
    """Names, role and rights of a member, and their access (deactivate, reactivate,
    invite again)."""

    template_name = "web/einstellungen/mitarbeiter_bearbeiten.html"

    def get(self, request, id):
        member = self._member(id)
        form = UserForm(initial={name: getattr(member, name) for name in USER_FIELDS})
        return self._render(form=form, member=member, invited=is_invited(member))

    def post(self, request, id):
        member = self._member(id)
        form = UserForm(request.POST)
        if self._write(
            form, lambda: user_update(user=member, actor=request.user, **form.cleaned_data)
        ):
            messages.success(request, f"Die Angaben zu {member.email} sind gespeichert.")
            return redirect("team")
        member.refresh_from_db()
        return self._render(form=form, member=member, invited=is_invited(member), status=422)


class UserDeactivateView(MemberMixin, SettingsPage):
    """Ask first, then deactivate: no more login, open sessions end."""

    template_name = "web/einstellungen/mitarbeiter_deaktivieren.html"

    def get(self, request, id):
        return self._render(member=self._member(id))

    def post(self, request, id):
        member = self._member(id)
        try:
            user_set_active(user=member, actor=request.user, active=False)
        except DomainError as exc:
            return self._render(member=member, error=exc.detail, status=exc.status)
        messages.success(request, f"Der Zugang von {member.email} ist deaktiviert.")
        return redirect("team")


class UserReactivateView(MemberMixin, SettingsPage):
    def post(self, request, id):
        member = user_set_active(user=self._member(id), actor=request.user, active=True)
        messages.success(request, f"Der Zugang von {member.email} ist wieder aktiv.")
        return redirect("user_edit", id=member.pk)


class UserResendInvitationView(MemberMixin, SettingsPage):
    def post(self, request, id):
        member = self._member(id)
        try:
            user_resend_invitation(user=member, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"Die Einladung an {member.email} ist erneut unterwegs.")
        return redirect("user_edit", id=member.pk)


# Calendar columns


class ColumnMixin:
    def _column(self, id):
        try:
            return access_calendar_column(organisation=self.organisation, public_id=id)
        except NotFound:
            raise Http404 from None


class ColumnListView(SettingsPage):
    """The columns in the calendar's order, with up/down buttons; POST adds one at
    the end."""

    template_name = "web/einstellungen/kalenderspalten.html"

    def get(self, request):
        return self._render_list(ColumnForm())

    def post(self, request):
        form = ColumnForm(request.POST)
        column = self._write(
            form, lambda: calendar_column_create(organisation=self.organisation, **form.values())
        )
        if column is not None:
            messages.success(request, f"Die Kalenderspalte „{column.name}“ ist angelegt.")
            return redirect("columns")
        return self._render_list(form, status=422)

    def _render_list(self, form, status=200):
        columns = list(calendar_columns_in_order(organisation=self.organisation))
        return self._render(
            form=form, columns=columns, default_colour=DEFAULT_COLOUR, status=status
        )


class ColumnEditView(ColumnMixin, SettingsPage):
    template_name = "web/einstellungen/kalenderspalte.html"

    def get(self, request, id):
        column = self._column(id)
        return self._render(form=ColumnForm(initial=ColumnForm.initial_for(column)), column=column)

    def post(self, request, id):
        column = self._column(id)
        form = ColumnForm(request.POST)
        if self._write(form, lambda: calendar_column_update(column=column, **form.values())):
            messages.success(request, f"Die Kalenderspalte „{column.name}“ ist gespeichert.")
            return redirect("columns")
        column.refresh_from_db()
        return self._render(form=form, column=column, status=422)


class ColumnMoveView(ColumnMixin, SettingsPage):
    """POST `richtung` "hoch" or "runter": one place up or down in the calendar."""

    STEPS = {"hoch": -1, "runter": 1}

    def post(self, request, id):
        column = self._column(id)
        step = self.STEPS.get(request.POST.get("richtung", ""))
        if step is None:
            messages.error(request, "Bitte „nach oben“ oder „nach unten“ wählen.")
        else:
            calendar_column_move(column=column, step=step)
        return redirect("columns")


class ColumnDeleteView(ColumnMixin, SettingsPage):
    """Ask first, then delete; a column with appointments stays."""

    template_name = "web/einstellungen/kalenderspalte_loeschen.html"

    def get(self, request, id):
        return self._render(column=self._column(id))

    def post(self, request, id):
        column = self._column(id)
        try:
            calendar_column_delete(column=column)
        except DomainError as exc:
            messages.error(request, f"„{column.name}“: {exc.detail}")
        else:
            messages.success(request, f"Die Kalenderspalte „{column.name}“ ist gelöscht.")
        return redirect("columns")


# Opening hours


class OpeningHoursView(SettingsPage):
    """Per weekday the opening intervals, and the closed dates."""

    template_name = "web/einstellungen/oeffnungszeiten.html"

    def get(self, request):
        return self._render(
            form=OpeningHoursForm(initial=OpeningHoursForm.initial_for(self.organisation))
        )

    def post(self, request):
        form = OpeningHoursForm(request.POST)
        saved = self._write(
            form,
            lambda: organisation_update_practice(
                organisation=self.organisation, data=form.values()
            ),
        )
        if saved:
            messages.success(request, "Die Öffnungszeiten und Schließtage sind gespeichert.")
            return redirect("opening_hours")
        return self._render(form=form, status=422)
