#!/usr/bin/env python3
"""TAP test of dashboard_test.py's live checks, against a stand-in Prometheus
(a local HTTP server answering every query with one canned value).

The live checks run in the VM lab only, where a check that passes too easily
goes unnoticed: a panel of zeros once passed there as "returns data". Here
each answer is known, so each verdict is too.
"""
import http.server
import io
import json
import os
import sys
import threading
import urllib.parse
from contextlib import redirect_stdout

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_test  # noqa: E402

LABELS = {"__name__": "x", "instance": "node-1", "namespace": "shop", "pod": "web-0",
          "server": "nas", "export": "/data", "op": "read", "errno": "EIO", "reason": "missed_return"}


class StandIn(http.server.BaseHTTPRequestHandler):
    answer = "0"  # the value of the one series every query returns; None: an error

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/api/v1/series":
            body = {"status": "success", "data": [LABELS]}
        elif StandIn.answer is None:
            body = {"status": "error", "errorType": "bad_data", "error": "parse error"}
        else:
            body = {"status": "success", "data": {"resultType": "vector", "result": [
                {"metric": LABELS, "value": [1, StandIn.answer]}]}}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def verdicts(url, dash, answer):
    """{panel line: passed} from one run of the live checks."""
    StandIn.answer = answer
    out = io.StringIO()
    with redirect_stdout(out):
        dashboard_test.live_checks(dashboard_test.Tap(), dash, url, 1000)
    got = {}
    for line in out.getvalue().splitlines():
        if " - panel '" in line:
            got[line.split(" - ", 1)[1].split(" returns")[0]] = line.startswith("ok ")
    return got


def quiet(dash):
    return {"panel '%s' %s" % (p["title"], t["refId"])
            for p, t in dashboard_test.panel_targets(dash)
            if any(m in t["expr"] for m in dashboard_test.QUIET_METRICS)}


def main():
    with open(dashboard_test.JSON_PATH) as f:
        dash = json.load(f)
    server = http.server.HTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % server.server_port
    tap = dashboard_test.Tap()
    q = quiet(dash)
    tap.check(len(q) == 5, "five panel queries are over errors, lost events, retransmissions or "
              "major timeouts", repr(sorted(q)))

    got = verdicts(url, dash, "0")
    wrong = sorted(k for k, ok in got.items() if ok != (k in q))
    tap.check(got and not wrong, "all zeros: only the error and lost-event panels pass (%d queries)"
              % len(got), repr(wrong))
    got = verdicts(url, dash, "0.25")
    tap.check(got and all(got.values()), "a value above 0: every panel passes",
              repr(sorted(k for k, ok in got.items() if not ok)))
    for answer, text in (("NaN", "only NaN"), ("-0.5", "a negative value"), (None, "a query error")):
        got = verdicts(url, dash, answer)
        passed = sorted(k for k, ok in got.items() if ok and (answer in (None, "NaN") or k not in q))
        tap.check(got and not passed, "%s: the panels fail" % text, repr(passed))
    server.shutdown()
    print("%d passed, %d failed" % (tap.n - tap.failed, tap.failed))
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
