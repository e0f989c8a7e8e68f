"""``verify.html``: the disc's verifier for people who have a browser and no Python.

One self-contained page (no network, no external script; works from ``file://``) that a
court clerk opens from the disc, an access copy or an export bundle: it recomputes each
clip's SHA-256, checks each clip's RFC 6962 inclusion proof against the checkpoint, the
station's Ed25519 signature and the witnesses' cosignatures, and says 一致 / 不一致 per
clip — the checks of ``verify.py`` and ``evidence-station-verify``.

The page is static: nothing of a disc is written into it, so every disc carries the same
bytes (a court can compare its SHA-256 with ``page_sha256()`` published by the unit). It
is the template ``retention/browser/verify.html`` with the vendored noble-ed25519 (the
Ed25519 fallback for browsers without WebCrypto Ed25519) inlined byte for byte — the
vendored file stays the exact npm source, checkable against its recorded SHA-256.

浏览器校验页：光盘、复制件和导出包都带同一个 verify.html，离线打开即可校验。
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from pathlib import Path

from hashing.durable import write_file_durably

PAGE_NAME = "verify.html"
NOBLE_ED25519_VERSION = "3.2.0"
# SHA-256 of package/index.js in the npm tarball @noble/ed25519@3.2.0 (vendor/README.md)
NOBLE_ED25519_SHA256 = "a4f631d1876b5d9e43a86cd71194ca27b5e1451edf4ba4db9a418f40a475569a"
_MARKER = "/*@NOBLE_ED25519@*/"


class BrowserVerifierError(RuntimeError):
    """The packaged page or its vendored library is not what was recorded (a broken
    install); nothing is written, so no disc carries a page nobody reviewed."""


def _resource(name: str) -> bytes:
    return resources.files("retention").joinpath("browser", name).read_bytes()


@cache
def page() -> bytes:
    """The page's bytes: the template with noble-ed25519 inlined."""
    noble = _resource("vendor/noble-ed25519.js")
    if hashlib.sha256(noble).hexdigest() != NOBLE_ED25519_SHA256:
        raise BrowserVerifierError("retention/browser/vendor/noble-ed25519.js is not the recorded "
                                   f"@noble/ed25519@{NOBLE_ED25519_VERSION} source")
    licence = _resource("vendor/noble-ed25519.LICENSE").decode("utf-8")
    template = _resource(PAGE_NAME).decode("utf-8")
    script = noble.decode("utf-8")
    # an inline script ends at the first "</script": the vendored text must not hold one
    if "</script" in script.lower() or "*/" in licence or template.count(_MARKER) != 1:
        raise BrowserVerifierError("retention/browser: the vendored library cannot be inlined")
    header = (f"/* Vendored: @noble/ed25519 {NOBLE_ED25519_VERSION} (npm, package/index.js, "
              f"SHA-256 {NOBLE_ED25519_SHA256}), unmodified.\n{licence}*/\n")
    return template.replace(_MARKER, header + script).encode("utf-8")


def page_sha256() -> str:
    return hashlib.sha256(page()).hexdigest()


def write_browser_verifier(folder: Path) -> Path:
    """Write ``verify.html`` into ``folder`` (a disc's staging, an access copy, a bundle)."""
    target = folder / PAGE_NAME
    write_file_durably(target, page())
    return target
