"""Forms of the members page: inviting an address and changing a member's role."""

from django import forms

from mgmt.gateway.models import Role


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.DEVELOPER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)
