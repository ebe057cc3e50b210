/*
 * store.h - the data model: organizations and their records, held in
 * compact C structs (money as int64 øre, strings in a per-organization
 * arena, references as table indexes), plus the locking contract.
 *
 * Vocabulary:
 *   an Org is one Billy organization with its access token and all of its
 *   records;
 *   a table (Table) holds every record of one resource kind (RK_*) of an
 *   org, in creation order: index order is creation order, which is also
 *   the default list order;
 *   a record is never moved or freed while its org lives: deleting marks it
 *   dead (RecHead.dead) and lists skip it; has-many children that are
 *   replaced (invoice lines, prices, contact persons) are new records and
 *   the old ones become dead;
 *   the version of a table is bumped on every change to it; cached sort
 *   orders are keyed by it.
 *
 * Locking:
 *   sb.lock (rwlock) guards the list of orgs: every request holds it for
 *   reading; reset and organization creation take it for writing.
 *   Org.lock (rwlock, writer-preferring) guards everything in the org:
 *   reads hold it shared while they render JSON, writes and mutations hold
 *   it exclusively for one atomic change.  Org.cache_lock (mutex) guards
 *   the order cache, which readers fill while holding Org.lock shared.
 */
#ifndef SANDBOX_STORE_H
#define SANDBOX_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "rng.h"
#include "util.h"

/* resource kinds that live in tables */
typedef enum RK
{
	RK_ACCOUNT,
	RK_TAX_RATE,
	RK_RULESET,
	RK_RULE,
	RK_CONTACT,
	RK_CONTACT_PERSON,
	RK_PRODUCT,
	RK_PRODUCT_PRICE,
	RK_INVOICE,
	RK_INVOICE_LINE,
	RK_BILL,
	RK_BILL_LINE,
	RK_BANK_PAYMENT,
	RK_BALANCE_MODIFIER,
	RK_SALES_TAX_RETURN,
	/* the books (books.c): appended so the kinds above keep their numbers */
	RK_TRANSACTION,
	RK_POSTING,
	RK_DAYBOOK,
	RK_DAYBOOK_TXN,
	RK_DAYBOOK_LINE,
	RK_BANK_LINE,
	RK_BANK_MATCH,
	RK_BANK_SUBJECT,
	RK_FILE,
	RK_ATTACHMENT,
	RK_ACCOUNT_GROUP,			/* the chart's headings (books.c) */
	RK__TABLES,
	/* not tables */
	RK_CURRENCY = RK__TABLES,
	RK_ORGANIZATION,
	RK__COUNT
} RK;

typedef enum DocType
{
	DOC_INVOICE,
	DOC_CREDIT_NOTE
} DocType;

typedef enum DocState
{
	ST_DRAFT,
	ST_APPROVED,
	ST_VOIDED
} DocState;

typedef enum SentState
{
	SENT_UNSENT,
	SENT_PRINTED,
	SENT_SENT,
	SENT_OPENED,
	SENT_VIEWED
} SentState;

typedef enum TaxMode
{
	TAX_EXCL,
	TAX_INCL
} TaxMode;

typedef enum TermsMode
{
	TERMS_NET,
	TERMS_DATE
} TermsMode;

typedef enum DiscountMode
{
	DISC_NONE,
	DISC_CASH,
	DISC_PERCENT
} DiscountMode;

typedef enum ContactType
{
	CT_COMPANY,
	CT_PERSON
} ContactType;

typedef enum CashSide
{
	SIDE_DEBIT,
	SIDE_CREDIT
} CashSide;

typedef enum VatPeriod
{
	VP_MONTH,
	VP_QUARTER,
	VP_HALFYEAR
} VatPeriod;

/* the predefined Danish tax rates; abbreviations in refdata.c */
typedef enum TaxKind
{
	TR_S25,
	TR_EUV,
	TR_EUY,
	TR_EKS,
	TR_FRI,
	TR_K25,
	TR_UV25,
	TR_UY25,
	TR_UYX25,
	TR_REP25,
	TR_INGEN,
	TR__COUNT
} TaxKind;

typedef enum Nature
{
	NAT_ASSET,
	NAT_LIABILITY,
	NAT_EQUITY,
	NAT_REVENUE,
	NAT_EXPENSE
} Nature;

