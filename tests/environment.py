"""Loaded by pytest before Django's settings (`-p tests.environment` in pyproject.toml).

The suite runs StreamCity as the local demo does (STREAMCITY_DEMO: http on 127.0.0.1, a secret key
generated in var/); production settings are tested in subprocesses with an environment of their own
(tests/security/test_secure_defaults.py). Processes the tests start inherit this environment.
"""

import os

os.environ.setdefault("STREAMCITY_DEMO", "true")
