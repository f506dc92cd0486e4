"""The anonymous doors of the portal: sign-up, log-in and out, and email verification.
Sign-up and log-in POSTs spend the client address's attempt budget."""

from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from mgmt.developers import accounts
from mgmt.developers.errors import BadCredentials, EmailNotVerified, InvalidInput
from mgmt.portal import throttle
from mgmt.portal.account_forms import (
    LogInForm,
    ResendVerificationForm,
    SignUpForm,
    VerifyEmailForm,
)
from mgmt.portal.mailed_links import private_page
from mgmt.portal.service_errors import show_on_form


def _safe_next(request: HttpRequest) -> str:
    """Where to go after logging in: only a path on this site (never an open redirect)."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return ""


@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        # An invitation's sign-up starts on its own page (invitation_views), which posts
        # its token here in the body: never in this page's query.
        return render(request, "portal/signup.html", {"form": SignUpForm()})
    if (wait := throttle.spend_attempt(request, "signup")) is not None:
        return throttle.too_many_attempts(request, wait)
    form = SignUpForm(request.POST)
    if form.is_valid():
        try:
            signed = accounts.sign_up(**form.cleaned_data)
        except InvalidInput as error:
            show_on_form(form, error)
        else:
            if signed.verified:
                # An invitation proved the address: no mail to wait for, straight in.
                user = accounts.log_in(
                    email=form.cleaned_data["email"], password=form.cleaned_data["password"]
                )
                login(request, user)
                messages.success(request, "Welcome: you have joined your organization.")
                return redirect("portal:dashboard")
            messages.info(
                request,
                f"We mailed a confirmation link to {signed.user.email}. "
                "Follow it, then log in here.",
            )
            return redirect("portal:login")
    return render(request, "portal/signup.html", {"form": form}, status=400)


@require_http_methods(["GET", "POST"])
def log_in(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request)
    if request.method != "POST":
        return render(request, "portal/login.html", {"form": LogInForm(), "next": next_url})
    if (wait := throttle.spend_attempt(request, "login")) is not None:
        return throttle.too_many_attempts(request, wait)
    form = LogInForm(request.POST)
    unverified = False
    if form.is_valid():
        try:
            user = accounts.log_in(
                email=form.cleaned_data["email"], password=form.cleaned_data["password"]
            )
        except EmailNotVerified as error:
            form.add_error(None, error.detail)
            unverified = True
        except BadCredentials as error:
            form.add_error(None, error.detail)
        else:
            login(request, user)
            return redirect(next_url or reverse("portal:dashboard"))
    context = {"form": form, "next": next_url, "unverified": unverified}
    return render(request, "portal/login.html", context, status=400)


@require_POST
def log_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are logged out.")
    return redirect("portal:login")


@private_page
@require_http_methods(["GET", "POST"])
def verify_email(request: HttpRequest) -> HttpResponse:
    """The mailed link opens the form (its script posts the link's code at once); the POST
    confirms the address the code was mailed to, and a second one changes nothing."""
    form = VerifyEmailForm(request.POST if request.method == "POST" else None)
    if not form.is_bound:
        return render(request, "portal/verify.html", {"form": form})
    if not form.is_valid():
        return render(request, "portal/verify.html", {"form": form}, status=400)
    try:
        accounts.verify_email(token=form.cleaned_data["code"])
    except BadCredentials as error:
        return render(request, "portal/verify_failed.html", {"detail": error.detail}, status=400)
    messages.success(request, "Your email address is confirmed. Log in to continue.")
    return redirect("portal:login")


@require_http_methods(["GET", "POST"])
def resend_verification(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "portal/resend.html", {"form": ResendVerificationForm()})
    # Each request may send a mail, as a sign-up does: it spends the same budget.
    if (wait := throttle.spend_attempt(request, "signup")) is not None:
        return throttle.too_many_attempts(request, wait)
    form = ResendVerificationForm(request.POST)
    if not form.is_valid():
        return render(request, "portal/resend.html", {"form": form}, status=400)
    accounts.resend_verification(email=form.cleaned_data["email"])
    # The same words whether or not the address has an account: they tell a stranger nothing.
    messages.info(
        request,
        "If that address has an account waiting for confirmation, a new link is on its way.",
    )
    return redirect("portal:login")
