# The process fixtures of the end-to-end tests serve the reliability tests too.
from tests.e2e.conftest import embedded, procs  # noqa: F401
