"""A local stand-in for Segment's API (bench helper for bench/drain.py).

    python bench/segment_sink.py

Accepts ``POST /v1/batch``, decodes the JSON body, counts its events and
bytes, answers ``200 {}``; ``GET /count`` returns ``{"events": n, "bytes":
b, "requests": r}`` and ``POST /reset`` zeroes them. A threading server,
like the fake Dengage data center, in its own process. Prints its URL first.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
counts = {"events": 0, "bytes": 0, "requests": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        pass

    def _answer(self, payload):
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            snapshot = dict(counts)
        self._answer(snapshot)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/reset":
            with lock:
                counts.update(events=0, bytes=0, requests=0)
        elif self.path == "/v1/batch":
            events = len(json.loads(body)["batch"])
            with lock:
                counts["events"] += events
                counts["bytes"] += len(body)
                counts["requests"] += 1
        self._answer({})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"segment sink on http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