typedef enum SystemRole
{
	ROLE_NONE,
	ROLE_AR,
	ROLE_AP,
	ROLE_FX
} SystemRole;

/* currencies are global reference data; index into currencies[] */
typedef enum Cur
{
	CUR_DKK,
	CUR_EUR,
	CUR_SEK,
	CUR_USD,
	CUR_NOK,
	CUR_GBP,
	CUR__COUNT,
	CUR_NONE = 255
} Cur;

typedef struct Currency
{
	const char *id;
	const char *name;
	int64_t		rate6;			/* DKK for 1 unit, 6 decimals */
} Currency;

extern const Currency currencies[CUR__COUNT];

/* every record starts with its id and liveness */
typedef struct RecHead
{
	char		id[ID_LEN + 1];
	bool		dead;
} RecHead;

typedef struct Account
{
	RecHead		h;
	uint8_t		nature;
	uint8_t		system_role;
	uint8_t		currency;		/* CUR_NONE: no currency */
	bool		payment_enabled;
	bool		bank;
	bool		archived;
	int32_t		account_no;
	int32_t		tax_rate;		/* default tax rate, -1 none */
	int32_t		group;			/* its account group, -1 none */
	const char *name;
	const char *description;
	const char *bank_name;
	const char *bank_reg;
	const char *bank_account_no;
	const char *bank_swift;
	const char *bank_iban;
} Account;

typedef struct TaxRate
{
	RecHead		h;
	uint8_t		kind;			/* TaxKind */
	bool		sales;
	bool		purchases;
	bool		reverse_charge; /* buyer self-assesses; bill tax is 0 */
	int64_t		rate6;
	int64_t		deduct_share6;	/* deductible share of the VAT */
	int32_t		deduct_account; /* -1 when nothing is deductible */
	const char *name;
	const char *abbrev;
	const char *description;
} TaxRate;

typedef struct Ruleset
{
	RecHead		h;
	int32_t		fallback;		/* tax rate */
	int32_t		rule_start;
	int32_t		rule_count;
	const char *name;
	const char *abbrev;
	const char *description;
} Ruleset;

enum
{
	GROUP_NONE,
	GROUP_EU
};
enum
{
	RULE_ANY_TYPE,
	RULE_COMPANY,
	RULE_PERSON
};

typedef struct Rule
{
	RecHead		h;
	uint8_t		country_group;
	uint8_t		contact_type;
	char		country[3];		/* "" = any */
	int32_t		ruleset;
	int32_t		tax_rate;
	int32_t		priority;
} Rule;

typedef struct Contact
{
	RecHead		h;
	uint8_t		type;			/* ContactType */
	uint8_t		currency;
	uint8_t		terms_mode;
	bool		customer;
	bool		supplier;
	bool		archived;
	bool		tax_exempt;
	char		country[3];
	int16_t		terms_days;
	Time		created;
	const char *name;
	const char *street;
	const char *city;
	const char *zipcode;
	const char *state_text;
	const char *contact_no;
	const char *phone;
	const char *registration_no;
	const char *ean;
	const char *locale;
	const char *access_code;
	int32_t		person_start;
	int32_t		person_count;
	int32_t		gen_kind;		/* generator's supplier category, -1 */
} Contact;

typedef struct ContactPerson
{
	RecHead		h;
	bool		primary;
	int32_t		contact;
	const char *name;
	const char *email;
	const char *phone;
} ContactPerson;

typedef struct Product
{
	RecHead		h;
	bool		archived;
	int32_t		account;
	int32_t		ruleset;
	Time		created;
	const char *name;
	const char *description;
	const char *product_no;
	const char *suppliers_no;
	int32_t		price_start;
	int32_t		price_count;
} Product;

typedef struct ProductPrice
{
	RecHead		h;
	uint8_t		currency;
	int32_t		product;
	int64_t		unit_price;
} ProductPrice;

