import pytest

from alerts.services import operator_create

PASSWORD = "a-long-test-password-42"


@pytest.fixture
def operator(db):
    return operator_create(username="olga", password=PASSWORD)


@pytest.fixture
def supervisor(db):
    return operator_create(username="sam", password=PASSWORD, supervisor=True)
