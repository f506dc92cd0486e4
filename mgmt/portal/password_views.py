"""Forgotten passwords: ask for a mailed link, then set a new password from it.

The link's code rides in its fragment and reaches the server only in the POST that sets
the password (mgmt.portal.mailed_links): never in a URL, a session or a log line."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from mgmt.developers import accounts
from mgmt.developers.errors import BadCredentials, InvalidInput
from mgmt.portal import throttle
from mgmt.portal.account_forms import NewPasswordForm, PasswordResetRequestForm
from mgmt.portal.mailed_links import private_page
from mgmt.portal.service_errors import show_on_form


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


@private_page
@require_http_methods(["GET", "POST"])
def set_password(request: HttpRequest) -> HttpResponse:
    """The mailed link opens the form (its script fills in the code); the POST sets the
    password once: Django's token dies with the password it was made from."""
    form = NewPasswordForm(request.POST if request.method == "POST" else None)
    if not form.is_bound:
        return render(request, "portal/password_reset_confirm.html", {"form": form})
    if form.is_valid():
        try:
            uid, token = accounts.split_reset_code(form.cleaned_data["code"])
            accounts.reset_password(uid=uid, token=token, password=form.cleaned_data["password"])
        except BadCredentials:
            return _invalid_link(request)
        except InvalidInput as error:
            show_on_form(form, error)
        else:
            messages.success(request, "Your password is set: log in with it.")
            return redirect("portal:login")
    return render(request, "portal/password_reset_confirm.html", {"form": form}, status=400)
