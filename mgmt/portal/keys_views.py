"""API keys of an application: issue, rotate and revoke. A new key's secret exists only in
the response to the POST that made it: rendered there (never redirected to, never stored,
never cached), it is shown exactly once."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers

from mgmt.developers import access, selectors
from mgmt.developers.errors import InvalidInput
from mgmt.developers.roles import Action
from mgmt.gateway.models import Application, Membership
from mgmt.gateway.services import IssuedApiKey
from mgmt.portal import throttle
from mgmt.portal.application_forms import KeyForm, RotateKeyForm
from mgmt.portal.applications_views import render_application_page, rotate_prefix
from mgmt.portal.guards import allow_methods, member_page, signed_in_user
from mgmt.portal.service_errors import show_on_form


def _reveal(
    request: HttpRequest, membership: Membership, application: Application, issued: IssuedApiKey
) -> HttpResponse:
    context = {
        "organization": membership.organization,
        "application": application,
        "api_key": issued.api_key,
        "secret": issued.secret,
    }
    response = render(request, "portal/key_reveal.html", context, status=201)
    # Neither the browser's cache nor its back button may bring the secret back.
    add_never_cache_headers(response)
    return response


@member_page
def create_key(request: HttpRequest, org: str, public_id: str) -> HttpResponse:
    membership, found = selectors.application_for(
        signed_in_user(request), org, public_id, Action.MANAGE_APPLICATIONS
    )
    allow_methods(request, "POST")
    if (wait := throttle.spend_attempt(request, "key_creation")) is not None:
        return throttle.too_many_attempts(request, wait)
    form = KeyForm(request.POST)
    if form.is_valid():
        try:
            issued = access.issue_key(application=found, **form.cleaned_data)
        except InvalidInput as error:
            show_on_form(form, error)
        else:
            return _reveal(request, membership, found, issued)
    return render_application_page(request, membership, found, status=400, key_form=form)


@member_page
def rotate_key(request: HttpRequest, org: str, public_id: str, key_id: str) -> HttpResponse:
    membership, found = selectors.application_for(
        signed_in_user(request), org, public_id, Action.MANAGE_APPLICATIONS
    )
    api_key = selectors.key(found, key_id)
    allow_methods(request, "POST")
    if (wait := throttle.spend_attempt(request, "key_creation")) is not None:
        return throttle.too_many_attempts(request, wait)
    form = RotateKeyForm(request.POST, prefix=rotate_prefix(key_id))
    if form.is_valid():
        try:
            issued = access.rotate_key(
                api_key=api_key, overlap_seconds=form.cleaned_data["overlap_seconds"]
            )
        except InvalidInput as error:
            show_on_form(form, error)
        else:
            return _reveal(request, membership, found, issued)
    return render_application_page(
        request, membership, found, status=400, rotate_form=(key_id, form)
    )


@member_page
def revoke_key(request: HttpRequest, org: str, public_id: str, key_id: str) -> HttpResponse:
    _, found = selectors.application_for(
        signed_in_user(request), org, public_id, Action.MANAGE_APPLICATIONS
    )
    api_key = selectors.key(found, key_id)
    allow_methods(request, "POST")
    access.revoke_key(api_key=api_key)
    messages.success(request, f"Key {api_key} is revoked: the gateway refuses it within seconds.")
    return redirect("portal:application", org=org, public_id=public_id)
