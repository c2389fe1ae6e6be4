"""The filesystem broker (the default without Redis) writes under var/ and nowhere else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent

_SCRIPT = """
import django
django.setup()
from config.celery import app
app.send_task("core.ping")          # a queued message: data folder
app.control.broadcast("ping", reply=False)  # a control message: exchange tables, pidbox
"""


def test_every_transport_folder_is_under_var():
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    if settings.CELERY_BROKER_URL != "filesystem://":
        return  # a real broker writes no files
    folders = [options[k] for k in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")]
    var = Path(settings.VAR_DIR).resolve()
    assert all(Path(f).resolve().is_relative_to(var) for f in folders), folders


def test_filesystem_broker_writes_nothing_outside_var(tmp_path):
    # given a process started in an empty working directory, on the filesystem broker
    work = tmp_path / "cwd"
    work.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(ROOT),
        "GROUNDWORK_VAR_DIR": str(work / "var"),
        "DATABASE_URL": "postgresql://unused@127.0.0.1:9/unused",  # never connected: no embedded server
        "DEBUG": "1",
    }
    # when it queues a task and broadcasts a control message
    subprocess.run([sys.executable, "-c", _SCRIPT], cwd=work, env=env, check=True, timeout=120)
    # then every file it wrote is under var/
    written = [p.relative_to(work) for p in work.rglob("*") if p.is_file()]
    assert written, "the broker wrote nothing: the test did not exercise it"
    assert all(p.parts[0] == "var" for p in written), written
    assert any("control" in p.parts for p in written), written