typedef struct Invoice
{
	RecHead		h;
	uint8_t		type;			/* DocType */
	uint8_t		state;			/* DocState */
	uint8_t		sent_state;
	uint8_t		tax_mode;
	uint8_t		terms_mode;
	uint8_t		currency;
	int16_t		terms_days;
	int32_t		contact;
	int32_t		att_person;		/* -1 */
	int32_t		credited;		/* -1 */
	Date		entry_date;
	Date		due_date;
	Time		created;
	Time		approved;		/* TIME_NONE for drafts */
	int64_t		amount;
	int64_t		tax;
	int64_t		gross;
	int64_t		balance;
	int64_t		rate6;
	const char *invoice_no;		/* NULL until approved (or given) */
	const char *contact_message;
	const char *order_no;
	const char *external_id;
	int32_t		line_start;
	int32_t		line_count;
	int32_t		bm_head;		/* balance modifiers with this subject */
	int32_t		bm_tail;
	int32_t		txn1;			/* its live booking transaction + 1; 0 none */
} Invoice;

typedef struct InvoiceLine
{
	RecHead		h;
	uint8_t		discount_mode;
	int32_t		invoice;
	int32_t		product;
	int32_t		tax_rate;
	int32_t		priority;
	const char *description;
	const char *discount_text;
	int64_t		quantity;		/* QTY_SCALE */
	int64_t		unit_price;		/* øre */
	int64_t		discount_value; /* QTY_SCALE: percent, or money */
	int64_t		amount;
	int64_t		tax;
} InvoiceLine;

typedef struct Bill
{
	RecHead		h;
	uint8_t		type;
	uint8_t		state;
	uint8_t		tax_mode;
	uint8_t		currency;
	int32_t		contact;
	int32_t		credited;
	Date		entry_date;
	Date		due_date;
	Time		created;
	Time		approved;
	int64_t		amount;
	int64_t		tax;
	int64_t		gross;
	int64_t		balance;
	int64_t		rate6;
	const char *suppliers_invoice_no;
	const char *voucher_no;
	int32_t		line_start;
	int32_t		line_count;
	int32_t		bm_head;
	int32_t		bm_tail;
	int32_t		txn1;			/* its live booking transaction + 1; 0 none */
} Bill;

typedef struct BillLine
{
	RecHead		h;
	int32_t		bill;
	int32_t		account;
	int32_t		tax_rate;
	int32_t		priority;
	const char *description;
	int64_t		input_amount;	/* as given: gross when taxMode is incl */
	int64_t		amount;			/* net */
	int64_t		tax;
} BillLine;

typedef struct BankPayment
{
	RecHead		h;
	uint8_t		cash_side;
	uint8_t		subject_currency;
	bool		voided;
	int32_t		contact;
	int32_t		cash_account;
	int32_t		fee_account;	/* -1 */
	Date		entry_date;
	Time		created;
	int64_t		cash_amount;
	int64_t		fee_amount;
	int64_t		cash_rate6;
	int32_t		assoc_start;
	int32_t		assoc_count;
	int32_t		made_by_match;	/* bank line match that made it, + 1; 0 none */
	int32_t		txn1;			/* its live booking transaction + 1; 0 none */
} BankPayment;

typedef struct BalanceModifier
{
	RecHead		h;
	uint8_t		mod_kind;		/* RK_BANK_PAYMENT or RK_INVOICE */
	uint8_t		subj_kind;		/* RK_INVOICE or RK_BILL */
	bool		voided;
	int32_t		mod_idx;
	int32_t		subj_idx;
	int32_t		next;			/* next modifier of the same subject */
	Date		entry_date;
	Time		created;
	int64_t		amount;			/* negative reduces the balance */
	int64_t		realized_diff;
} BalanceModifier;

typedef struct SalesTaxReturn
{
	RecHead		h;
	uint8_t		period_type;	/* VatPeriod */
	bool		settled;
	bool		paid;
	int16_t		year;
	int16_t		num;
	int32_t		correction_no;
	Date		start;
	Date		end;
	Date		deadline;
	Time		created;
} SalesTaxReturn;

/*
 * The books (books.c).  A transaction groups balanced postings (amounts in
 * øre of the base currency, DKK); it is booked by an originator (invoice,
 * bill, bank payment, daybook transaction, or a credit note's settlement)
 * and, when that is voided, marked isVoided and mirrored by a voiding
 * transaction (isVoid).
 */
