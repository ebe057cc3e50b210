/*-------------------------------------------------------------------------
 *
 * pagescan.c
 *	  One pass over a page of Billy's JSON: validate it, find each record's
 *	  text, id and content hash, and read meta.paging.
 *
 * A sync reads every page of every resource each time (Billy has no change
 * feed), and most records have not changed.  What makes that cheap is that
 * an unchanged record costs this scan and a hash-table lookup, nothing more:
 * no jsonb is built, nothing is allocated per record, nothing is written.
 * Only the records whose hash differs from the mirror's are parsed into
 * jsonb (by the caller) and stored.
 *
 * The scan is a full validation (RFC 8259 grammar, plus what jsonb refuses:
 * \u0000 and broken surrogate pairs), so a truncated or garbled page is
 * refused as a whole, never half-applied.  UTF-8 validity is checked by the
 * caller on the whole body at once.
 *
 * The content hash covers the record's text as Billy sent it, except the
 * value of its top-level "downloadUrl", which changes on every read.  It is
 * 128 bits: two chained runs of PostgreSQL's hash_bytes_extended with
 * different seeds.  It only has to tell "same as last time" from "changed".
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "common/hashfn.h"

#include "pagescan.h"

#define MAX_DEPTH 128

typedef struct Scanner
{
	const char *p;
	const char *end;
	const char *base;
	const char *error;
	int			depth;
} Scanner;

static bool scan_value(Scanner *s);

static inline void
skip_ws(Scanner *s)
{
	while (s->p < s->end &&
		   (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

static bool
fail(Scanner *s, const char *msg)
{
	if (s->error == NULL)
		s->error = msg;
	return false;
}

static int
hex4(const char *p)
{
	int			v = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * scan_string reads a string at s->p (which is '"'), leaving s->p after
 * it; [*cstart, *cend) is its raw content and *escaped says whether it holds
 * escapes.
 */
static bool
scan_string(Scanner *s, const char **cstart, const char **cend, bool *escaped)
{
	const char *p = s->p + 1;
	const char *end = s->end;

	*escaped = false;
	*cstart = p;
	for (;;)
	{
		unsigned char c;

		/* the common case: plain characters */
		while (p < end && *p != '"' && *p != '\\' && (unsigned char) *p >= 0x20)
			p++;
		if (p >= end)
			return fail(s, "unterminated string");
		c = (unsigned char) *p;
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(s, "control character in a string");
		/* an escape */
		*escaped = true;
		if (p + 1 >= end)
			return fail(s, "unterminated string");
		switch (p[1])
		{
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				p += 2;
				break;
			case 'u':
				{
					int			cp;

					if (end - p < 6 || (cp = hex4(p + 2)) < 0)
						return fail(s, "invalid \\u escape");
					if (cp == 0)
						return fail(s, "\\u0000 is not allowed");
					p += 6;
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						int			lo;

						if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
							(lo = hex4(p + 2)) < 0xDC00 || lo > 0xDFFF)
							return fail(s, "a high surrogate must be followed by a low surrogate");
						p += 6;
					}
					else if (cp >= 0xDC00 && cp <= 0xDFFF)
						return fail(s, "a low surrogate must follow a high surrogate");
				}
				break;
			default:
				return fail(s, "invalid escape in a string");
		}
	}
	*cend = p;
	s->p = p + 1;
	return true;
}

