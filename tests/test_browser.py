"""The browser the tests drive is real: a page served on loopback renders and runs its script."""

from __future__ import annotations

import http.server
import threading


def test_chromium_renders_a_loopback_page_and_runs_its_script(page) -> None:
    body = b"<!doctype html><title>t</title><p id=x>before</p><script>x.textContent='after'</script>"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body if self.path == "/" else b"")

        def log_message(self, *a) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        assert page.inner_text("#x") == "after"
    finally:
        server.shutdown()