typedef struct Transaction
{
	RecHead		h;
	uint8_t		orig_kind;		/* RK of the originator */
	bool		voided;			/* isVoided: a later transaction reverses it */
	bool		is_void;		/* isVoid: this one reverses another */
	int32_t		orig_idx;
	int32_t		no;				/* transactionNo */
	Date		entry_date;
	Time		created;
	const char *voucher_no;
	const char *orig_name;		/* originatorName */
	int32_t		posting_start;
	int32_t		posting_count;
} Transaction;

typedef struct Posting
{
	RecHead		h;
	uint8_t		side;			/* CashSide: debit or credit */
	bool		voided;
	bool		bank_matched;
	int32_t		priority;		/* a journal entry's: its line's */
	int32_t		txn;
	int32_t		account;
	Date		entry_date;
	int64_t		amount;			/* positive, øre of the base currency */
	const char *text;
} Posting;

typedef struct Daybook
{
	RecHead		h;
	Time		created;
	const char *name;
} Daybook;

typedef struct DaybookTxn
{
	RecHead		h;
	uint8_t		state;			/* DocState */
	int32_t		daybook;
	int32_t		priority;
	int32_t		txn;			/* booked transaction, -1 */
	Date		entry_date;
	Time		created;
	const char *voucher_no;
	const char *description;
	const char *extended;
	const char *api_type;
	int32_t		line_start;
	int32_t		line_count;
} DaybookTxn;

typedef struct DaybookLine
{
	RecHead		h;
	uint8_t		side;
	uint8_t		currency;
	int32_t		dbt;
	int32_t		account;
	int32_t		contra;			/* contra account, -1 */
	int32_t		tax_rate;		/* -1 */
	int32_t		priority;
	int64_t		amount;			/* as entered: gross when a tax rate is set */
	const char *text;
} DaybookLine;

typedef struct BankLine
{
	RecHead		h;
	uint8_t		side;			/* debit: money in, credit: money out */
	int32_t		account;
	int32_t		match;			/* -1 while unmatched */
	int32_t		next;			/* next line of the same match */
	Date		entry_date;
	Time		created;
	int64_t		amount;			/* positive, in the account's currency */
	const char *description;
	uint8_t		pays_kind;		/* RK_INVOICE or RK_BILL: the open document a
								 * generated unmatched line pays (pays_idx);
								 * any other kind: none. /_sandbox/bankTruth */
	int32_t		pays_idx;
} BankLine;

typedef struct BankMatch
{
	RecHead		h;
	uint8_t		side;
	bool		approved;
	int32_t		account;
	int32_t		line_head;
	Date		entry_date;
	Time		created;
	Time		approved_time;
	int64_t		amount;
	int32_t		subj_start;
	int32_t		subj_count;
} BankMatch;

typedef struct BankSubject
{
	RecHead		h;
	uint8_t		subj_kind;		/* RK_BANK_PAYMENT, RK_DAYBOOK_TXN,
								 * RK_INVOICE, RK_BILL */
	int32_t		match;
	int32_t		subj_idx;
} BankSubject;

typedef struct File
{
	RecHead		h;
	bool		generated;		/* bytes made on demand from the record */
	Time		created;
	const char *name;
	const char *content_type;
	const unsigned char *bytes; /* NULL when generated */
	int64_t		size;
	int32_t		owner_kind;		/* generated receipts: RK_BILL, else -1 */
	int32_t		owner_idx;
} File;

typedef struct Attachment
{
	RecHead		h;
	uint8_t		owner_kind;		/* RK_INVOICE, RK_BILL, RK_DAYBOOK_TXN */
	int32_t		owner_idx;
	int32_t		file;
	int32_t		priority;
	Time		created;
} Attachment;

typedef struct AccountGroup
{
	RecHead		h;
	uint8_t		nature;
	int32_t		priority;
	const char *name;
	const char *description;
} AccountGroup;

typedef struct Table
{
	char	   *v;
	int32_t		n;
	int32_t		cap;
	int32_t		dead;
	uint32_t	size;
	uint32_t	version;
} Table;