static bool
scan_number(Scanner *s)
{
	const char *p = s->p;
	const char *end = s->end;

	if (p < end && *p == '-')
		p++;
	if (p >= end)
		return fail(s, "invalid number");
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	else
		return fail(s, "invalid number");
	if (p < end && *p == '.')
	{
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail(s, "invalid number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail(s, "invalid number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	s->p = p;
	return true;
}

static bool
scan_literal(Scanner *s, const char *lit, int len)
{
	if (s->end - s->p < len || memcmp(s->p, lit, len) != 0)
		return fail(s, "invalid literal");
	s->p += len;
	return true;
}

/*
 * read_key reads a member's name and the ':' after it; [*ks, *ke) is the
 * name's raw text.
 */
static inline bool
read_key(Scanner *s, const char **ks, const char **ke)
{
	bool		esc;

	skip_ws(s);
	if (s->p >= s->end || *s->p != '"')
		return fail(s, "expected a member name");
	if (!scan_string(s, ks, ke, &esc))
		return false;
	skip_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return fail(s, "expected \":\"");
	s->p++;
	skip_ws(s);
	return true;
}

/*
 * next_item reads what follows a member or an element: 1 when a ','
 * announces another, 0 when close ends the object or array, -1 on error.
 */
static inline int
next_item(Scanner *s, char close)
{
	skip_ws(s);
	if (s->p >= s->end)
	{
		fail(s, close == '}' ? "unterminated object" : "unterminated array");
		return -1;
	}
	if (*s->p == ',')
	{
		s->p++;
		return 1;
	}
	if (*s->p == close)
	{
		s->p++;
		return 0;
	}
	fail(s, close == '}' ? "expected \",\" or \"}\"" : "expected \",\" or \"]\"");
	return -1;
}

/*
 * open_container enters an object or array at s->p; false when it is empty
 * (and already left) or on error (see s->error).
 */
static inline bool
open_container(Scanner *s, char close)
{
	if (++s->depth > MAX_DEPTH)
		return fail(s, "nesting too deep");
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close)
	{
		s->p++;
		s->depth--;
		return false;
	}
	return true;
}

static bool
skip_object(Scanner *s)
{
	const char *ks;
	const char *ke;
	int			more;

	if (!open_container(s, '}'))
		return s->error == NULL;
	do
	{
		if (!read_key(s, &ks, &ke) || !scan_value(s))
			return false;
	} while ((more = next_item(s, '}')) == 1);
	if (more < 0)
		return false;
	s->depth--;
	return true;
}

static bool
skip_array(Scanner *s)
{
	int			more;

	if (!open_container(s, ']'))
		return s->error == NULL;
	do
	{
		if (!scan_value(s))
			return false;
	} while ((more = next_item(s, ']')) == 1);
	if (more < 0)
		return false;
	s->depth--;
	return true;
}

static bool
scan_value(Scanner *s)
{
	const char *a;
	const char *b;
	bool		esc;

	skip_ws(s);
	if (s->p >= s->end)
		return fail(s, "unexpected end of input");
	switch (*s->p)
	{
		case '{':
			return skip_object(s);
		case '[':
			return skip_array(s);
		case '"':
			return scan_string(s, &a, &b, &esc);
		case 't':
			return scan_literal(s, "true", 4);
		case 'f':
			return scan_literal(s, "false", 5);
		case 'n':
			return scan_literal(s, "null", 4);
		default:
			if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
				return scan_number(s);
			return fail(s, "unexpected character");
	}
}

static inline bool
key_is(const char *ks, const char *ke, const char *name, int namelen)
{
	return ke - ks == namelen && memcmp(ks, name, namelen) == 0;
}

static void
hash_record(BillyRecord *rec, const char *skip_from, const char *skip_to)
{
	const unsigned char *a = (const unsigned char *) rec->json;
	int			alen = rec->len;
	const unsigned char *b = NULL;
	int			blen = 0;
	uint64		h1;
	uint64		h2;

	if (skip_from != NULL)
	{
		alen = skip_from - rec->json;
		b = (const unsigned char *) skip_to;
		blen = (rec->json + rec->len) - skip_to;
	}
	h1 = hash_bytes_extended(a, alen, UINT64CONST(0x62696c6c792d6131));
	h2 = hash_bytes_extended(a, alen, UINT64CONST(0x62696c6c792d6232));
	if (b != NULL)
	{
		h1 = hash_bytes_extended(b, blen, h1);
		h2 = hash_bytes_extended(b, blen, h2 ^ UINT64CONST(0x9e3779b97f4a7c15));
	}
	memcpy(rec->hash, &h1, 8);
	memcpy(rec->hash + 8, &h2, 8);
}

/*
 * scan_record reads one record object: its text, its "id", and its hash
 * without the value of "downloadUrl".
 */
static bool
scan_record(Scanner *s, BillyRecord *rec)
{
	const char *skip_from = NULL;
	const char *skip_to = NULL;
	bool		have_id = false;
	int			more = 0;

	rec->json = s->p;
	rec->id[0] = '\0';
	if (open_container(s, '}'))
	{
		do
		{
			const char *ks;
			const char *ke;
			const char *vstart;
			bool		esc;

			if (!read_key(s, &ks, &ke))
				return false;
			vstart = s->p;
			if (key_is(ks, ke, "id", 2) && s->p < s->end && *s->p == '"')
			{
				const char *is;
				const char *ie;

				if (!scan_string(s, &is, &ie, &esc))
					return false;
				if (esc || ie - is == 0 || ie - is >= BILLY_MAX_ID)
					return fail(s, "a record's id is empty, too long or escaped");
				memcpy(rec->id, is, ie - is);
				rec->id[ie - is] = '\0';
				have_id = true;
			}
			else
			{
				if (!scan_value(s))
					return false;
				if (key_is(ks, ke, "downloadUrl", 11))
				{
					skip_from = vstart;
					skip_to = s->p;
				}
			}
		} while ((more = next_item(s, '}')) == 1);
		if (more < 0)
			return false;
		s->depth--;
	}
	else if (s->error)
		return false;
	if (!have_id)
		return fail(s, "a record has no string id");
	rec->len = s->p - rec->json;
	hash_record(rec, skip_from, skip_to);
	return true;
}

static void
add_record(BillyPage *page, int *capacity, BillyRecord **slot)
{
	if (page->nrecords == *capacity)
	{
		*capacity = *capacity ? *capacity * 2 : 256;
		page->records = page->records ?
			repalloc(page->records, sizeof(BillyRecord) * *capacity) :
			palloc(sizeof(BillyRecord) * *capacity);
	}
	*slot = &page->records[page->nrecords++];
}

/* read_int parses the number just scanned, if it is a plain integer */
static int64
read_int(const char *from, const char *to)
{
	int64		v = 0;
	bool		neg = false;

	if (from < to && *from == '-')
	{
		neg = true;
		from++;
	}
	for (; from < to; from++)
	{
		if (*from < '0' || *from > '9' || v > PG_INT64_MAX / 10)
			return -1;
		v = v * 10 + (*from - '0');
	}
	return neg ? -v : v;
}

/* scan_paging reads meta.paging's page, pageCount, pageSize and total */
static bool
scan_paging(Scanner *s, BillyPage *page)
{
	const char *ks;
	const char *ke;
	int			more;

	if (!open_container(s, '}'))
		return s->error == NULL;
	do
	{
		const char *ns;

		if (!read_key(s, &ks, &ke))
			return false;
		ns = s->p;
		if (!scan_value(s))
			return false;
		if (key_is(ks, ke, "page", 4))
			page->page = (int) read_int(ns, s->p);
		else if (key_is(ks, ke, "pageCount", 9))
			page->page_count = (int) read_int(ns, s->p);
		else if (key_is(ks, ke, "pageSize", 8))
			page->page_size = (int) read_int(ns, s->p);
		else if (key_is(ks, ke, "total", 5))
			page->total = read_int(ns, s->p);
	} while ((more = next_item(s, '}')) == 1);
	if (more < 0)
		return false;
	s->depth--;
	return true;
}

/* scan_meta reads meta, looking into its paging member */
static bool
scan_meta(Scanner *s, BillyPage *page)
{
	const char *ks;
	const char *ke;
	int			more;

	if (!open_container(s, '}'))
		return s->error == NULL;
	do
	{
		if (!read_key(s, &ks, &ke))
			return false;
		if (key_is(ks, ke, "paging", 6) && s->p < s->end && *s->p == '{')
		{
			if (!scan_paging(s, page))
				return false;
		}
		else if (!scan_value(s))
			return false;
	} while ((more = next_item(s, '}')) == 1);
	if (more < 0)
		return false;
	s->depth--;
	return true;
}

/* scan_records reads the root member: an array of records, or one record */
static bool
scan_records(Scanner *s, BillyPage *page, int *capacity)
{
	BillyRecord *rec;
	int			more;

	if (*s->p == '{')
	{
		add_record(page, capacity, &rec);
		return scan_record(s, rec);
	}
	if (!open_container(s, ']'))
		return s->error == NULL;
	do
	{
		skip_ws(s);
		if (s->p >= s->end || *s->p != '{')
			return fail(s, "a record is not an object");
		add_record(page, capacity, &rec);
		if (!scan_record(s, rec))
			return false;
	} while ((more = next_item(s, ']')) == 1);
	if (more < 0)
		return false;
	s->depth--;
	return true;
}

char *
billy_scan_page(const char *body, int len, const char *root_key, BillyPage *page)
{
	Scanner		s = {body, body + len, body, NULL, 0};
	int			rootlen = strlen(root_key);
	int			capacity = 0;
	int			more = 0;

	memset(page, 0, sizeof(*page));
	page->page = page->page_count = page->page_size = -1;
	page->total = -1;

	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		fail(&s, "the body is not a JSON object");
	else if (open_container(&s, '}'))
	{
		do
		{
			const char *ks;
			const char *ke;
			bool		ok;

			if (!read_key(&s, &ks, &ke))
				break;
			if (key_is(ks, ke, "meta", 4) && s.p < s.end && *s.p == '{')
				ok = scan_meta(&s, page);
			else if (key_is(ks, ke, root_key, rootlen) && s.p < s.end &&
					 (*s.p == '[' || *s.p == '{'))
			{
				page->root_found = true;
				ok = scan_records(&s, page, &capacity);
			}
			else
				ok = scan_value(&s);
			if (!ok)
				break;
		} while ((more = next_item(&s, '}')) == 1);
	}
	if (s.error == NULL)
	{
		skip_ws(&s);
		if (s.p != s.end)
			fail(&s, "text after the end of the JSON value");
		else if (!page->root_found)
			return psprintf("the answer has no \"%s\" member", root_key);
	}
	if (s.error)
		return psprintf("%s (at byte %d of %d)", s.error, (int) (s.p - body), len);
	return NULL;
}
