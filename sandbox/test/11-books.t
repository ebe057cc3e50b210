#!/usr/bin/env python3
# The books: every transaction balances; receivables, payables and the VAT
# accounts hold what the documents imply (computed here independently from
# the documents with Decimal); every bank payment has its matched statement
# line; postings follow writes (pay, void, approve); journal entries, bank
# line matching, files and attachments through the write API.
import os
import sys
from collections import defaultdict
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandboxlib import Sandbox, main, money, round2

RC = {"UV25": "goods", "UY25": "services", "UYX25": "services"}


def dkk(x, rate):
    return round2(Decimal(x) * Decimal(str(rate)))


def signed(p):
    return money(p["amount"]) if p["side"] == "debit" else -money(p["amount"])


def balances(s):
    """Every account's postings: debit minus credit, by account number."""
    accounts = {a["id"]: a["accountNo"] for a in s.list_all("accounts")}
    out = defaultdict(Decimal)
    for p in s.list_all("postings"):
        out[accounts[p["accountId"]]] += signed(p)
    return out


def implied(s):
    """What the documents imply for receivables, payables and the VAT accounts."""
    rates = {}
    for r in s.list_all("taxRates"):
        comps = r["deductionComponents"] or []
        rates[r["id"]] = (r["abbreviation"], Decimal(str(r["rate"])),
                          Decimal(str(comps[0]["share"])) if comps else Decimal(0))
    want = defaultdict(Decimal)
    for v in s.list_all("invoices"):
        if v["state"] != "approved":
            continue
        sg = 1 if v["type"] == "invoice" else -1
        want[5710] += sg * dkk(money(v["balance"]), v["exchangeRate"])
        want[6900] -= sg * dkk(money(v["tax"]), v["exchangeRate"])
    for b in s.list_all("bills", "include=bill.lines:embed"):
        if b["state"] != "approved":
            continue
        sg = 1 if b["type"] == "bill" else -1
        want[6810] -= sg * dkk(money(b["balance"]), b["exchangeRate"])
        plain = [ln for ln in b["lines"] if rates[ln["taxRateId"]][0] not in RC]
        full = all(rates[ln["taxRateId"]][2] == 1 for ln in plain if money(ln["tax"]) != 0)
        ded = money(b["tax"]) if full else sum((round2(money(ln["tax"]) * rates[ln["taxRateId"]][2])
                                                for ln in plain), Decimal(0))
        # reverse charge: 25% of the line's net in DKK, as the VAT return computes it
        goods = services = rc_ded = Decimal(0)
        for ln in b["lines"]:
            abbr, rate, share = rates[ln["taxRateId"]]
            if abbr in RC:
                acq = round2(dkk(money(ln["amount"]), b["exchangeRate"]) * rate)
                rc_ded += round2(acq * share)
                if RC[abbr] == "goods":
                    goods += acq
                else:
                    services += acq
        want[6910] += sg * (dkk(ded, b["exchangeRate"]) + rc_ded)
        want[6920] -= sg * goods
        want[6930] -= sg * services
    return want


def check_books(t, s, name):
    txns = s.list_all("transactions", "include=transaction.postings:embed")
    bad = [x["id"] for x in txns if len(x["postings"]) < 2 or sum(map(signed, x["postings"])) != 0]
    t.ok(txns and not bad, "%s: every transaction (%d) balances to 0 with 2+ postings" % (name, len(txns)), bad[:5])
    got, want = balances(s), implied(s)
    for no, what in [(5710, "receivables = sign x DKK of approved invoices' balances"),
                     (6810, "payables = sign x DKK of approved bills' balances"),
                     (6900, "output VAT = the VAT of approved invoices and credit notes"),
                     (6910, "input VAT = the deductible VAT of approved bills (reverse charge included)"),
                     (6920, "VAT on EU goods bought = 25% of reverse-charge goods lines"),
                     (6930, "VAT on services bought abroad = 25% of reverse-charge service lines")]:
        t.is_(got[no], want[no], "%s: account %d %s" % (name, no, what))
    t.is_(sum(got.values(), Decimal(0)), Decimal(0), "%s: the trial balance sums to 0" % name)
    return got


