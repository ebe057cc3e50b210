#!/usr/bin/env python3
# The books' read tools through billy-mcp-bridge on stdio, as a billy_mcp
# role that sees organization 1 only: list_reference answers every kind with
# the mirror's records (a ruleset with its rules, Billy's VAT returns newest
# first), list_transactions a transaction with exactly its postings and pages
# that do not overlap, list_journal_entries an entry with its lines and the
# transaction it booked; bad arguments get isError naming what to pass; the
# writer's tools are not listed for the reader; each tools/list entry stays
# within 500 characters.  (The SDK clients call each tool too, and write a
# journal entry end to end: test/mcp/cases.mjs.)
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcp_tap import Stdio, bridge_env, done, is_, login_role, ok, plan, psql  # noqa: E402

plan(16)

ROLE = "mcp_books_t"
drop = login_role(ROLE)
org = psql("SELECT billy_test.org(1)")
other = psql("SELECT billy.connect(billy_test.token(2))")
psql(f"SET client_min_messages = warning; SELECT count(*) FROM billy.sync_now('{org}')")

b = Stdio(bridge_env(ROLE))
b.call(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "tap", "version": "0"}})
b.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
calls = iter(range(1, 1000))


def call(name, args):
    r = b.call(next(calls), "tools/call", {"name": name, "arguments": args}, timeout=60)
    res = (r or {}).get("result", {})
    return res.get("structuredContent") if not res.get("isError") else {"error": res["content"][0]["text"]}


def ids(query):
    return sorted(x for x in psql(query).split("\n") if x)


tools = {t["name"]: t for t in b.call(next(calls), "tools/list")["result"]["tools"]}
ok({"list_reference", "list_transactions", "list_journal_entries"} <= tools.keys()
   and not {"create_journal_entry", "set_journal_entry_state"} & tools.keys(),
   "the reader sees the three read tools and not the journal entry writes")
sizes = {n: len(json.dumps(tools[n], ensure_ascii=False, separators=(",", ":"))) for n in ("list_reference", "list_transactions", "list_journal_entries")}
ok(all(v <= 500 for v in sizes.values()), "each of them is at most 500 characters in tools/list", sizes)

# list_reference: every kind, the mirror's records
tables = {"accountGroups": "account_groups", "currencies": "currencies", "daybooks": "daybooks",
          "salesTaxRulesets": "sales_tax_rulesets", "salesTaxReturns": "sales_tax_returns"}
is_(sorted(tools["list_reference"]["inputSchema"]["properties"]["kind"]["enum"]), sorted(tables),
    "list_reference's kinds are those five resources of the catalog")
bad = []
for kind, table in tables.items():
    r = call("list_reference", {"kind": kind})
    want = ids(f"SELECT id FROM billy.{table} WHERE organization_id = '{org}' AND deleted_at IS NULL")
    if not want or sorted(x["id"] for x in r.get("rows", [])) != want or r.get("total") != len(want):
        bad.append((kind, r, want))
ok(not bad, "list_reference: each kind gives exactly the mirror's records", bad)
r = call("list_reference", {"kind": "salesTaxRulesets"})
ruleset = next((x for x in r["rows"] if x.get("abbreviation") == "DK"), r["rows"][0])
is_(sorted(u["id"] for u in ruleset["rules"]),
    ids(f"SELECT id FROM billy.sales_tax_rules WHERE organization_id = '{org}' AND ruleset_id = '{ruleset['id']}'"),
    f"a ruleset ({ruleset.get('abbreviation')}) comes with exactly its rules")
r = call("list_reference", {"kind": "salesTaxReturns"})
is_([(x["period"], x["start_date"], x.get("is_settled")) for x in r["rows"][:2]],
    [tuple(line.split("|")[:2]) + (line.split("|")[2] == "t",) for line in psql(
        f"SELECT period, start_date, is_settled FROM billy.sales_tax_returns WHERE organization_id = '{org}' AND deleted_at IS NULL "
        "ORDER BY start_date DESC LIMIT 2").split("\n")],
    "Billy's VAT returns, newest first, with their period and whether they are settled")
r = call("list_reference", {"kind": "contacts"})
ok("must be one of" in r.get("error", "") and "salesTaxReturns" in r.get("error", ""),
   "a kind that is not one is refused, naming the kinds", r)

