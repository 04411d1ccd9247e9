"""A process loads a third-party SDK only when it uses that service: the app on its embedded default (no Stripe,
Twilio or Sentry settings) starts without importing them (tens of MB each a process would carry for nothing)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("stripe", "twilio", "sentry_sdk")
START = """
import json, sys
from myhibachi.app import create_app
from myhibachi.settings import Settings
create_app(Settings(_env_file=None, database_url="sqlite+aiosqlite:///:memory:", secret_key="x" * 40))
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[1:]))))
"""


def test_the_app_starts_without_the_sdks_of_services_it_does_not_use() -> None:
    started = subprocess.run([sys.executable, "-c", START, *HEAVY], capture_output=True, text=True, timeout=120,
                             check=False, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout.strip().splitlines()[-1]) == []
