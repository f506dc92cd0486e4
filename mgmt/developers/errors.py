"""What the developer services refuse, in words a partner can act on. The DRF exception
handler and the portal views map these to statuses; nothing below them knows HTTP."""


class DeveloperError(Exception):
    """Base of every refusal; `detail` is safe to show to the caller."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DeveloperError):
    """Input that breaks a rule, with the fields to blame (400)."""

    def __init__(self, errors: dict[str, list[str]], detail: str = "") -> None:
        super().__init__(detail or "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class BadCredentials(DeveloperError):
    """Wrong email or password, or a token that is not (or no longer) valid (401)."""


class EmailNotVerified(DeveloperError):
    """The account exists but its address has not been confirmed yet (403)."""


class NotPermitted(DeveloperError):
    """The caller's role does not allow this (403)."""


class NotFound(DeveloperError):
    """Nothing of that name that the caller may see (404): never says whether it exists."""


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput({field: [message]})
