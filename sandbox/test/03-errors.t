#!/usr/bin/env python3
# Error bodies exactly as spec §2, and the order in which checks apply.
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandboxlib import Sandbox, main

DT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")


def body(t):
    s = Sandbox("--invoices", "60", "--contacts", "20", "--bills", "10")

    def envelope(r, status, code, msg=None, name=""):
        try:
            d = r.json()
        except Exception:
            return t.ok(False, name, r.body[:200])
        ok = (r.status == status and d.get("meta") == {"statusCode": status, "success": False} and
              d.get("errorCode") == code and isinstance(d.get("errorMessage"), str) and d["errorMessage"] and
              DT.match(d.get("errorTime", "")) and d.get("helpUrl") == "https://www.billy.dk/support/" and
              (msg is None or d["errorMessage"] == msg) and
              (r.header("Content-Type") or "").startswith("application/json"))
        return t.ok(ok, name or "%d %s" % (status, code), "%d %s" % (r.status, r.body[:300]))

    envelope(s.get("/v2/invoices", auth=False), 401, "AUTHENTICATION_REQUIRED",
             "You must use Basic auth or an OAuth access token to make requests to the API.",
             "no token: 401 AUTHENTICATION_REQUIRED")
    envelope(s.get("/v2/invoices", token="0" * 40), 401, "OAUTH_INVALID_ACCESS_TOKEN", "Invalid OAuth 2 access token.",
             "bad token: 401 OAUTH_INVALID_ACCESS_TOKEN")
    envelope(s.request("POST", "/v2/invoices", auth=False), 400, "INVALID_REQUEST_BODY", None,
             "POST without a body: 400 INVALID_REQUEST_BODY, checked before auth")
    envelope(s.request("POST", "/v2/invoices", raw="[1,2]"), 400, "INVALID_REQUEST_BODY", None,
             "a JSON array body: 400")
    envelope(s.request("PUT", "/v2/contacts/x", raw="{not json", auth=False), 400, "INVALID_REQUEST_BODY", None,
             "malformed JSON: 400, before auth")
    envelope(s.get("/v2/user/organizations", auth=False), 404, "UNKNOWN_RESOURCE", None,
             "unknown route: 404 UNKNOWN_RESOURCE, before auth")
    envelope(s.get("/v2/noSuchThings"), 404, "UNKNOWN_RESOURCE", None, "unknown resource name: 404")
    envelope(s.get("/favicon.ico"), 404, "UNKNOWN_RESOURCE", None, "a path outside /v2: 404")
    envelope(s.get("/v2/invoices/abc/def"), 404, "UNKNOWN_RESOURCE", None, "unknown sub-route: 404")
    envelope(s.request("POST", "/v2/nothing", raw="garbage"), 404, "UNKNOWN_RESOURCE", None,
             "unknown route wins over a bad body")
    envelope(s.get("/v2/invoices/AAAAAAAAAAAAAAAAAAAAAA"), 404, "RECORD_NOT_FOUND", None, "unknown id: 404 RECORD_NOT_FOUND")
    contact = s.get("/v2/contacts?pageSize=1").json()["contacts"][0]["id"]
    envelope(s.get("/v2/invoices/" + contact), 404, "RECORD_NOT_FOUND", None, "an id of another kind: 404")
    pay = s.get("/v2/bankPayments?pageSize=1").json()["bankPayments"][0]["id"]
    envelope(s.request("DELETE", "/v2/bankPayments/" + pay, auth=False), 405, "METHOD_NOT_ALLOWED", None,
             "DELETE a bank payment: 405 METHOD_NOT_ALLOWED, before auth")
    envelope(s.request("POST", "/v2/accounts", body={"account": {}}), 405, "METHOD_NOT_ALLOWED", None,
             "POST /v2/accounts: 405")
    envelope(s.request("PATCH", "/v2/invoices", body={"invoices": []}), 405, "METHOD_NOT_ALLOWED", None, "PATCH: 405")
    inv = s.get("/v2/invoices?state=approved&pageSize=1").json()["invoices"][0]
    envelope(s.get("/v2/invoices/%s/emails" % inv["id"]), 405, "METHOD_NOT_ALLOWED", None,
             "GET .../emails: 405 (POST only)")
    envelope(s.request("PUT", "/v2/taxRates/x", raw="nope"), 405, "METHOD_NOT_ALLOWED", None,
             "a closed method wins over a bad body")
    envelope(s.request("DELETE", "/v2/invoices"), 400, "INVALID_DELETE_ID_ARRAY", None,
             "collection DELETE without ids[]: 400 INVALID_DELETE_ID_ARRAY")

    # 422 with validationErrors keyed by resource name, or by _clientId when sent
    r = s.request("POST", "/v2/invoices", body={"invoice": {"currencyId": "XXX"}})
    envelope(r, 422, "VALIDATION_ERROR", None, "invalid invoice: 422")
    ve = r.json().get("validationErrors", {})
    attrs = ve.get("invoice", {}).get("attributes", {})
    t.ok(set(ve) == {"invoice"} and {"contactId", "entryDate", "currencyId", "lines"} <= set(attrs) and
         isinstance(ve["invoice"].get("message"), str), "validationErrors keyed by resource, with attributes", ve)
    r = s.request("POST", "/v2/invoices", body={"invoice": {"_clientId": "c42", "contactId": contact,
                                                            "entryDate": "2025-06-01", "currencyId": "DKK",
                                                            "lines": [{"unitPrice": 10}]}})
    ve = r.json().get("validationErrors", {})
    t.ok(r.status == 422 and set(ve) == {"c42"} and "lines.0.productId" in ve["c42"]["attributes"],
         "validationErrors keyed by _clientId; line errors as lines.N.attribute", ve)
    r = s.request("DELETE", "/v2/invoices/" + inv["id"])
    envelope(r, 422, "VALIDATION_ERROR", None, "DELETE of an approved invoice: 422")
    t.ok("validationErrors" in r.json(), "business-rule 422s carry validationErrors too")
    r = s.request("POST", "/v2/invoices", body={"invoice": {"organizationId": "someoneElse"}})
    t.ok(r.status == 422 and "organizationId" in r.json()["validationErrors"]["invoice"]["attributes"],
         "organizationId of another organization in a body: 422")
    r = s.request("POST", "/v2/invoices", body={"nothing": {}})
    envelope(r, 422, "VALIDATION_ERROR", None, "a body without the singular root: 422")

    # 429 via the fault API, with Retry-After
    s.control("POST", "faults", {"kind": "status", "status": 429, "retry_after": 7, "count": 1})
    r = s.get("/v2/invoices?pageSize=1")
    envelope(r, 429, "TOO_MANY_REQUESTS", None, "429 TOO_MANY_REQUESTS envelope")
    t.is_(r.header("Retry-After"), "7", "429 carries Retry-After")
    for st, code in [(500, "INTERNAL_SERVER_ERROR"), (502, "BAD_GATEWAY"), (503, "SERVICE_UNAVAILABLE"),
                     (504, "GATEWAY_TIMEOUT")]:
        s.control("POST", "faults", {"kind": "status", "status": st, "count": 1})
        envelope(s.get("/v2/contacts?pageSize=1"), st, code, None, "%d %s envelope" % (st, code))
    t.is_(s.get("/v2/contacts?pageSize=1").status, 200, "count-limited faults expire")


main(body)
