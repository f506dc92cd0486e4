"""An organization's applications: the list with its create form, and one application's
page (details, keys, subscriptions) with edit and delete."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from mgmt.developers import access, selectors
from mgmt.developers.errors import InvalidInput
from mgmt.developers.roles import Action, may
from mgmt.gateway.models import Application, Membership
from mgmt.portal import throttle
from mgmt.portal.application_forms import (
    ApplicationForm,
    DeleteApplicationForm,
    KeyForm,
    RotateKeyForm,
)
from mgmt.portal.guards import allow_methods, member_page, signed_in_user
from mgmt.portal.service_errors import show_on_form


def rotate_prefix(key_id: str) -> str:
    """Each key row has its own rotate form; the prefix keeps their ids and names apart."""
    return f"rotate-{key_id}"


def render_application_page(
    request: HttpRequest,
    membership: Membership,
    application: Application,
    *,
    status: int = 200,
    edit_form: ApplicationForm | None = None,
    delete_form: DeleteApplicationForm | None = None,
    key_form: KeyForm | None = None,
    rotate_form: tuple[str, RotateKeyForm] | None = None,
) -> HttpResponse:
    """The application page, with a refused form (bound, showing its errors) in its place."""
    rotating_key_id, refused_rotate_form = rotate_form or ("", None)
    key_rows = [
        (
            key,
            refused_rotate_form
            if key.key_id == rotating_key_id
            else RotateKeyForm(prefix=rotate_prefix(key.key_id)),
        )
        for key in selectors.keys(application)
    ]
    context = {
        "organization": membership.organization,
        "application": application,
        "can_manage": may(membership.role, Action.MANAGE_APPLICATIONS),
        "edit_form": edit_form
        or ApplicationForm(
            initial={
                "name": application.name,
                "description": application.description,
                "contact_email": application.contact_email,
            }
        ),
        "delete_form": delete_form or DeleteApplicationForm(),
        "key_form": key_form or KeyForm(),
        "key_rows": key_rows,
        "subscriptions": selectors.subscriptions(application),
    }
    return render(request, "portal/application.html", context, status=status)


def _applications_page(
    request: HttpRequest, membership: Membership, form: ApplicationForm, status: int = 200
) -> HttpResponse:
    context = {
        "organization": membership.organization,
        "applications": selectors.applications(membership.organization_id),
        "can_manage": may(membership.role, Action.MANAGE_APPLICATIONS),
        "form": form,
    }
    return render(request, "portal/applications.html", context, status=status)


@member_page
def applications(request: HttpRequest, org: str) -> HttpResponse:
    user = signed_in_user(request)
    if request.method != "POST":
        membership = selectors.membership(user, org)
        allow_methods(request, "GET", "HEAD")
        return _applications_page(request, membership, ApplicationForm())
    membership = selectors.membership(user, org, Action.MANAGE_APPLICATIONS)
    if (wait := throttle.spend_attempt(request, "application_creation")) is not None:
        return throttle.too_many_attempts(request, wait)
    form = ApplicationForm(request.POST)
    if form.is_valid():
        try:
            created = access.create_application(
                organization=membership.organization, **form.cleaned_data
            )
        except InvalidInput as error:
            show_on_form(form, error)
        else:
            messages.success(request, f"Application {created.name} created. Now give it a key.")
            return redirect("portal:application", org=org, public_id=created.public_id)
    return _applications_page(request, membership, form, status=400)


@member_page
def application(request: HttpRequest, org: str, public_id: str) -> HttpResponse:
    membership, found = selectors.application_for(signed_in_user(request), org, public_id)
    allow_methods(request, "GET", "HEAD")
    return render_application_page(request, membership, found)


@member_page
def edit_application(request: HttpRequest, org: str, public_id: str) -> HttpResponse:
    membership, found = selectors.application_for(
        signed_in_user(request), org, public_id, Action.MANAGE_APPLICATIONS
    )
    allow_methods(request, "POST")
    form = ApplicationForm(request.POST)
    if form.is_valid():
        try:
            access.update_application(application=found, **form.cleaned_data)
        except InvalidInput as error:
            show_on_form(form, error)
        else:
            messages.success(request, "Application saved.")
            return redirect("portal:application", org=org, public_id=public_id)
    # The row on screen keeps its stored values; only the form shows what was typed.
    found.refresh_from_db()
    return render_application_page(request, membership, found, status=400, edit_form=form)


@member_page
def delete_application(request: HttpRequest, org: str, public_id: str) -> HttpResponse:
    membership, found = selectors.application_for(
        signed_in_user(request), org, public_id, Action.MANAGE_APPLICATIONS
    )
    allow_methods(request, "POST")
    form = DeleteApplicationForm(request.POST)
    if not form.is_valid():
        return render_application_page(request, membership, found, status=400, delete_form=form)
    if (wait := throttle.spend_attempt(request, "application_deletion")) is not None:
        return throttle.too_many_attempts(request, wait)
    access.delete_application(application=found)
    messages.success(request, f"Application {found.name} deleted; its keys no longer work.")
    return redirect("portal:applications", org=org)
