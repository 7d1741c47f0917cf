"""A tiny webhook receiver for CI: verifies every delivery with the reference
`standardwebhooks` library and appends one line per delivery to a result file."""

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks import Webhook

PORT, SECRET, OUT = int(sys.argv[1]), sys.argv[2], sys.argv[3]
HOOK = Webhook(SECRET)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            event = HOOK.verify(body, headers)
            line, status = f"verified {headers['webhook-id']} {event['type']}", 204
        except Exception as e:  # any failure is the finding
            line, status = f"FAILED {e!r}", 400
        with open(OUT, "a") as f:
            f.write(line + "\n")
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
