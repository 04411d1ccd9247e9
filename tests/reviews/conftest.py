"""The review tests run on the automation tests' fixtures: the thank-you email carries the feedback link."""

from tests.automations.conftest import add_chefs, admin_sign_in, clock, live, station  # noqa: F401