#define REC(o, T, rk, i) (&((T *) (o)->tab[rk].v)[i])
#define ACCOUNT(o, i) REC(o, Account, RK_ACCOUNT, i)
#define TAXRATE(o, i) REC(o, TaxRate, RK_TAX_RATE, i)
#define RULESET(o, i) REC(o, Ruleset, RK_RULESET, i)
#define RULE(o, i) REC(o, Rule, RK_RULE, i)
#define CONTACT(o, i) REC(o, Contact, RK_CONTACT, i)
#define PERSON(o, i) REC(o, ContactPerson, RK_CONTACT_PERSON, i)
#define PRODUCT(o, i) REC(o, Product, RK_PRODUCT, i)
#define PRICE(o, i) REC(o, ProductPrice, RK_PRODUCT_PRICE, i)
#define INVOICE(o, i) REC(o, Invoice, RK_INVOICE, i)
#define ILINE(o, i) REC(o, InvoiceLine, RK_INVOICE_LINE, i)
#define BILL(o, i) REC(o, Bill, RK_BILL, i)
#define BLINE(o, i) REC(o, BillLine, RK_BILL_LINE, i)
#define PAYMENT(o, i) REC(o, BankPayment, RK_BANK_PAYMENT, i)
#define MODIFIER(o, i) REC(o, BalanceModifier, RK_BALANCE_MODIFIER, i)
#define TAXRETURN(o, i) REC(o, SalesTaxReturn, RK_SALES_TAX_RETURN, i)
#define TXN(o, i) REC(o, Transaction, RK_TRANSACTION, i)
#define POSTING(o, i) REC(o, Posting, RK_POSTING, i)
#define DAYBOOK(o, i) REC(o, Daybook, RK_DAYBOOK, i)
#define DBTXN(o, i) REC(o, DaybookTxn, RK_DAYBOOK_TXN, i)
#define DBLINE(o, i) REC(o, DaybookLine, RK_DAYBOOK_LINE, i)
#define BANKLINE(o, i) REC(o, BankLine, RK_BANK_LINE, i)
#define BANKMATCH(o, i) REC(o, BankMatch, RK_BANK_MATCH, i)
#define BANKSUBJ(o, i) REC(o, BankSubject, RK_BANK_SUBJECT, i)
#define FILEREC(o, i) REC(o, File, RK_FILE, i)
#define ATTACH(o, i) REC(o, Attachment, RK_ATTACHMENT, i)
#define ACCGROUP(o, i) REC(o, AccountGroup, RK_ACCOUNT_GROUP, i)

static inline RecHead *
rec_head(const Table *t, int32_t i)
{
	return (RecHead *) (t->v + (size_t) i * t->size);
}

/* id index: id -> (kind, index) for every record of an org */
typedef struct IdSlot
{
	uint32_t	hash;
	uint32_t	ref;			/* (index << 5) | kind, 0xFFFFFFFF = empty */
} IdSlot;

typedef struct IdIndex
{
	IdSlot	   *slots;
	uint32_t	cap;
	uint32_t	n;
} IdIndex;

/* cached list orders (see api.c) */
typedef struct Order
{
	int			refs;
	uint64_t	last_used;		/* Org.cache_tick when last handed out */
	int			rk;
	int			key;
	bool		desc;
	uint32_t	version;
	int32_t		n;
	int32_t    *idx;
} Order;

#define ORDER_CACHE 8

/* what the generator was asked for; kept so that reset can regenerate */
typedef struct GenParams
{
	uint64_t	seed;
	int			org_index;		/* stream of the org within the seed */
	int			invoices;
	int			contacts;
	int			products;
	int			bills;
	int			bank_payments;	/* -1: derived from paid documents */
	Date		today;
	bool		empty;
	const char *name;			/* NULL: from the name list */
	int			vat_period;		/* -1: by org index */
	int			fiscal_end_month;	/* 0: by org index */
} GenParams;