# list_transactions: one transaction, exactly its postings
tx, ref, no = psql(f"""SELECT t.id, t.originator_reference, t.transaction_no FROM billy.transactions t
                       WHERE t.organization_id = '{org}' AND t.originator_type = 'bill' ORDER BY t.transaction_no LIMIT 1""").split("|")
r = call("list_transactions", {"transaction": ref})
want = psql(f"""SELECT string_agg(concat_ws(' ', a.account_no, a.name) || '=' || p.signed_amount::float8, ',' ORDER BY p.signed_amount)
                FROM billy.postings p JOIN billy.accounts a ON a.organization_id = p.organization_id AND a.id = p.account_id
                WHERE p.organization_id = '{org}' AND p.transaction_id = '{tx}'""")
got = ",".join(f"{p['account']}={float(p['amount'])}" for p in sorted(r["transactions"][0]["postings"], key=lambda p: p["amount"])) \
    if r.get("total") == 1 else r
is_(got, want, f"list_transactions by what booked it ({ref}): the one transaction, with exactly its postings")
r = call("list_transactions", {"transaction": no})
ok(r.get("transactions") and any(t["id"] == tx for t in r["transactions"]) and "period" not in r
   and all(t["no"] == int(no) or t.get("voucher") == no for t in r["transactions"]),
   f"by its number ({no}), in any period: it, and any other whose voucher is that number", r)
r1 = call("list_transactions", {"period": "2026-Q1", "limit": 10})
r2 = call("list_transactions", {"period": "2026-Q1", "limit": 10, "offset": r1.get("next_offset", 0)})
want = int(psql(f"SELECT count(*) FROM billy.transactions WHERE organization_id = '{org}' AND deleted_at IS NULL "
                "AND entry_date BETWEEN '2026-01-01' AND '2026-03-31'"))
ok(r1.get("total") == want == r2.get("total") and r1.get("next_offset") == 10 and len(r2["transactions"]) == 10
   and not {t["id"] for t in r1["transactions"]} & {t["id"] for t in r2["transactions"]}
   and r1["transactions"][0]["date"] >= r2["transactions"][-1]["date"],
   f"2026-Q1 in pages of 10: total {want}, newest first, pages that do not overlap", (r1.get("total"), want))
r = call("list_transactions", {"account": "no such account"})
ok('unknown account "no such account"' in r.get("error", "") and "list_accounts" in r.get("error", ""),
   "an unknown account is an error that says where to find one", r)
r = call("list_transactions", {"transaction": "nope"})
ok('no transaction "nope"' in r.get("error", ""), "an unknown transaction is an error naming it", r)
r = call("list_transactions", {"organization": other})
ok("error" in r, "the role cannot read another organization's ledger", r)

# list_journal_entries
je, je_voucher = psql(f"""SELECT d.id, d.voucher_no FROM billy.daybook_transactions d WHERE d.organization_id = '{org}' AND d.state = 'approved'
                          ORDER BY d.entry_date DESC, d.id DESC LIMIT 1""").split("|")
r = call("list_journal_entries", {"journal_entry": je_voucher})
e = (r.get("journal_entries") or [{}])[0]
want_lines = psql(f"""SELECT string_agg(concat_ws(' ', a.account_no, a.name) || ' ' || l.side || ' ' || l.amount::float8, ',' ORDER BY l.priority, l.id)
                      FROM billy.daybook_transaction_lines l JOIN billy.accounts a ON a.organization_id = l.organization_id AND a.id = l.account_id
                      WHERE l.organization_id = '{org}' AND l.daybook_transaction_id = '{je}'""")
is_(",".join(f"{x['account']} {x['side']} {float(x['amount'])}" for x in e.get("lines", [])), want_lines,
    f"list_journal_entries by voucher {je_voucher}: its lines, account by number and name")
is_(e.get("transaction_no"), int(psql(f"SELECT transaction_no FROM billy.transactions WHERE organization_id = '{org}' "
                                      f"AND originator_reference = 'daybookTransaction:{je}'")),
    "and the number of the transaction it booked")
r = call("list_journal_entries", {"state": "approved", "period": "2026-Q1"})
is_(r.get("total"), int(psql(f"SELECT count(*) FROM billy.daybook_transactions WHERE organization_id = '{org}' AND deleted_at IS NULL "
                             "AND state = 'approved' AND entry_date BETWEEN '2026-01-01' AND '2026-03-31'")),
    "the approved entries of 2026-Q1: as many as the mirror has")

b.close()
drop()
done()
