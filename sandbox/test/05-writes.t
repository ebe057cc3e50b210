#!/usr/bin/env python3
# Writes: invoices (create, update, approve, void, delete draft, e-mail),
# credit notes, contacts, products (deleting unused ones), bills, bank payments, the organization.
import os
import re
import sys
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandboxlib import Sandbox, main, money

DT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")


def body(t):
    s = Sandbox("--invoices", "200", "--contacts", "40", "--bills", "40")
    accounts = {a["accountNo"]: a["id"] for a in s.api("GET", "/accounts")["accounts"]}
    rates = {r["abbreviation"]: r["id"] for r in s.api("GET", "/taxRates")["taxRates"]}
    org_before = s.api("GET", "/organization")["organization"]

    # contacts with inline persons
    d = s.api("POST", "/contacts", {"contact": {"name": "Lysgården ApS", "countryId": "DK", "registrationNo": "29403473",
                                                "street": "Algade 3", "zipcodeText": "4000", "cityText": "Roskilde",
                                                "contactPersons": [{"name": "Mette Holm", "email": "mette@lysgaarden.dk"}]}})
    c = d["contacts"][0]
    t.ok(set(d) == {"meta", "contacts", "contactPersons"} and d["meta"]["success"] and c["name"] == "Lysgården ApS" and
         c["isCustomer"] is True and DT.match(c["createdTime"]), "POST /v2/contacts: plural roots, contact created")
    t.ok(len(d["contactPersons"]) == 1 and d["contactPersons"][0]["contactId"] == c["id"] and
         d["contactPersons"][0]["isPrimary"] is True, "inline contact person created (primary)")
    got = s.api("GET", "/contacts/%s?include=contact.contactPersons:embed" % c["id"])["contact"]
    t.is_(got["contactPersons"][0]["email"], "mette@lysgaarden.dk", "the person is stored")
    d = s.api("PUT", "/contacts/" + c["id"], {"contact": {"phone": "+45 11 22 33 44", "contactPersons": [
        {"name": "Bo Lund", "email": "bo@lysgaarden.dk"}, {"name": "Eva Dahl", "email": "eva@lysgaarden.dk", "isPrimary": True}]}})
    t.ok(d["contacts"][0]["phone"] == "+45 11 22 33 44" and d["contacts"][0]["name"] == "Lysgården ApS" and
         d["meta"]["deletedRecords"]["contactPersons"] == [got["contactPersons"][0]["id"]] and len(d["contactPersons"]) == 2,
         "PUT contact: partial update; persons replaced, old ones in meta.deletedRecords")
    r = s.request("POST", "/v2/contacts", body={"contact": {"name": "X", "countryId": "ZZ"}})
    t.is_(r.status, 422, "unknown countryId: 422")

    # products with inline prices
    d = s.api("POST", "/products", {"product": {"name": "Pendel Nord", "prices": [{"unitPrice": 1499, "currencyId": "DKK"},
                                                                                {"unitPrice": 199, "currencyId": "EUR"}]}})
    p = d["products"][0]
    t.ok(len(d["productPrices"]) == 2 and p["salesTaxRulesetId"] == org_before["defaultSalesTaxRulesetId"],
         "POST /v2/products with prices; default ruleset")
    d = s.api("PUT", "/products/" + p["id"], {"product": {"prices": [{"unitPrice": 1599, "currencyId": "DKK"}]}})
    t.ok(len(d["productPrices"]) == 1 and money(d["productPrices"][0]["unitPrice"]) == 1599 and
         len(d["meta"]["deletedRecords"]["productPrices"]) == 2, "PUT product: prices replaced")
    r = s.request("POST", "/v2/products", body={"product": {"name": "Y", "prices": [
        {"unitPrice": 1, "currencyId": "DKK"}, {"unitPrice": 2, "currencyId": "DKK"}]}})
    t.is_(r.status, 422, "two prices in one currency: 422")

    # invoices
    new_inv = {"contactId": c["id"], "entryDate": "2025-06-20", "currencyId": "DKK", "paymentTermsDays": 14,
               "externalId": "shop-991", "lines": [{"productId": p["id"], "unitPrice": 1599, "quantity": 2,
                                                    "description": "Pendel Nord, messing"}]}
    d = s.api("POST", "/invoices", {"invoice": new_inv})
    inv = d["invoices"][0]
    first_line = d["invoiceLines"][0]["id"]
    t.ok(inv["state"] == "draft" and inv["invoiceNo"] is None and inv["approvedTime"] is None and
         inv["dueDate"] == "2025-07-04" and money(inv["grossAmount"]) == Decimal("3997.50") and inv["isPaid"] is False and
         inv["externalId"] == "shop-991" and len(d["invoiceLines"]) == 1 and "downloadUrl" in inv,
         "POST /v2/invoices: draft with computed totals, dueDate = entryDate + terms", inv)
    t.is_([i["id"] for i in s.api("GET", "/invoices?externalId=shop-991")["invoices"]], [inv["id"]], "externalId is filterable")
    d = s.api("PUT", "/invoices/" + inv["id"], {"invoice": {"lines": [{"productId": p["id"], "unitPrice": 100}],
                                                           "taxMode": "incl"}})
    t.ok(money(d["invoices"][0]["grossAmount"]) == 100 and money(d["invoices"][0]["tax"]) == 20 and
         d["meta"]["deletedRecords"]["invoiceLines"] == [first_line] and d["invoiceLines"][0]["id"] != first_line,
         "PUT draft: lines replaced, tax mode changed")
    t.is_(len(s.api("GET", "/invoiceLines?invoiceId=" + inv["id"])["invoiceLines"]), 1, "only the new lines remain")
    nxt = org_before["nextInvoiceNo"]
    d = s.api("PUT", "/invoices/" + inv["id"], {"invoice": {"state": "approved"}})
    a = d["invoices"][0]
    t.ok(a["state"] == "approved" and a["invoiceNo"] == str(nxt) and DT.match(a["approvedTime"] or "") and
         money(a["balance"]) == 100 and a["isPaid"] is False, "approve: invoiceNo from the sequence, approvedTime, balance", a)
    t.is_(s.api("GET", "/organization")["organization"]["nextInvoiceNo"], nxt + 1, "nextInvoiceNo moves on")
    r = s.request("PUT", "/v2/invoices/" + inv["id"], body={"invoice": {"lines": [{"productId": p["id"], "unitPrice": 1}]}})
    t.is_(r.status, 422, "approved invoices cannot change lines")
    r = s.request("PUT", "/v2/invoices/" + inv["id"], body={"invoice": {"state": "draft"}})
    t.is_(r.status, 422, "approved -> draft is refused")
    r = s.request("PUT", "/v2/invoices/" + inv["id"], body={"invoice": {"id": "somethingElse"}})
    t.is_(r.status, 422, "a body id different from the URL: 422")
    d = s.api("PUT", "/invoices/" + inv["id"], {"invoice": {"contactMessage": "Tak!", "contactId": c["id"],
                                                           "entryDate": "2025-06-20"}})
    t.is_(d["invoices"][0]["contactMessage"], "Tak!", "approved invoices take a contactMessage; unchanged immutables are fine")
    r = s.request("PUT", "/v2/invoices/" + inv["id"], body={"invoice": {"entryDate": "2025-06-21"}})
    t.is_(r.status, 422, "entryDate cannot change")

    # invoiceNo uniqueness
    dup = dict(new_inv, invoiceNo=a["invoiceNo"])
    r = s.request("POST", "/v2/invoices", body={"invoice": dup})
    t.ok(r.status == 422 and "invoiceNo" in r.json()["validationErrors"]["invoice"]["attributes"], "duplicate invoiceNo: 422")
    d = s.api("POST", "/invoices", {"invoice": dict(new_inv, invoiceNo="W-1001", state="approved")})
    t.ok(d["invoices"][0]["invoiceNo"] == "W-1001" and d["invoices"][0]["state"] == "approved",
         "create approved with an own invoiceNo keeps it")

    # e-mail
    r = s.request("POST", "/v2/invoices/%s/emails" % a["id"], body={"email": {"emailSubject": "Faktura", "emailBody": "Hej"}})
    t.ok(r.status == 200 and r.json()["invoices"][0]["sentState"] == "sent", "POST .../emails sets sentState sent")
    draft = s.api("POST", "/invoices", {"invoice": new_inv})["invoices"][0]
    r = s.request("POST", "/v2/invoices/%s/emails" % draft["id"], body={"email": {}})
    t.is_(r.status, 422, "a draft cannot be e-mailed")

    # delete drafts only; idempotent
    d = s.api("DELETE", "/invoices/" + draft["id"])
    t.ok(d["meta"]["deletedRecords"]["invoices"] == [draft["id"]] and len(d["meta"]["deletedRecords"]["invoiceLines"]) == 1,
         "DELETE draft: meta.deletedRecords lists the invoice and its lines")
    t.is_(s.get("/v2/invoices/" + draft["id"]).status, 404, "the deleted draft is gone")
    d = s.api("DELETE", "/invoices/" + draft["id"])
    t.is_(d["meta"]["deletedRecords"], {"invoices": []}, "DELETE again: 200, nothing deleted (idempotent)")
    d1 = s.api("POST", "/invoices", {"invoice": new_inv})["invoices"][0]
    d2 = s.api("POST", "/invoices", {"invoice": new_inv})["invoices"][0]
    r = s.request("DELETE", "/v2/invoices?ids[]=%s&ids[]=%s&ids[]=%s" % (d1["id"], d2["id"], a["id"]))
    t.ok(r.status == 422 and s.get("/v2/invoices/" + d1["id"]).status == 200, "bulk DELETE is all-or-nothing")
    d = s.api("DELETE", "/invoices?ids[]=%s&ids[]=%s" % (d1["id"], d2["id"]))
    t.is_(sorted(d["meta"]["deletedRecords"]["invoices"]), sorted([d1["id"], d2["id"]]), "bulk DELETE of drafts")

    # bank payments: partial, then the rest
    bank = accounts[5810]
    d = s.api("POST", "/bankPayments", {"bankPayment": {"entryDate": "2025-06-25", "cashAmount": 30, "cashSide": "debit",
                                                        "cashAccountId": bank,
                                                        "associations": [{"subjectReference": "invoice:" + a["id"]}]}})
    t.ok(set(d) >= {"bankPayments", "balanceModifiers", "invoices"} and money(d["invoices"][0]["balance"]) == 70 and
         d["invoices"][0]["isPaid"] is False and money(d["balanceModifiers"][0]["amount"]) == -30 and
         d["balanceModifiers"][0]["modifierReference"] == "bankPayment:" + d["bankPayments"][0]["id"],
         "partial payment: balance 70, modifier -30, invoice returned")
    first_payment = d["bankPayments"][0]["id"]
    r = s.request("POST", "/v2/bankPayments", body={"bankPayment": {"entryDate": "2025-06-26", "cashAmount": 80,
                  "cashSide": "debit", "cashAccountId": bank, "associations": [{"subjectReference": "invoice:" + a["id"]}]}})
    t.is_(r.status, 422, "paying more than the balance: 422")
    r = s.request("POST", "/v2/bankPayments", body={"bankPayment": {"entryDate": "2025-06-26", "cashAmount": 70,
                  "cashSide": "credit", "cashAccountId": bank, "associations": [{"subjectReference": "invoice:" + a["id"]}]}})
    t.is_(r.status, 422, "a withdrawal cannot pay an invoice")
    d = s.api("POST", "/bankPayments", {"bankPayment": {"entryDate": "2025-06-27", "cashAmount": 70, "cashSide": "debit",
                                                        "cashAccountId": bank,
                                                        "associations": [{"subjectReference": "invoice:" + a["id"]}]}})
    t.ok(money(d["invoices"][0]["balance"]) == 0 and d["invoices"][0]["isPaid"] is True, "the rest: balance 0, isPaid")
    mods = s.api("GET", "/invoices/%s?include=invoice.balanceModifiers:embed" % a["id"])["invoice"]["balanceModifiers"]
    t.is_(sorted(money(m["amount"]) for m in mods), [Decimal(-70), Decimal(-30)], "the invoice carries both modifiers")
    r = s.request("PUT", "/v2/invoices/" + a["id"], body={"invoice": {"state": "voided"}})
    t.is_(r.status, 422, "an invoice with payments cannot be voided")
    d = s.api("PUT", "/bankPayments/" + first_payment, {"bankPayment": {"isVoided": True}})
    t.ok(d["bankPayments"][0]["isVoided"] is True and money(d["invoices"][0]["balance"]) == 30 and
         d["balanceModifiers"][0]["isVoided"] is True, "voiding a bank payment restores the balance")

    # credit note via the API reduces the credited invoice
    b = s.api("POST", "/invoices", {"invoice": dict(new_inv, state="approved")})["invoices"][0]
    d = s.api("POST", "/invoices", {"invoice": {"type": "creditNote", "creditedInvoiceId": b["id"], "contactId": c["id"],
                                                "entryDate": "2025-06-28", "currencyId": "DKK", "state": "approved",
                                                "lines": [{"productId": p["id"], "unitPrice": 1599}]}})
    cn = next(x for x in d["invoices"] if x["type"] == "creditNote")
    orig = next(x for x in d["invoices"] if x["id"] == b["id"])
    t.ok(money(cn["amount"]) == 1599 and money(cn["balance"]) == 0 and cn["isPaid"] is True and
         money(orig["balance"]) == money(b["grossAmount"]) - money(cn["grossAmount"]) and
         any(m["modifierReference"] == "invoice:" + cn["id"] and m["subjectReference"] == "invoice:" + b["id"]
             for m in d["balanceModifiers"]),
         "an approved credit note (positive amounts) settles itself against the invoice via a balance modifier")
    r = s.request("POST", "/v2/invoices", body={"invoice": dict(new_inv, creditedInvoiceId=b["id"])})
    t.is_(r.status, 422, "only credit notes may carry creditedInvoiceId")

    # void an approved invoice without payments
    v = s.api("POST", "/invoices", {"invoice": dict(new_inv, state="approved")})["invoices"][0]
    d = s.api("PUT", "/invoices/" + v["id"], {"invoice": {"state": "voided"}})
    t.ok(d["invoices"][0]["state"] == "voided" and money(d["invoices"][0]["balance"]) == 0, "PUT state voided voids it")

    # bills
    sup = next(x for x in s.api("GET", "/contacts?isSupplier=true")["contacts"])
    d = s.api("POST", "/bills", {"bill": {"contactId": sup["id"], "entryDate": "2025-06-15", "suppliersInvoiceNo": "F-77",
                                          "lines": [{"accountId": accounts[3830], "taxRateId": rates["K25"],
                                                     "description": "Papir", "amount": 400}]}})
    bl = d["bills"][0]
    t.ok(bl["state"] == "draft" and money(bl["grossAmount"]) == 500 and bl["voucherNo"] is None and
         len(d["billLines"]) == 1, "POST /v2/bills: draft bill with lines")
    d = s.api("PUT", "/bills/" + bl["id"], {"bill": {"state": "approved"}})
    t.ok(d["bills"][0]["state"] == "approved" and d["bills"][0]["voucherNo"] and money(d["bills"][0]["balance"]) == 500,
         "approve bill: voucherNo, balance")
    d = s.api("POST", "/bankPayments", {"bankPayment": {"entryDate": "2025-06-29", "cashAmount": 500, "cashSide": "credit",
                                                        "cashAccountId": bank,
                                                        "associations": [{"subjectReference": "bill:" + bl["id"]}]}})
    t.ok(d["bills"][0]["isPaid"] is True, "a withdrawal pays the bill")
    r = s.request("POST", "/v2/bills", body={"bill": {"contactId": sup["id"], "entryDate": "2025-06-15", "lines": [
        {"accountId": accounts[3830], "description": "x", "amount": 1}]}})
    t.ok(r.status == 422 and "lines.0.taxRateId" in r.json()["validationErrors"]["bill"]["attributes"],
         "bill lines need taxRateId")
    db = s.api("POST", "/bills", {"bill": {"contactId": sup["id"], "entryDate": "2025-06-15", "lines": [
        {"accountId": accounts[3830], "taxRateId": rates["K25"], "description": "x", "amount": 1}]}})["bills"][0]
    d = s.api("DELETE", "/bills/" + db["id"])
    t.is_(d["meta"]["deletedRecords"]["bills"], [db["id"]], "draft bills can be deleted")

    # multi-invoice payment in EUR through the EUR account
    eur = next((x for x in s.api("GET", "/contacts?isCustomer=true")["contacts"] if x["currencyId"] == "EUR"), None)
    i1 = s.api("POST", "/invoices", {"invoice": {"contactId": eur["id"], "entryDate": "2025-06-01", "currencyId": "EUR",
                                                 "state": "approved", "lines": [{"productId": p["id"], "unitPrice": 100}]}})["invoices"][0]
    i2 = s.api("POST", "/invoices", {"invoice": {"contactId": eur["id"], "entryDate": "2025-06-02", "currencyId": "EUR",
                                                 "state": "approved", "lines": [{"productId": p["id"], "unitPrice": 40}]}})["invoices"][0]
    total = money(i1["balance"]) + money(i2["balance"])
    d = s.api("POST", "/bankPayments", {"bankPayment": {"entryDate": "2025-06-10", "cashAmount": float(total),
                                                        "cashSide": "debit", "cashAccountId": accounts[5820],
                                                        "associations": [{"subjectReference": "invoice:" + i1["id"]},
                                                                         {"subjectReference": "invoice:" + i2["id"]}]}})
    t.ok(all(x["isPaid"] for x in d["invoices"]) and len(d["balanceModifiers"]) == 2 and
         d["bankPayments"][0]["subjectCurrencyId"] == "EUR", "one payment settles two EUR invoices")

    # the organization
    d = s.api("PUT", "/organizations/" + s.org_id, {"organization": {"name": "Nyt Navn ApS", "paymentTermsDays": 14}})
    t.ok(d["organizations"][0]["name"] == "Nyt Navn ApS" and
         s.api("GET", "/organization")["organization"]["paymentTermsDays"] == 14, "PUT /v2/organizations/:id")
    r = s.request("PUT", "/v2/organizations/AAAAAAAAAAAAAAAAAAAAAA", body={"organization": {"name": "x"}})
    t.is_(r.status, 404, "another organization's id: 404")
    r = s.request("PUT", "/v2/organization", body={"organization": {"name": "x"}})
    t.is_(r.status, 405, "PUT /v2/organization (singular) is closed")

    # organizationId in a body is accepted when it matches
    d = s.api("POST", "/contacts", {"contact": {"organizationId": s.org_id, "name": "Match", "countryId": "SE"}})
    t.is_(d["contacts"][0]["localeId"], "en_US", "organizationId matching the token is accepted")

    # deleting contacts and products: only unused ones
    c = s.api("POST", "/contacts", {"contact": {"name": "Slettes ApS", "countryId": "DK", "contactPersons": [{"name": "A"}, {"name": "B"}]}})["contacts"][0]
    d = s.api("DELETE", "/contacts/" + c["id"])
    t.ok(d["meta"]["deletedRecords"]["contacts"] == [c["id"]] and len(d["meta"]["deletedRecords"]["contactPersons"]) == 2 and
         s.get("/v2/contacts/" + c["id"]).status == 404, "DELETE an unused contact: it and its persons are gone")
    used = s.api("GET", "/invoices?pageSize=1")["invoices"][0]
    r = s.request("DELETE", "/v2/contacts/" + used["contactId"])
    t.ok(r.status == 422 and "in use" in r.json()["errorMessage"] and
         s.get("/v2/contacts/" + used["contactId"]).status == 200, "DELETE a contact in use: 422 saying so, nothing deleted")
    line = s.api("GET", "/invoiceLines?invoiceId=" + used["id"])["invoiceLines"][0]
    r = s.request("DELETE", "/v2/products/" + line["productId"])
    t.ok(r.status == 422 and "in use" in r.json()["errorMessage"], "DELETE a product on an invoice line: 422 saying so")
    p = s.api("POST", "/products", {"product": {"name": "Ubrugt", "prices": [{"unitPrice": 10, "currencyId": "DKK"}]}})["products"][0]
    d = s.api("DELETE", "/products/" + p["id"])
    t.ok(d["meta"]["deletedRecords"]["products"] == [p["id"]] and len(d["meta"]["deletedRecords"]["productPrices"]) == 1,
         "DELETE an unused product: it and its prices are gone")


main(body)