typedef struct Org
{
	pthread_rwlock_t lock;
	pthread_mutex_t cache_lock;
	GenParams	gp;
	char		id[ID_LEN + 1];
	char		token[TOKEN_LEN + 1];
	Arena		arena;
	Rng			rng;			/* ids and choices of runtime writes */
	Rng			books_rng;		/* ids and choices of the books (books.c) */
	bool		books_live;		/* documents book as they change */
	int32_t		next_txn_no;
	uint64_t	mutate_calls;

	/* the organization record */
	Time		created;
	const char *name;
	const char *street;
	const char *zipcode;
	const char *city;
	const char *phone;
	const char *email;
	const char *registration_no;
	const char *owner_user_id;
	int			fiscal_end_month;
	Date		first_fy_start;
	Date		first_fy_end;
	uint8_t		vat_period;
	uint8_t		default_tax_mode;
	int16_t		terms_days;
	int64_t		next_invoice_no;
	int64_t		next_voucher_no;
	int32_t		next_contact_no;
	int32_t		next_product_no;
	uint32_t	org_version;

	/* well-known records */
	int32_t		acc_ar;
	int32_t		acc_ap;
	int32_t		acc_bank;
	int32_t		acc_bank_eur;
	int32_t		acc_cash;
	int32_t		acc_sales_goods;
	int32_t		acc_sales_services;
	int32_t		acc_sales_exempt;
	int32_t		acc_fee;
	int32_t		acc_fx;
	int32_t		acc_vat_out;	/* 6900 Salgsmoms */
	int32_t		acc_vat_in;		/* 6910 Købsmoms */
	int32_t		acc_vat_goods;	/* 6920 Moms af varekøb i udlandet */
	int32_t		acc_vat_services;	/* 6930 Moms af ydelseskøb i udlandet */
	int32_t		acc_salary;		/* 2210 */
	int32_t		acc_equity;		/* 7010 */
	int32_t		acc_interest;	/* 4410 */
	int32_t		daybook;		/* the default daybook */
	int32_t		tax[TR__COUNT];
	int32_t		rs_goods;
	int32_t		rs_services;
	int32_t		rs_exempt;

	Table		tab[RK__TABLES];
	IdIndex		ids;
	Order	   *cache[ORDER_CACHE];
	uint64_t	cache_tick;
} Org;

typedef struct Config
{
	char		listen_host[64];
	int			port;
	uint64_t	seed;
	int			orgs;
	int			invoices;
	int			contacts;
	int			products;
	int			bills;
	int			bank_payments;
	int			threads;
	Date		today;
	bool		today_given;
} Config;

typedef struct Sandbox
{
	Config		cfg;
	pthread_rwlock_t lock;
	Org		  **orgs;
	int			n_orgs;
	int			n_created;		/* organizations made via the control API */
	char		base_url[96];	/* http://127.0.0.1:PORT/v2 */
	char		host_url[96];	/* http://127.0.0.1:PORT */
} Sandbox;

extern Sandbox sb;

/* tables and ids */
void		org_init_tables(Org *o);
void		org_free(Org *o);
int32_t		rec_new(Org *o, RK rk); /* zeroed record with a fresh id */
int32_t		rec_new_from(Org *o, RK rk, Rng *r);	/* same, ids from r */
void		rec_kill(Org *o, RK rk, int32_t i);
void		touch(Org *o, RK rk);
bool		id_lookup(const Org *o, const char *id, RK *rk, int32_t *idx);
int32_t		id_find(const Org *o, RK rk, const char *id);	/* -1 if absent/dead */
int32_t		id_find_any(const Org *o, RK rk, const char *id);	/* dead too */

Org		   *org_by_token(const char *token);
Org		   *org_by_id(const char *id);
int			cur_by_code(const char *code);	/* -1 if unknown */

/* the sandbox clock (see README: logical with --today, else wall clock) */
void		clock_init(bool logical, Date today);
Time		clock_now(void);
Time		clock_tick(void);
void		clock_reset(void);

/* a set of changed records, for write responses and mutate reports */
enum
{
	OP_CREATED,
	OP_UPDATED,
	OP_DELETED
};

typedef struct Change
{
	uint8_t		rk;
	uint8_t		op;
	int32_t		idx;
	const char *kind;			/* mutate kind, or NULL */
} Change;

typedef struct ChangeSet
{
	Change	   *v;
	int			n;
	int			cap;
	int			mark;			/* cs_add merges duplicates from here on */
	bool		org_changed;
} ChangeSet;

void		cs_add(ChangeSet *cs, RK rk, int32_t idx, int op);
void		rec_kill_block(Org *o, RK rk, int32_t start, int32_t count, ChangeSet *cs); /* store.c */
void		cs_free(ChangeSet *cs);

#endif