def body(t):
    s = Sandbox("--invoices", "700", "--contacts", "60", "--products", "30", "--bills", "160")
    got = check_books(t, s, "generated")
    t.ok(got[6920] != 0 and got[6930] != 0 and got[4350] != 0,
         "the generated books use reverse charge and have currency differences",
         (got[6920], got[6930], got[4350]))

    # account groups: every account has one, of its own nature, and the groups are ordered
    groups = {g["id"]: g for g in s.list_all("accountGroups")}
    accounts = s.list_all("accounts")
    bad = [a["accountNo"] for a in accounts
           if a["groupId"] not in groups or groups[a["groupId"]]["natureId"] != a["natureId"]]
    t.ok(len(groups) == 14 and not bad, "every account has an account group of its nature", bad[:5])
    t.is_(sorted(g["priority"] for g in groups.values()), list(range(1, 15)), "account groups are ordered by priority")
    one = next(iter(groups.values()))
    t.is_(s.api("GET", "/accountGroups/" + one["id"])["accountGroup"], one, "GET /accountGroups/:id = its list entry")

    # every approved document and live payment is the originator of one live transaction
    txns = s.list_all("transactions")
    live = defaultdict(int)
    for x in txns:
        if not x["isVoided"] and not x["isVoid"]:
            live[x["originatorReference"]] += 1
    missing = [("invoice:" + v["id"]) for v in s.list_all("invoices")
               if v["state"] == "approved" and money(v["grossAmount"]) != 0 and live["invoice:" + v["id"]] < 1]
    missing += [("bankPayment:" + p["id"]) for p in s.list_all("bankPayments")
                if not p["isVoided"] and live["bankPayment:" + p["id"]] != 1]
    t.ok(not missing, "every approved invoice and live payment has its transaction", missing[:5])
    voided = [v for v in s.list_all("invoices") if v["state"] == "voided"]
    rev = [x for x in txns if x["isVoid"]]
    t.ok(voided and len(rev) >= len(voided), "voided invoices are booked and reversed (isVoid transactions)")
    t.is_(len(s.api("GET", "/transactions?originatorReference=invoice:" + voided[0]["id"])["transactions"]), 2,
          "originatorReference filter: a voided invoice has its transaction and the voiding one")

    # the statement: each live payment has exactly one matched line with its amount and side
    accts = {a["accountNo"]: a["id"] for a in s.list_all("accounts")}
    lines = s.list_all("bankLines", "accountId=" + accts[5810]) + s.list_all("bankLines", "accountId=" + accts[5820])
    subjects = {a["id"]: a for a in s.list_all("bankLineSubjectAssociations")}
    matches = s.list_all("bankLineMatches", "include=bankLineMatch.lines:embed,bankLineMatch.subjectAssociations:embed")
    by_payment = defaultdict(list)
    for m in matches:
        for sa in m["subjectAssociations"]:
            by_payment[sa["subjectReference"]].append(m)
    bad = []
    for p in s.list_all("bankPayments"):
        ms = by_payment["bankPayment:" + p["id"]]
        if p["isVoided"]:
            continue
        if len(ms) != 1 or len(ms[0]["lines"]) != 1:
            bad.append(p["id"])
            continue
        ln = ms[0]["lines"][0]
        if (money(ln["amount"]) != money(p["cashAmount"]) or ln["side"] != p["cashSide"] or
                ln["accountId"] != p["cashAccountId"] or not ln["isReconciled"]):
            bad.append(p["id"])
    t.ok(not bad, "every live bank payment has one matched statement line with its amount, side and account", bad[:5])
    t.ok(len(subjects) == len(matches), "one subject association per generated match")
    unmatched = [ln for ln in lines if ln["matchId"] is None]
    t.ok(len(unmatched) > 20 and all(not ln["isReconciled"] for ln in unmatched),
         "the statement has unmatched lines (%d: open invoices paid, fees, card purchases)" % len(unmatched))
    bankp = s.list_all("postings", "accountId=" + accts[5810])
    t.ok(bankp and all(p["isBankMatched"] for p in bankp), "every generated posting on the bank account is bank-matched")
    t.is_(sum(map(signed, bankp)), sum((money(ln["amount"]) if ln["side"] == "debit" else -money(ln["amount"])
                                        for ln in lines if ln["matchId"] and ln["accountId"] == accts[5810]), Decimal(0)),
          "the DKK bank account's postings = its matched statement lines")
    r = s.request("GET", "/v2/bankLines")
    t.is_((r.status, r.json()["validationErrors"]["bankLine"]["attributes"].get("accountId") is not None), (422, True),
          "bankLines without accountId is a 422 naming accountId (Billy requires it)")

    # writes: pay, void the payment, approve a draft, void an invoice -- the books follow
    inv = next(v for v in s.list_all("invoices", "state=approved&isPaid=false&currencyId=DKK")
               if v["type"] == "invoice")
    pay = s.api("POST", "/bankPayments", {"bankPayment": {
        "entryDate": "2025-06-30", "cashAmount": inv["balance"], "cashSide": "debit",
        "cashAccountId": accts[5810], "associations": [{"subjectReference": "invoice:" + inv["id"]}]}})
    t.ok(len(pay.get("transactions", [])) == 1 and len(pay.get("postings", [])) == 2,
         "a payment's answer carries its transaction and postings")
    check_books(t, s, "after a payment")
    s.api("PUT", "/bankPayments/" + pay["bankPayments"][0]["id"], {"bankPayment": {"isVoided": True}})
    check_books(t, s, "after voiding it")
    draft = next(v for v in s.list_all("invoices", "state=draft"))
    r = s.api("PUT", "/invoices/" + draft["id"], {"invoice": {"state": "approved"}})
    t.ok(r.get("transactions"), "approving a draft books it")
    r = s.api("PUT", "/invoices/" + draft["id"], {"invoice": {"state": "voided"}})
    t.ok(any(x["isVoid"] for x in r.get("transactions", [])), "voiding it books the voiding transaction")
    bill = next(b for b in s.list_all("bills", "state=approved&isPaid=false&currencyId=DKK"))
    s.api("POST", "/bankPayments", {"bankPayment": {
        "entryDate": "2025-06-30", "cashAmount": bill["balance"], "cashSide": "credit",
        "cashAccountId": accts[5810], "associations": [{"subjectReference": "bill:" + bill["id"]}]}})
    s.control("POST", "mutate", {"n": 25})
    check_books(t, s, "after writes and 25 mutations")

    # journal entries: VAT per line, balanced before they book
    dbk = s.list_all("daybooks")[0]["id"]
    r = s.request("POST", "/v2/daybookTransactions", {"daybookTransaction": {
        "daybookId": dbk, "entryDate": "2025-06-20", "description": "Kontantsalg", "state": "approved",
        "lines": [{"accountNo": 5830, "side": "debit", "amount": 1250},
                  {"accountNo": 1110, "side": "credit", "amount": 1000, "taxRateId": None}]}})
    t.is_((r.status, "does not balance" in r.json().get("errorMessage", "")), (422, True),
          "an unbalanced journal entry is a 422 that says so")
    t.is_(len(s.list_all("daybookTransactions", "state=draft")), 0, "and nothing was stored")
    s25 = next(x["id"] for x in s.list_all("taxRates") if x["abbreviation"] == "S25")
    before = balances(s)
    r = s.api("POST", "/daybookTransactions", {"daybookTransaction": {
        "daybookId": dbk, "entryDate": "2025-06-20", "description": "Kontantsalg", "state": "approved",
        "lines": [{"accountNo": 1110, "side": "credit", "amount": 1250, "taxRateId": s25,
                   "contraAccountId": accts[5830], "text": "Salg"}]}})
    dbt = r["daybookTransactions"][0]
    t.is_((dbt["state"], dbt["voucherNo"] is not None, len(r["postings"])), ("approved", True, 3),
          "an approved journal entry books a transaction (cash, sales, VAT)")
    after = balances(s)
    t.is_((after[5830] - before[5830], after[1110] - before[1110], after[6900] - before[6900]),
          (Decimal("1250.00"), Decimal("-1000.00"), Decimal("-250.00")),
          "1,250.00 gross at 25%: cash +1,250, sales -1,000, output VAT -250 (by hand)")
    lines_ = s.api("GET", "/daybookTransactionLines?daybookTransactionId=" + dbt["id"])["daybookTransactionLines"]
    t.is_([(ln["side"], money(ln["amount"]), ln["contraAccountId"]) for ln in lines_],
          [("credit", Decimal("1250.00"), accts[5830])], "its lines as entered")
    r = s.api("PUT", "/daybookTransactions/" + dbt["id"], {"daybookTransaction": {"state": "voided"}})
    t.ok(any(x["isVoid"] for x in r["transactions"]), "voiding a journal entry books the voiding transaction")
    t.is_(balances(s)[6900], before[6900], "and its VAT is gone again")
    d = s.api("POST", "/daybookTransactions", {"daybookTransaction": {
        "entryDate": "2025-06-21", "lines": [{"accountNo": 2210, "side": "debit", "amount": 10}]}})
    did = d["daybookTransactions"][0]["id"]
    r = s.request("PUT", "/v2/daybookTransactions/" + did, {"daybookTransaction": {"state": "approved"}})
    t.is_(r.status, 422, "approving an unbalanced draft is a 422")
    r = s.api("DELETE", "/daybookTransactions/" + did)
    t.is_(r["meta"]["deletedRecords"]["daybookTransactions"], [did], "a draft journal entry can be deleted")

    # a journal entry in euro: booked in DKK at the euro's rate of the entry
    # date (7.4503 on 2027-04-14), 1,234.56 EUR -> 9,197.84 DKK (9,197.8376),
    # K25's VAT split off in DKK: 9,197.84 / 5 = 1,839.57; each line's postings
    # under its priority; the lines balance per currency
    k25 = next(x["id"] for x in s.list_all("taxRates") if x["abbreviation"] == "K25")
    r = s.request("POST", "/v2/daybookTransactions", {"daybookTransaction": {
        "entryDate": "2027-04-14", "state": "approved",
        "lines": [{"accountNo": 2750, "side": "debit", "amount": 100, "currencyId": "EUR"},
                  {"accountNo": 5820, "side": "credit", "amount": 90, "currencyId": "EUR"},
                  {"accountNo": 5810, "side": "credit", "amount": 10}, {"accountNo": 2750, "side": "debit", "amount": 10}]}})
    t.is_((r.status, r.json().get("errorMessage", "")), (422, "The journal entry does not balance in EUR: debits 100, credits 90."),
          "lines balanced in DKK but not in EUR: a 422 naming the currency")
    r = s.api("POST", "/daybookTransactions", {"daybookTransaction": {
        "entryDate": "2027-04-14", "state": "approved",
        "lines": [{"accountNo": 2750, "side": "debit", "amount": 1234.56, "taxRateId": k25, "currencyId": "EUR"},
                  {"accountNo": 5820, "side": "credit", "amount": 1234.56, "currencyId": "EUR"}]}})
    nos = {a["id"]: a["accountNo"] for a in s.list_all("accounts")}
    t.is_(sorted((p["priority"], nos[p["accountId"]], signed(p)) for p in r["postings"]),
          [(0, 2750, Decimal("7358.27")), (0, 6910, Decimal("1839.57")), (1, 5820, Decimal("-9197.84"))],
          "a euro entry's postings: in DKK at 7.4503, each line's under its priority")
    t.is_([ln["currencyId"] for ln in s.api("GET", "/daybookTransactionLines?daybookTransactionId="
                                            + r["daybookTransactions"][0]["id"])["daybookTransactionLines"]],
          ["EUR", "EUR"], "its lines keep their currency")
    s.api("PUT", "/daybookTransactions/" + r["daybookTransactions"][0]["id"], {"daybookTransaction": {"state": "voided"}})

    # bank reconciliation: a statement line matched to an open invoice makes its payment
    inv = next(v for v in s.list_all("invoices", "state=approved&isPaid=false&currencyId=DKK")
               if v["type"] == "invoice")
    bl = s.api("POST", "/bankLines", {"bankLine": {"accountId": accts[5810], "entryDate": "2025-06-29",
                                                   "description": "Indbetaling fak. " + inv["invoiceNo"],
                                                   "amount": inv["balance"], "side": "debit"}})["bankLines"][0]
    m = s.api("POST", "/bankLineMatches", {"bankLineMatch": {
        "lineIds": [bl["id"]], "subjectAssociations": [{"subjectReference": "invoice:" + inv["id"]}]}})
    t.ok(m["bankLineMatches"][0]["isApproved"] and m.get("bankPayments"), "matching to an invoice makes a bank payment")
    t.is_(s.api("GET", "/invoices/" + inv["id"])["invoice"]["isPaid"], True, "the invoice is paid")
    t.is_(s.api("GET", "/bankLines/" + bl["id"])["bankLine"]["isReconciled"], True, "the line is reconciled")
    pid = m["bankPayments"][0]["id"]
    posting = [p for p in s.list_all("postings", "accountId=" + accts[5810]) if p["text"].startswith("Bank payment")
               and p["transactionId"] in {x["id"] for x in m["transactions"]}]
    t.ok(posting and posting[0]["isBankMatched"], "its bank posting is bank-matched")
    r = s.request("POST", "/v2/bankLineMatches", {"bankLineMatch": {
        "lineIds": [bl["id"]], "subjectAssociations": [{"subjectReference": "invoice:" + inv["id"]}]}})
    t.is_(r.status, 422, "a matched line cannot be matched again")
    r = s.api("DELETE", "/bankLineMatches/" + m["bankLineMatches"][0]["id"])
    t.is_(r["meta"]["deletedRecords"]["bankLineMatches"], [m["bankLineMatches"][0]["id"]], "unmatch deletes the match")
    t.is_((s.api("GET", "/bankPayments/" + pid)["bankPayment"]["isVoided"],
           s.api("GET", "/invoices/" + inv["id"])["invoice"]["isPaid"],
           s.api("GET", "/bankLines/" + bl["id"])["bankLine"]["matchId"]), (True, False, None),
          "unmatching voids the payment it made; the invoice is open and the line unmatched again")
    check_books(t, s, "after matching and unmatching")

    # files: PDFs and images only; bytes as uploaded; attachments
    pdf = b"%PDF-1.4\n% receipt\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
    r = s.request("POST", "/v2/files", raw=pdf, headers={"Content-Type": "application/pdf", "X-Filename": "kvit.pdf"})
    t.is_(r.status, 200, "a PDF uploads")
    f = r.json()["files"][0]
    t.is_((f["fileName"], f["fileSize"], f["isPdf"], f["fileType"]), ("kvit.pdf", len(pdf), True, "application/pdf"),
          "its metadata")
    got = s.request("GET", "/v2/files/%s/download" % f["id"])
    t.is_((got.status, got.body, got.header("Content-Type")), (200, pdf, "application/pdf"),
          "downloadUrl's route gives the bytes back")
    r = s.request("POST", "/v2/files", raw=b"hello", headers={"Content-Type": "text/plain", "X-Filename": "a.txt"})
    t.is_(r.status, 422, "a text file is refused (PDFs and images only)")
    r = s.request("POST", "/v2/files", raw=b"hello", headers={"Content-Type": "application/pdf"})
    t.is_(r.status, 422, "bytes that are not a PDF are refused even when labelled one")
    a = s.api("POST", "/attachments", {"attachment": {"ownerReference": "bill:" + bill["id"], "fileId": f["id"]}})
    t.is_(a["attachments"][0]["ownerReference"], "bill:" + bill["id"], "a file attaches to a bill")
    att = s.api("GET", "/attachments?ownerReference=bill:" + bill["id"])["attachments"]
    t.ok(f["id"] in [x["fileId"] for x in att], "attachments?ownerReference lists it")
    gen = s.list_all("attachments")
    some = s.api("GET", "/files/" + gen[0]["fileId"])["file"]
    body_ = s.request("GET", "/v2/files/%s/download" % some["id"]).body
    t.ok(body_.startswith(b"%PDF-") and len(body_) == some["fileSize"], "generated receipts download as PDFs of fileSize")
    t.ok(len(gen) > 100, "most bills have a receipt attached (%d attachments)" % len(gen))
    r = s.api("DELETE", "/attachments/" + a["attachments"][0]["id"])
    t.is_(r["meta"]["deletedRecords"]["attachments"], [a["attachments"][0]["id"]], "an attachment can be removed")


main(body)
