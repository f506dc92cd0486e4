"""Puts a service's InvalidInput next to the form fields it blames."""

from django import forms

from mgmt.developers.errors import InvalidInput


def show_on_form(
    form: forms.Form, error: InvalidInput, aliases: dict[str, str] | None = None
) -> None:
    """Each message goes to its field when the form shows that field, else to the top of
    the form, so no refusal is lost. `aliases` maps a service field name to a form field."""
    aliases = aliases or {}
    for field, messages in error.errors.items():
        name = aliases.get(field, field)
        shown = name in form.fields and not form.fields[name].widget.is_hidden
        for message in messages:
            form.add_error(name if shown else None, message)
