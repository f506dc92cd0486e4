"""The anonymous doors of the portal: sign-up, log-in and out, email verification, and the
invitation link. Sign-up and log-in POSTs spend the client address's attempt budget."""

from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods, require_POST

from mgmt.developers import accounts, selectors
from mgmt.developers.errors import BadCredentials, EmailNotVerified, InvalidInput
from mgmt.portal import throttle
from mgmt.portal.account_forms import LogInForm, ResendVerificationForm, SignUpForm
from mgmt.portal.guards import signed_in_user
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
        form = SignUpForm(initial={"invitation_token": request.GET.get("invitation", "")})
        return render(request, "portal/signup.html", {"form": form})
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


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    # A GET that writes, because mail clients open links with GET; it only ever confirms
    # the address the link was mailed to, and a second visit changes nothing.
    try:
        accounts.verify_email(token=token)
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


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Accepts an invitation for the signed-in user; anyone else is offered sign-up with
    the invitation, or log-in and back here."""
    found = selectors.open_invitation(token)
    context: dict[str, object] = {"token": token, "here": request.path, "invitation": found}
    if found is None:
        return render(request, "portal/invitation.html", context, status=404)
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect(f"{reverse('portal:login')}?{urlencode({'next': request.path})}")
        return render(request, "portal/invitation.html", context)
    if request.method != "POST":
        return render(request, "portal/invitation.html", context)
    try:
        joined = accounts.accept_invitation(user=signed_in_user(request), token=token)
    except InvalidInput as error:
        context["errors"] = [message for found in error.errors.values() for message in found]
        # 200, not 400: Django logs the path of every 4xx, and this path holds a token that
        # still works for the address it was sent to.
        return render(request, "portal/invitation.html", context)
    messages.success(request, f"You joined {joined.organization.name} as {joined.role}.")
    return redirect("portal:dashboard")
