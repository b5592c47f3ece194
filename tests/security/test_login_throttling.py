"""Finding 6: login throttling that fits operators (django-axes).

Before: the lockout was per username *and* address — a locked user logged in from another address, and
30 usernames tried from one address were never throttled; AXES_PROXY_COUNT did nothing (no resolver),
so behind a reverse proxy every operator had the proxy's address.
"""

import pytest
from axes.models import AccessAttempt

from alerts.services import operator_create

PASSWORD = "correct-horse-battery-42"
LOGIN = "/accounts/login/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return operator_create(username="olga", password=PASSWORD)


def attempt(client, username, password, address="203.0.113.9", forwarded=None):
    extra = {"REMOTE_ADDR": address}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(LOGIN, {"username": username, "password": password}, **extra).status_code


def test_a_username_is_locked_after_repeated_failures_from_any_addresses(client, operator, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        assert attempt(client, "olga", "wrong", address=f"198.51.100.{i + 1}") in (200, 429)
    # the right password, from an address that never failed: the account is locked all the same
    assert attempt(client, "olga", PASSWORD, address="192.0.2.200") == 429


def test_an_address_trying_many_usernames_is_throttled(client, operator, settings):
    codes = [attempt(client, f"user{i}", "wrong", address="203.0.113.66") for i in range(30)]
    assert codes[: settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert set(codes[settings.AXES_FAILURE_LIMIT:]) == {429}
    # that address cannot log in at all until the cool-off; another address can
    assert attempt(client, "olga", PASSWORD, address="203.0.113.66") == 429
    assert attempt(client, "olga", PASSWORD, address="203.0.113.67") == 302


def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own_address(client, operator, settings):
    settings.STREAMCITY_TRUSTED_PROXIES = 1
    proxy = "10.0.0.2"
    # an attacker behind the proxy, forging X-Forwarded-For entries to look like many clients
    for i in range(settings.AXES_FAILURE_LIMIT + 2):
        attempt(client, f"guess{i}", "wrong", address=proxy, forwarded=f"192.0.2.{i}, 198.51.100.7")
    assert AccessAttempt.objects.filter(ip_address="198.51.100.7").count() >= settings.AXES_FAILURE_LIMIT
    assert not AccessAttempt.objects.filter(ip_address=proxy).exists()
    assert attempt(client, "someone", "wrong", address=proxy, forwarded="198.51.100.7") == 429
    # the operator, through the same proxy from another address, is not locked out with them
    assert attempt(client, "olga", PASSWORD, address=proxy, forwarded="198.51.100.8") == 302


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, operator, settings):
    settings.STREAMCITY_TRUSTED_PROXIES = 0
    for i in range(settings.AXES_FAILURE_LIMIT + 1):
        attempt(client, f"guess{i}", "wrong", address="203.0.113.5", forwarded=f"192.0.2.{i}")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}
    assert attempt(client, "olga", PASSWORD, address="203.0.113.5", forwarded="192.0.2.99") == 429


def test_a_supervisor_unlocks_an_operator(client, operator, settings):
    operator_create(username="sam", password=PASSWORD, supervisor=True)
    for i in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "olga", "wrong", address=f"198.51.100.{i + 1}")
    assert attempt(client, "olga", PASSWORD, address="192.0.2.10") == 429

    assert attempt(client, "sam", PASSWORD, address="192.0.2.20") == 302
    response = client.post("/admin/auth/user/", {"action": "unlock", "_selected_action": [str(operator.pk)]},
                           REMOTE_ADDR="192.0.2.20")
    assert response.status_code == 302
    client.logout()
    assert attempt(client, "olga", PASSWORD, address="192.0.2.10") == 302


def test_an_operator_cannot_unlock_accounts(client, operator, settings):
    operator_create(username="otto", password=PASSWORD)
    for i in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "otto", "wrong", address=f"198.51.100.{i + 1}")
    assert attempt(client, "olga", PASSWORD, address="192.0.2.30") == 302
    otto = type(operator).objects.get(username="otto")
    response = client.post("/admin/auth/user/", {"action": "unlock", "_selected_action": [str(otto.pk)]},
                           REMOTE_ADDR="192.0.2.30")
    assert response.status_code == 403
    client.logout()
    assert attempt(client, "otto", PASSWORD, address="192.0.2.31") == 429
