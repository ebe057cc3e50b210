/*
 * books.h - the general ledger behind the documents: transactions and
 * postings booked by invoices, bills, bank payments, credit note
 * settlements and daybook transactions (journal entries); daybooks; bank
 * statement lines and their matches; files and attachments.  Callers hold
 * the org's lock exclusively.  README "The books" has the rules.
 */
#ifndef SANDBOX_BOOKS_H
#define SANDBOX_BOOKS_H

#include "store.h"

/* well-known accounts and the default daybook (every organization) */
void		books_setup(Org *o);

/* generation: book everything generated so far, then the statement and receipts */
void		books_generate(Org *o, Date start, Date today);

/* hooks of ledger.c: no-ops until the organization's books are live */
void		books_doc_approved(Org *o, RK kind, int32_t idx, Time now, ChangeSet *cs);
void		books_doc_voided(Org *o, RK kind, int32_t idx, Time now, ChangeSet *cs);
void		books_settlement(Org *o, RK kind, int32_t cn, int32_t orig, int64_t applied,
							 Date entry, Time now, ChangeSet *cs);
void		books_payment(Org *o, int32_t pay, Time now, ChangeSet *cs);
void		books_payment_voided(Org *o, int32_t pay, Time now, ChangeSet *cs);

/* journal entries */
int64_t		dbline_signed(const DaybookLine *l);
bool		dblines_balance(Org *o, const DaybookLine *ls, int n, Date d, int *cur, int64_t *debit,
							int64_t *credit);
void		books_dbt_approve(Org *o, int32_t dbt, Time now, ChangeSet *cs);
void		books_dbt_void(Org *o, int32_t dbt, Time now, ChangeSet *cs);

/* bank matching */
void		books_match_payment_posting(Org *o, int32_t pay, bool matched, ChangeSet *cs);
void		books_unmatch(Org *o, int32_t match, ChangeSet *cs);

/* the bytes of a file (generated receipts are made on demand into *tmp) */
const unsigned char *file_bytes(Org *o, int32_t f, char **tmp, int64_t *len);

/* "invoice:ID" style references: the kind's prefix */
const char *ref_prefix(int kind);

#endif
