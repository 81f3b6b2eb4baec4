"""What the PDF renderer may load: `data:` URLs (the report's charts and key images are
embedded) and the app's own static files, nothing else (imported only when a PDF is made:
WeasyPrint is slow to load). WeasyPrint's default fetcher follows
any URL an HTML document names (http, file:///etc/passwd, ...): a value that reached the
report's HTML must never make the server read its own files or call another host."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

# The web layer's static folder, by path (reporting does not import web/).
STATIC_DIR = (Path(__file__).resolve().parents[1] / "web" / "static").resolve()


class OwnFilesOnly(URLFetcher):  # type: ignore[misc]
    """A fetcher that refuses (ValueError: WeasyPrint leaves the resource out, with a logged
    warning) every URL but `data:` and a file inside STATIC_DIR."""

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        scheme = urlsplit(url).scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file":
            path = Path(unquote(urlsplit(url).path)).resolve()
            if path.is_relative_to(STATIC_DIR) and path.is_file():
                return URLFetcherResponse(url, body=path.read_bytes())
        raise ValueError(f"the report loads only data: URLs and its own static files: {url}")


def pdf_of_html(html: str) -> bytes:
    """The PDF of an HTML page, loading only what `OwnFilesOnly` allows."""
    return bytes(HTML(string=html, base_url=STATIC_DIR.as_uri() + "/",
                      url_fetcher=OwnFilesOnly()).write_pdf())
