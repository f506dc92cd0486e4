"""Model field validators: the pure checks of jwks_checks, their refusals as ValidationError.
Module-level functions, so that migrations can name them."""

from collections.abc import Callable

from django.core.exceptions import ValidationError

from mgmt.identity import jwks_checks


def _in_words(parse: Callable[[str], object], value: str) -> None:
    try:
        parse(value)
    except jwks_checks.JwksProblem as problem:
        raise ValidationError(str(problem)) from None


def validate_audiences(value: str) -> None:
    _in_words(jwks_checks.parse_audiences, value)


def validate_jwks_uri(value: str) -> None:
    _in_words(jwks_checks.check_jwks_uri, value)


def validate_algorithms(value: str) -> None:
    _in_words(jwks_checks.parse_algorithms, value)


def validate_client_claims(value: str) -> None:
    _in_words(jwks_checks.parse_client_claims, value)
