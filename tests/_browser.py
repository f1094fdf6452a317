"""Headless chromium under chromium-driver, both Debian's (scripts/bootstrap installs them).

The portal's and the dashboard's browser tests drive it; screenshots go to reports/<folder>/
(git-ignored), where CI keeps them as artifacts.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")
REPORTS = Path(__file__).resolve().parents[1] / "reports"


@contextmanager
def chromium(profile: Path, *arguments: str, prefs: dict[str, Any] | None = None) -> Iterator[Any]:
    """A Selenium driver of a fresh headless chromium profile; never a downloaded browser or driver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM.exists(), "chromium is not installed: run scripts/bootstrap (apt: chromium)"
    assert DRIVER.exists(), "chromium-driver is not installed: run scripts/bootstrap (apt: chromium-driver)"
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not try to fetch a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1600", f"--user-data-dir={profile}", *arguments):
        options.add_argument(argument)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.implicitly_wait(20)  # a loaded CI machine: elements of the next page may take seconds
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, folder: str, name: str) -> None:
    """Save what the browser shows as reports/<folder>/<name>.png."""
    target = REPORTS / folder
    target.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(target / f"{name}.png"))


def pinned_key(url: str, cafile: Path) -> str:
    """The key of the TLS server at `url` as chromium pins it (base64 SHA-256 of its
    SubjectPublicKeyInfo), after Python verified its certificate against `cafile` and the address:
    the browser then trusts that key only (`--ignore-certificate-errors-spki-list`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    host, port = urlsplit(url).hostname, urlsplit(url).port
    assert host and port, url
    context = ssl.create_default_context(cafile=str(cafile))
    raw = socket.create_connection((host, port), timeout=10)
    with context.wrap_socket(raw, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der
    key = x509.load_der_x509_certificate(der).public_key()
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()
