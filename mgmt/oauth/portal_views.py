"""The OAuth client of an application in the portal: create it, rotate and revoke its
secrets, revoke it. A new secret exists only in the response to the POST that made it:
rendered there (never redirected to, never stored, never cached), it is shown once."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers

from mgmt.developers import selectors as developer_selectors
from mgmt.developers.errors import InvalidInput
from mgmt.developers.roles import Action
from mgmt.gateway.models import Application, Membership
from mgmt.oauth import selectors, services
from mgmt.oauth.models import OAuthClient
from mgmt.oauth.views import metadata_document
from mgmt.portal import throttle
from mgmt.portal.guards import allow_methods, member_page, signed_in_user


class RotateSecretForm(forms.Form):
    overlap_seconds = forms.IntegerField(
        label="Old secret keeps working for (seconds)",
        min_value=0,
        max_value=int(services.MAX_ROTATION_OVERLAP.total_seconds()),
        initial=3600,
    )


def _managed(request: HttpRequest, org: str, public_id: str) -> tuple[Membership, Application]:
    return developer_selectors.application_for(
        signed_in_user(request), org, public_id, Action.MANAGE_APPLICATIONS
    )


def _reveal(
    request: HttpRequest,
    membership: Membership,
    application: Application,
    client: OAuthClient,
    issued: services.IssuedSecret,
) -> HttpResponse:
    context = {
        "organization": membership.organization,
        "application": application,
        "client": client,
        "secret_row": issued.row,
        "secret": issued.secret,
        "token_endpoint": metadata_document()["token_endpoint"],
    }
    response = render(request, "oauth/secret_reveal.html", context, status=201)
    # Neither the browser's cache nor its back button may bring the secret back.
    add_never_cache_headers(response)
    return response


def _back(org: str, public_id: str) -> HttpResponse:
    return redirect("portal:application", org=org, public_id=public_id)


@member_page
def create_client(request: HttpRequest, org: str, public_id: str) -> HttpResponse:
    membership, found = _managed(request, org, public_id)
    allow_methods(request, "POST")
    if (wait := throttle.spend_attempt(request, "key_creation")) is not None:
        return throttle.too_many_attempts(request, wait)
    try:
        created = services.create_client(application=found)
    except InvalidInput as error:
        messages.error(request, error.detail)
        return _back(org, public_id)
    return _reveal(request, membership, found, created.client, created.secret)


@member_page
def rotate_secret(request: HttpRequest, org: str, public_id: str, secret_id: str) -> HttpResponse:
    membership, found = _managed(request, org, public_id)
    client = selectors.open_client(found)
    secret = selectors.client_secret(client, secret_id)
    allow_methods(request, "POST")
    if (wait := throttle.spend_attempt(request, "key_creation")) is not None:
        return throttle.too_many_attempts(request, wait)
    form = RotateSecretForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The overlap is 0 to 30 days, in seconds.")
        return _back(org, public_id)
    try:
        issued = services.rotate_secret(
            secret=secret, overlap_seconds=form.cleaned_data["overlap_seconds"]
        )
    except InvalidInput as error:
        messages.error(request, error.detail)
        return _back(org, public_id)
    return _reveal(request, membership, found, client, issued)


@member_page
def revoke_secret(request: HttpRequest, org: str, public_id: str, secret_id: str) -> HttpResponse:
    _, found = _managed(request, org, public_id)
    secret = selectors.client_secret(selectors.open_client(found), secret_id)
    allow_methods(request, "POST")
    services.revoke_secret(secret=secret)
    messages.success(request, f"Secret {secret} is revoked: no new token is issued with it.")
    return _back(org, public_id)


@member_page
def revoke_client(request: HttpRequest, org: str, public_id: str) -> HttpResponse:
    _, found = _managed(request, org, public_id)
    client = selectors.open_client(found)
    allow_methods(request, "POST")
    services.revoke_client(client=client)
    messages.success(
        request, f"OAuth client {client} is revoked: the gateway refuses its tokens within seconds."
    )
    return _back(org, public_id)
