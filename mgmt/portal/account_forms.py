"""Forms of the anonymous pages: sign-up, log-in and asking for a new verification mail.
They check shape only; the account rules (password strength, unique address) are the
service's, and its refusals are shown on these fields."""

from django import forms


class SignUpForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    name = forms.CharField(label="Your name", max_length=150, required=False)
    password = forms.CharField(
        label="Password",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters, not a common or all-numeric password.",
    )
    organization_name = forms.CharField(
        label="Organization",
        max_length=200,
        required=False,
        help_text="The company or team you sign up for; you become its owner. "
        "Not needed when you accept an invitation.",
    )
    invitation_token = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)


class LogInForm(forms.Form):
    email = forms.EmailField(
        label="Email address", max_length=254, widget=forms.EmailInput(attrs={"autofocus": True})
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ResendVerificationForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(
        label="Email address", max_length=254, widget=forms.EmailInput(attrs={"autofocus": True})
    )


class NewPasswordForm(forms.Form):
    password = forms.CharField(
        label="New password",
        strip=False,
        max_length=128,
        help_text="At least 10 characters, not a common one, not all digits.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
    )
