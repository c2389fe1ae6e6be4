"""Test settings: the real settings, with test-friendly environment defaults."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("EMBEDDING_WARM_AT_START", "0")
# Round-the-clock support hours keep hand-over texts independent of when tests run.
os.environ.setdefault("SUPPORT_HOURS", "mon-sun 00:00-23:59")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks enqueued by services run inline in unit tests; the Celery integration
# test starts a real worker on Redis instead.
CELERY_TASK_ALWAYS_EAGER = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
SECURE_SSL_REDIRECT = False  # the test client and the live server speak plain HTTP
# Live-server threads must not keep connections open past a test (the test
# database is dropped at the end of the session).
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
