#!/usr/bin/env python3
# Every fault kind, observed on the wire, and the fault selectors.
import http.client
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandboxlib import Sandbox, main


def raw_get(s, path, token):
    """GET over a plain socket; returns (head, body bytes, closed_by_server)."""
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=20)
    sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nX-Access-Token: %s\r\nConnection: close\r\n\r\n" % (path, token)).encode())
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


def content_length(head):
    for line in head.split("\r\n"):
        if line.lower().startswith("content-length:"):
            return int(line.split(":")[1])
    return None


def body(t):
    s = Sandbox("--orgs", "2", "--invoices", "300", "--contacts", "30", "--bills", "20")
    tok2 = s.orgs[1]["token"]

    def fault(**f):
        return s.control("POST", "faults", f)["faults"][0]

    # reset: headers announce the full length, then the connection drops
    fault(kind="reset", after_bytes=100, path="/v2/invoices", count=1)
    head, body_ = raw_get(s, "/v2/invoices?pageSize=50", s.token)
    full = content_length(head)
    t.ok(head.startswith("HTTP/1.1 200") and full and full > 1000 and len(body_) == 100,
         "reset: 200 with Content-Length %s, connection dropped after 100 body bytes (got %d)" % (full, len(body_)))
    fault(kind="reset", after_bytes=10, path="/v2/invoices", count=1)
    try:
        r = s.get("/v2/invoices?pageSize=50")
        t.ok(False, "reset is an error for an HTTP client", r.status)
    except http.client.IncompleteRead:
        t.ok(True, "reset is an error for an HTTP client (IncompleteRead)")

    # truncate: a complete response whose body is cut short
    fault(kind="truncate", after_bytes=57, count=1)
    head, body_ = raw_get(s, "/v2/invoices?pageSize=50", s.token)
    t.ok(content_length(head) == 57 and len(body_) == 57, "truncate: Content-Length matches the 57-byte cut body")
    try:
        json.loads(body_)
        t.ok(False, "truncated body is not valid JSON")
    except ValueError:
        t.ok(True, "truncated body is not valid JSON")

    # invalid_json
    fault(kind="invalid_json", count=1)
    r = s.get("/v2/contacts")
    try:
        json.loads(r.body)
        t.ok(False, "invalid_json: 200 with a body that is not JSON")
    except ValueError:
        t.ok(r.status == 200 and len(r.body) > 0, "invalid_json: 200 with a body that is not JSON")

    # latency, fixed and jittered, without blocking other requests
    fault(kind="latency", ms=600, path="/v2/invoices", count=4)
    results = []

    def slow_call():
        t0 = time.time()
        r = s.get("/v2/invoices?pageSize=1")
        results.append((r.status, time.time() - t0))
    threads = [threading.Thread(target=slow_call) for _ in range(4)]
    for th in threads:
        th.start()
    time.sleep(0.1)
    t0 = time.time()
    r = s.get("/v2/contacts?pageSize=1")
    fast = time.time() - t0
    for th in threads:
        th.join()
    t.ok(all(st == 200 and 0.55 <= dt < 3 for st, dt in results) and len(results) == 4,
         "latency 600 ms on four concurrent requests", results)
    t.ok(r.status == 200 and fast < 0.3, "a delayed request does not hold a worker thread (other request took %.3f s)" % fast)
    fault(kind="latency", ms=100, jitter_ms=200, count=5)
    times = []
    for _ in range(5):
        t0 = time.time()
        s.get("/v2/taxRates")
        times.append(time.time() - t0)
    t.ok(all(0.09 <= x < 1.0 for x in times), "latency with jitter: 100..300 ms", times)

    # slow body, paced, complete, other requests unaffected
    fault(kind="slow_body", bytes_per_sec=4000, path="/v2/invoices", count=1)
    out = {}

    def slow_body():
        t0 = time.time()
        r = s.get("/v2/invoices?pageSize=5")
        out["len"] = len(r.body)
        out["dt"] = time.time() - t0
        out["json"] = r.json()
    th = threading.Thread(target=slow_body)
    th.start()
    time.sleep(0.2)
    t0 = time.time()
    s.get("/v2/contacts?pageSize=1")
    fast = time.time() - t0
    th.join()
    expect = out["len"] / 4000.0
    t.ok(out["dt"] >= expect * 0.8 and out["dt"] < expect * 2 + 1 and len(out["json"]["invoices"]) == 5,
         "slow_body: %d bytes at 4000 B/s took %.2f s and arrived whole" % (out["len"], out["dt"]))
    t.ok(fast < 0.3, "a slow body does not block other requests (%.3f s)" % fast)

    # status with probability
    fault(kind="status", status=503, probability=0.5, path="/v2/accounts", count=400)
    codes = [s.get("/v2/accounts?pageSize=1").status for _ in range(200)]
    n503 = codes.count(503)
    t.ok(40 < n503 < 160 and codes.count(200) == 200 - n503, "status 503 with probability 0.5: %d of 200" % n503)
    s.control("DELETE", "faults")

    # revoke_token for one organization only
    fault(kind="revoke_token", org=s.org_id)
    r = s.get("/v2/organization")
    t.ok(r.status == 401 and r.json()["errorCode"] == "OAUTH_INVALID_ACCESS_TOKEN", "revoke_token: 401 for that org's token")
    t.is_(s.get("/v2/organization", token=tok2).status, 200, "revoke_token: other organizations unaffected")
    s.control("DELETE", "faults")
    t.is_(s.get("/v2/organization").status, 200, "cleared: the token works again")

    # drop_after_write: stored, but no response
    fault(kind="drop_after_write", path="/v2/contacts")
    t.is_(s.get("/v2/contacts?pageSize=1").status, 200, "drop_after_write leaves reads alone")
    try:
        r = s.request("POST", "/v2/contacts", body={"contact": {"name": "Uvished ApS", "countryId": "DK"}})
        t.ok(False, "drop_after_write: connection closed without a response", r.status)
    except (http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine):
        t.ok(True, "drop_after_write: connection closed without a response")
    s.control("POST", "faults", {"clear": True})
    found = s.api("GET", "/contacts?q=uvished")["contacts"]
    t.ok(len(found) == 1 and found[0]["name"] == "Uvished ApS", "drop_after_write: the write was stored")

    # a write held back by latency whose client hangs up is still processed
    # when the delay ends, as Billy finishes a request it received
    fault(kind="latency", ms=800, path="/v2/contacts", method="POST", count=1)
    try:
        s.request("POST", "/v2/contacts", body={"contact": {"name": "Forladt ApS", "countryId": "DK"}}, timeout=0.2)
        t.ok(False, "latency: the client gives up first")
    except (socket.timeout, TimeoutError):
        t.ok(True, "latency: the client gives up first")
    t.is_(len(s.api("GET", "/contacts?q=forladt")["contacts"]), 0, "the abandoned write is not stored before its delay ends")
    time.sleep(1.2)
    found = s.api("GET", "/contacts?q=forladt")["contacts"]
    t.ok(len(found) == 1 and found[0]["name"] == "Forladt ApS", "and is stored when it ends, once", found)

    # selectors: path, method, skip, count, org; listing and clearing
    s.control("POST", "faults", {"faults": [
        {"kind": "status", "status": 500, "path": "/v2/bills", "method": "GET", "skip": 2, "count": 2},
        {"kind": "status", "status": 502, "org": s.orgs[1]["id"], "count": 1}]})
    listed = s.control("GET", "faults")["faults"]
    t.ok(len(listed) == 2 and listed[0]["remaining"] == 2 and listed[0]["skip"] == 2 and listed[1]["org"] == s.orgs[1]["id"],
         "GET /_sandbox/faults lists active faults with remaining counts")
    seq = [s.get("/v2/bills?pageSize=1").status for _ in range(5)]
    t.is_(seq, [200, 200, 500, 500, 200], "skip lets the first 2 through, count applies to the next 2")
    t.is_(s.get("/v2/invoices?pageSize=1").status, 200, "a path-scoped fault leaves other paths alone")
    t.is_(s.get("/v2/invoices?pageSize=1", token=tok2).status, 502, "an org-scoped fault hits that organization")
    t.is_(s.get("/v2/invoices?pageSize=1", token=tok2).status, 200, "... once (count 1)")
    t.is_(s.control("GET", "faults")["faults"], [], "spent faults disappear from the list")
    s.control("POST", "faults", {"kind": "status", "status": 503, "method": "POST"})
    t.is_(s.get("/v2/bills?pageSize=1").status, 200, "a method-scoped fault leaves GET alone")
    t.is_(s.request("POST", "/v2/contacts", body={"contact": {"name": "Z", "countryId": "DK"}}).status, 503,
          "... and hits POST (not processed)")
    t.is_(s.api("GET", "/contacts?q=z&pageSize=1000")["meta"]["paging"]["total"],
          len([c for c in s.list_all("contacts") if "z" in c["name"].lower() or "z" in (c["street"] or "").lower()
               or "z" in (c["cityText"] or "").lower()]), "(the 503'd contact was not created)")
    s.control("DELETE", "faults")
    t.is_(s.control("GET", "faults")["faults"], [], "DELETE /_sandbox/faults clears all")
    r = s.request("POST", "/_sandbox/faults", body={"kind": "meteor"}, auth=False)
    t.is_(r.status, 422, "an unknown fault kind is a 422")
    r = s.request("POST", "/_sandbox/faults", body={"kind": "status", "status": 418}, auth=False)
    t.is_(r.status, 422, "an unsupported status is a 422")
    r = s.request("POST", "/_sandbox/faults", body={"faults": [{"kind": "latency", "ms": 5}, {"kind": "bogus"}]}, auth=False)
    t.ok(r.status == 422 and s.control("GET", "faults")["faults"] == [], "a batch with a bad fault adds none")

    # shutting down with delayed and slow responses in flight
    s.control("POST", "faults", {"faults": [{"kind": "latency", "ms": 20000, "path": "/v2/contacts"},
                                            {"kind": "slow_body", "bytes_per_sec": 10, "path": "/v2/invoices"}]})
    def call(path):
        try:
            s.get(path, timeout=60)
        except Exception:
            pass
    hung = [threading.Thread(target=call, args=(p,), daemon=True) for p in ("/v2/contacts", "/v2/invoices?pageSize=50")]
    for th in hung:
        th.start()
    time.sleep(0.5)
    t0 = time.time()
    rc = s.stop()
    t.ok(rc == 0 and time.time() - t0 < 5, "SIGTERM with a suspended and a slow response in flight: exit 0 in %.2f s" % (time.time() - t0))


main(body)
