"""An invitation from its mail: the page shows what it offers, then the signed-in invitee
accepts it, or someone new signs up with it. The token travels in POST bodies only (the
mailed link holds it in the fragment: mgmt.portal.mailed_links)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods

from mgmt.developers import accounts, selectors
from mgmt.developers.errors import InvalidInput
from mgmt.gateway.models import Invitation
from mgmt.portal.account_forms import InvitationForm, SignUpForm
from mgmt.portal.guards import signed_in_user
from mgmt.portal.mailed_links import private_page

# The tab's sessionStorage key under which the page's script keeps the code while its
# invitee logs in (the browser's own storage: the server never keeps the token).
KEEP_CODE = "tollgate.portal.invitation"


def _page(request: HttpRequest, context: dict[str, object], status: int = 200) -> HttpResponse:
    context = {"keep_code": KEEP_CODE, "here": reverse("portal:invitation"), **context}
    return render(request, "portal/invitation.html", context, status=status)


@private_page
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest) -> HttpResponse:
    """GET: the form its script posts the link's code with (or the invitee pastes it).
    POST: the invitation shown, or accepted when the body says `accept`."""
    form = InvitationForm(request.POST if request.method == "POST" else None)
    if not form.is_bound or not form.is_valid():
        return _page(request, {"step": "enter", "form": form}, 400 if form.is_bound else 200)
    token = form.cleaned_data["code"]
    found = selectors.open_invitation(token)
    if found is None:
        return _page(request, {"step": "invalid"}, status=404)
    if "accept" in request.POST:
        return _accept(request, found, token)
    context: dict[str, object] = {"step": "found", "invitation": found, "code": token}
    if not request.user.is_authenticated:
        context["signup_form"] = SignUpForm(
            initial={"email": found.email, "invitation_token": token}
        )
    return _page(request, context)


def _accept(request: HttpRequest, found: Invitation, token: str) -> HttpResponse:
    if not request.user.is_authenticated:
        here = reverse("portal:invitation")
        return redirect(f"{reverse('portal:login')}?{urlencode({'next': here})}")
    try:
        joined = accounts.accept_invitation(user=signed_in_user(request), token=token)
    except InvalidInput as error:
        errors = [text for listed in error.errors.values() for text in listed]
        context = {"step": "found", "invitation": found, "code": token, "errors": errors}
        return _page(request, context, status=400)
    messages.success(request, f"You joined {joined.organization.name} as {joined.role}.")
    return redirect("portal:dashboard")
