"""The committed migrations describe the models: a model change without its migration fails."""

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.db, pytest.mark.django_db]


def test_no_model_change_is_missing_a_migration():
    # --check exits non-zero (SystemExit) when makemigrations would write anything.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
