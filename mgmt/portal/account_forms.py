"""Forms of the anonymous pages: sign-up, log-in, asking for a new verification mail, and
the pages of mailed links (their codes, and a new password).
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


def mailed_code_field(label: str) -> forms.CharField:
    """The secret of a mailed link: the page's script fills it in from the link's fragment
    (and hides it); without the script, it is pasted from the mail."""
    return forms.CharField(
        label=label,
        max_length=1000,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "off",
                "spellcheck": "false",
                "data-mailed-code": True,
            }
        ),
    )


class VerifyEmailForm(forms.Form):
    code = mailed_code_field("Confirmation code")


class InvitationForm(forms.Form):
    code = mailed_code_field("Invitation code")


class NewPasswordForm(forms.Form):
    code = mailed_code_field("Reset code")
    password = forms.CharField(
        label="New password",
        strip=False,
        max_length=128,
        help_text="At least 10 characters, not a common one, not all digits.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
    )
