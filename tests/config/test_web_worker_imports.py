"""A web worker loads neither pyarrow (about 40 MB, for Parquet exports only) nor statsmodels,
scipy and pandas (the outcomes page's statistics, imported when a figure is computed): importing
the URL configuration, which imports every view, and the WSGI application leaves them out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("pyarrow", "statsmodels", "scipy", "pandas")
PROBE = f"""
import json, sys
import django
django.setup()
import config.urls, config.wsgi, research.tasks, research.exporters, research.outcome_figures
print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))
"""


def test_the_web_workers_import_no_heavy_library():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
