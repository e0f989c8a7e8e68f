"""HTML to PDF with headless Chromium (installed by `make deps`), so the printable pages
(receipts, disc notes, reports) and their PDFs come from the same HTML and fonts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class PdfError(Exception):
    pass


def html_to_pdf(html: Path, pdf: Path) -> Path:
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if browser is None:
        raise PdfError("no Chromium to print PDFs with; install the `chromium` package "
                       "(make deps does) — the HTML page is there meanwhile: " + str(html))
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
         f"--print-to-pdf={pdf}", html.resolve().as_uri()],
        capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        raise PdfError(f"Chromium could not print {html}: {result.stderr.strip()[-400:]}")
    return pdf
