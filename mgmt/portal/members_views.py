"""An organization's people: members with their roles, open invitations, and inviting.
Everyone in the organization sees the page; only roles that manage members change it."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from mgmt.developers import accounts, selectors
from mgmt.developers.errors import InvalidInput, NotPermitted
from mgmt.developers.roles import Action, may
from mgmt.gateway.models import Membership
from mgmt.portal.guards import allow_methods, member_page, signed_in_user
from mgmt.portal.member_forms import InviteForm, RoleForm
from mgmt.portal.service_errors import show_on_form


def role_prefix(membership_id: int) -> str:
    """Each member row has its own role form; the prefix keeps their ids and names apart."""
    return f"member-{membership_id}"


def _members_page(
    request: HttpRequest,
    membership: Membership,
    *,
    invite_form: InviteForm | None = None,
    role_form: tuple[int, RoleForm] | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    refused_member_id, refused_role_form = role_form or (0, None)
    member_rows = [
        (
            member,
            refused_role_form
            if member.pk == refused_member_id
            else RoleForm(prefix=role_prefix(member.pk), initial={"role": member.role}),
        )
        for member in selectors.members(membership.organization_id)
    ]
    context = {
        "organization": membership.organization,
        "me": membership,
        "can_manage": may(membership.role, Action.MANAGE_MEMBERS),
        "member_rows": member_rows,
        "invitations": [
            (invitation, invitation.state())
            for invitation in selectors.invitations(membership.organization_id)
        ],
        "invite_form": invite_form or InviteForm(),
        "errors": errors or [],
    }
    return render(request, "portal/members.html", context, status=status)


@member_page
def members(request: HttpRequest, org: str) -> HttpResponse:
    membership = selectors.membership(signed_in_user(request), org)
    allow_methods(request, "GET", "HEAD")
    return _members_page(request, membership)


@member_page
def invite(request: HttpRequest, org: str) -> HttpResponse:
    user = signed_in_user(request)
    membership = selectors.membership(user, org, Action.MANAGE_MEMBERS)
    allow_methods(request, "POST")
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            accounts.invite(
                organization=membership.organization,
                by=user,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except InvalidInput as error:
            show_on_form(form, error)
        else:
            messages.success(request, f"Invitation mailed to {form.cleaned_data['email']}.")
            return redirect("portal:members", org=org)
    return _members_page(request, membership, invite_form=form, status=400)


@member_page
def change_role(request: HttpRequest, org: str, member_id: int) -> HttpResponse:
    membership = selectors.membership(signed_in_user(request), org, Action.MANAGE_MEMBERS)
    member = selectors.member(membership.organization_id, member_id)
    allow_methods(request, "POST")
    form = RoleForm(request.POST, prefix=role_prefix(member_id))
    if form.is_valid():
        try:
            changed = accounts.change_role(membership=member, role=form.cleaned_data["role"])
        except InvalidInput as error:
            show_on_form(form, error)
        else:
            messages.success(request, f"{changed.user.email} is now {changed.role}.")
            return redirect("portal:members", org=org)
    return _members_page(request, membership, role_form=(member_id, form), status=400)


@member_page
def remove_member(request: HttpRequest, org: str, member_id: int) -> HttpResponse:
    membership = selectors.membership(signed_in_user(request), org, Action.MANAGE_MEMBERS)
    member = selectors.member(membership.organization_id, member_id)
    allow_methods(request, "POST")
    try:
        accounts.remove_member(membership=member)
    except NotPermitted as error:
        # The last owner: a rule of the organization, not the caller's role, so this page
        # with the reason rather than a 403.
        return _members_page(request, membership, errors=[error.detail], status=400)
    messages.success(request, f"{member.user.email} is no longer a member.")
    if member.pk == membership.pk:
        return redirect("portal:dashboard")
    return redirect("portal:members", org=org)


@member_page
def revoke_invitation(request: HttpRequest, org: str, invitation_id: int) -> HttpResponse:
    membership = selectors.membership(signed_in_user(request), org, Action.MANAGE_MEMBERS)
    found = selectors.invitation(membership.organization_id, invitation_id)
    allow_methods(request, "POST")
    accounts.revoke_invitation(invitation=found)
    messages.success(request, f"The invitation to {found.email} is revoked.")
    return redirect("portal:members", org=org)
