"""Forgotten passwords: ask for a mailed link, then set a new password from it.

The link's token leaves the address bar at once: the first visit keeps it in the session
and redirects to a URL without it, so it is in no Referer, history entry or 4xx log line
(the way Django's own reset views do it)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from mgmt.developers import accounts
from mgmt.developers.errors import BadCredentials, InvalidInput
from mgmt.portal import throttle
from mgmt.portal.account_forms import NewPasswordForm, PasswordResetRequestForm
from mgmt.portal.service_errors import show_on_form

# Where the link's path stands once its token is in the session.
TOKEN_KEPT = "set-password"  # noqa: S105 - a path segment, not a secret
_SESSION_KEY = "portal_password_reset_token"


@require_http_methods(["GET", "POST"])
def request_reset(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "portal/password_reset.html", {"form": PasswordResetRequestForm()})
    # It may send a mail, as a sign-up does: it spends the same budget.
    if (wait := throttle.spend_attempt(request, "signup")) is not None:
        return throttle.too_many_attempts(request, wait)
    form = PasswordResetRequestForm(request.POST)
    if not form.is_valid():
        return render(request, "portal/password_reset.html", {"form": form}, status=400)
    accounts.request_password_reset(email=form.cleaned_data["email"])
    messages.info(
        request, "If that address has an account, a mail with a reset link is on its way."
    )
    return redirect("portal:login")


def _invalid_link(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/password_reset_invalid.html", status=400)


@require_http_methods(["GET", "POST"])
def set_password(request: HttpRequest, uid: str, token: str) -> HttpResponse:
    if token != TOKEN_KEPT:
        try:
            accounts.check_password_reset(uid=uid, token=token)
        except BadCredentials:
            return _invalid_link(request)
        request.session[_SESSION_KEY] = token
        return redirect("portal:password-reset-confirm", uid=uid, token=TOKEN_KEPT)
    kept = str(request.session.get(_SESSION_KEY, ""))
    try:
        accounts.check_password_reset(uid=uid, token=kept)
    except BadCredentials:
        return _invalid_link(request)
    form = NewPasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            accounts.reset_password(uid=uid, token=kept, password=form.cleaned_data["password"])
        except InvalidInput as error:
            show_on_form(form, error)
        else:
            request.session.pop(_SESSION_KEY, None)
            messages.success(request, "Your password is set: log in with it.")
            return redirect("portal:login")
    status = 400 if form.is_bound else 200
    return render(request, "portal/password_reset_confirm.html", {"form": form}, status=status)
