/*
 * json.h - the hand-written JSON writer: a growable byte buffer and
 * appenders for the value types Billy uses (strings, money, scaled
 * decimals, dates and datetimes).  Records are written straight into the
 * response buffer; nothing is built as a tree.
 */
#ifndef SANDBOX_JSON_H
#define SANDBOX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

typedef struct Buf
{
	char	   *p;
	size_t		len;
	size_t		cap;
} Buf;

void		buf_grow(Buf *b, size_t need);
void		buf_free(Buf *b);
char	   *buf_steal(Buf *b);	/* NUL-terminated; caller frees */

static inline void
buf_reserve(Buf *b, size_t n)
{
	if (b->len + n + 1 > b->cap)
		buf_grow(b, n + 1);
}

static inline void
buf_put(Buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static inline void
buf_putc(Buf *b, char c)
{
	buf_reserve(b, 1);
	b->p[b->len++] = c;
}

static inline void
buf_puts(Buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

/* buf_lit appends a string literal without measuring it at run time */
#define buf_lit(b, lit) buf_put((b), (lit), sizeof(lit) - 1)

/* K(b, "name") writes ,"name": ; K0 writes the first key of an object */
#define K(b, name) buf_lit((b), ",\"" name "\":")
#define K0(b, name) buf_lit((b), "{\"" name "\":")

void		buf_printf(Buf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));

void		json_str(Buf *b, const char *s);	/* null when s is NULL */
void		json_strn(Buf *b, const char *s, size_t n);
void		json_int(Buf *b, int64_t v);
void		json_bool(Buf *b, bool v);
void		json_scaled(Buf *b, int64_t v, int decimals);	/* trimmed decimal */
void		json_money(Buf *b, int64_t ore);	/* 2 decimals, trimmed */
void		json_rate(Buf *b, int64_t r6);	/* 6 decimals, trimmed */
void		json_date(Buf *b, Date d);	/* "YYYY-MM-DD" or null */
void		json_datetime(Buf *b, Time t);	/* "YYYY-MM-DDTHH:MM:SS" or null */

/* plain text forms used in URLs and search */
int			fmt_scaled(char *out, int64_t v, int decimals);
void		fmt_date(char out[11], Date d);
void		fmt_datetime(char out[20], Time t);

#endif
