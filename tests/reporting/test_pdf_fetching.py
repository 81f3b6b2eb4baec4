"""The PDF renderer loads only `data:` URLs and the app's own static files: an image on
another host or a file elsewhere on the server is never fetched."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from reporting.fetch import STATIC_DIR, pdf_of_html

# A 1x1 PNG: if a renderer fetched it, the PDF would hold an image.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDw"
                       "ADhgGAWjR9awAAAABJRU5ErkJggg==")


def images_in(pdf: bytes) -> int:
    return pdf.count(b"/Subtype /Image")


def test_only_data_urls_and_own_static_files_are_loaded(tmp_path: Path) -> None:
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *_args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    elsewhere = tmp_path / "secret.png"
    elsewhere.write_bytes(PNG)
    try:
        refused = pdf_of_html(
            f'<img src="http://127.0.0.1:{server.server_port}/x.png">'
            f'<img src="{elsewhere.as_uri()}">'
            '<img src="file:///etc/passwd">'
            '<link rel="stylesheet" href="file:///etc/passwd">'
            f'<img src="{(STATIC_DIR / ".." / ".." / "pyproject.toml").as_posix()}">')
    finally:
        server.shutdown()
    assert requests == []
    assert images_in(refused) == 0
    data = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert images_in(pdf_of_html(f'<img src="{data}">')) > 0
    # the app's own static files load (relative to the static folder, or by file URL)
    missing = len(pdf_of_html('<img src="no-such-file.svg">'))
    assert len(pdf_of_html('<img src="favicon.svg">')) > missing
    assert len(pdf_of_html(f'<img src="{(STATIC_DIR / "favicon.svg").as_uri()}">')) > missing
