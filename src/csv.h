/*-------------------------------------------------------------------------
 *
 * csv.h
 *	  billy's CSV reader (RFC 4180) and the field checks of CSV imports.
 *
 * Plain C with no PostgreSQL header, so the same code runs in the server,
 * in the libFuzzer target (fuzz/csv_fuzz.c) and in the benchmark.  Nothing
 * here allocates: the reader unquotes fields in place in a buffer the
 * caller owns and may write to.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_CSV_H
#define BILLY_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BILLY_CSV_MAX_FIELDS 128

typedef struct BillyCsvField
{
	char	   *p;				/* into the caller's buffer, not terminated */
	int			len;
} BillyCsvField;

typedef struct BillyCsv
{
	char	   *buf;
	size_t		len;
	size_t		pos;
	char		delim;			/* ',' ';' or '\t' */
	bool		had_bom;
	int			line;			/* physical line the reader is on (1-based) */
	int			record_line;	/* the line the last record started on */
	const char *error;			/* the last record's problem, or NULL */
} BillyCsv;

/*
 * billy_csv_init prepares to read buf (len bytes, modified in place).  A
 * UTF-8 byte order mark is skipped.  delim 0 detects the delimiter from the
 * first line: the most frequent of ';', ',' and tab outside quotes (',' on
 * a tie or when none occurs).
 */
extern void billy_csv_init(BillyCsv *c, char *buf, size_t len, char delim);

/*
 * billy_csv_next reads the next record into fields (at most max).  Returns
 * 1 with *nfields set; 0 at the end; -1 when the record is malformed
 * (c->error says why, c->record_line where), after which reading may go on
 * from the next line.  Empty lines are skipped.
 */
extern int	billy_csv_next(BillyCsv *c, BillyCsvField *fields, int max, int *nfields);

/*
 * billy_csv_decimal reads a number with at most scale decimals into an
 * integer scaled by 10^scale (amounts: scale 2, øre).  decimal is the
 * decimal mark ('.' or ','); the other of the two (and spaces) may group
 * thousands in threes.  Returns NULL or a sentence saying what is wrong.
 */
extern const char *billy_csv_decimal(const char *s, int len, char decimal, int scale,
									 int64_t *out);

/* billy_cvr_valid: 8 digits passing the CVR modulus-11 check */
extern bool billy_cvr_valid(const char *digits, int len);

/*
 * billy_csv_normalize_header lowercases a header, spells æ ø å as ae oe aa
 * and drops everything but letters and digits ("Post-nr." -> "postnr").
 * Returns the length written (at most cap - 1, terminated).
 */
extern int	billy_csv_normalize_header(const char *s, int len, char *out, int cap);

/* the resources a CSV import knows, and their columns */
typedef enum BillyCsvResource
{
	BILLY_CSV_CONTACTS,
	BILLY_CSV_PRODUCTS
} BillyCsvResource;

typedef enum BillyCsvKind
{
	CSVK_TEXT,
	CSVK_COUNTRY,
	CSVK_CVR,
	CSVK_EMAIL,
	CSVK_PHONE,
	CSVK_EAN,
	CSVK_CONTACT_TYPE,
	CSVK_BOOL,
	CSVK_DAYS,
	CSVK_CURRENCY,
	CSVK_AMOUNT,
	CSVK_LOCALE
} BillyCsvKind;

typedef struct BillyCsvColumn
{
	const char *field;			/* billy's name: the key in the JSON made */
	BillyCsvKind kind;
	bool		required;
	int			maxlen;
	const char *aliases;		/* normalized header names, space-separated */
} BillyCsvColumn;

extern const BillyCsvColumn *billy_csv_columns(BillyCsvResource res, int *n);
extern int	billy_csv_find_column(BillyCsvResource res, const char *normalized);

/*
 * A value checked and made canonical: text as is (trimmed), country and
 * currency upper-cased, CVR digits only, booleans "true"/"false", amounts
 * as a plain decimal with 2 places.  out must hold at least len + 32 bytes.
 */
extern const char *billy_csv_check_value(const BillyCsvColumn *col, const char *s, int len,
										 char decimal, const char *country,
										 char *out, int *outlen);

#endif							/* BILLY_CSV_H */
