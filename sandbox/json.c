/*
 * json.c - the JSON writer.  Numbers are formatted from integers, never
 * from doubles: money is øre printed as major units with trailing zeros
 * trimmed ("46.11", "46.1", "30"), like Billy's own responses.
 */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* buf_grow makes room for need more bytes (and a NUL) */
void
buf_grow(Buf *b, size_t need)
{
	size_t		cap = b->cap ? b->cap : 4096;

	while (cap < b->len + need)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

/* buf_free releases a buffer */
void
buf_free(Buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* buf_steal hands over the NUL-terminated contents */
char *
buf_steal(Buf *b)
{
	char	   *p;

	buf_reserve(b, 0);
	b->p[b->len] = '\0';
	p = b->p;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

/* buf_printf appends formatted text */
void
buf_printf(Buf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	buf_reserve(b, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

/*
 * json_strn writes a quoted, escaped string.  Bytes >= 0x80 pass through
 * (the store holds valid UTF-8); control characters, quote and backslash
 * are escaped.
 */
void
json_strn(Buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char	   *o;

	buf_reserve(b, n * 6 + 2);
	o = b->p + b->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
		{
			*o++ = (char) c;
			continue;
		}
		*o++ = '\\';
		switch (c)
		{
			case '"':
				*o++ = '"';
				break;
			case '\\':
				*o++ = '\\';
				break;
			case '\n':
				*o++ = 'n';
				break;
			case '\r':
				*o++ = 'r';
				break;
			case '\t':
				*o++ = 't';
				break;
			case '\b':
				*o++ = 'b';
				break;
			case '\f':
				*o++ = 'f';
				break;
			default:
				*o++ = 'u';
				*o++ = '0';
				*o++ = '0';
				*o++ = hex[c >> 4];
				*o++ = hex[c & 15];
		}
	}
	*o++ = '"';
	b->len = (size_t) (o - b->p);
}

/* json_str writes a string, or null for NULL */
void
json_str(Buf *b, const char *s)
{
	if (s == NULL)
		buf_lit(b, "null");
	else
		json_strn(b, s, strlen(s));
}

/* fmt_u64 writes the decimal digits of v and returns how many */
static inline int
fmt_u64(char *out, uint64_t v)
{
	char		tmp[24];
	int			n = 0;

	do
	{
		tmp[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v);
	for (int i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

/* json_int writes an integer */
void
json_int(Buf *b, int64_t v)
{
	buf_reserve(b, 24);
	if (v < 0)
	{
		b->p[b->len++] = '-';
		b->len += fmt_u64(b->p + b->len, (uint64_t) 0 - (uint64_t) v);
	}
	else
		b->len += fmt_u64(b->p + b->len, (uint64_t) v);
}

/* json_bool writes true or false */
void
json_bool(Buf *b, bool v)
{
	if (v)
		buf_lit(b, "true");
	else
		buf_lit(b, "false");
}

/*
 * fmt_scaled formats v / 10^decimals as a decimal with trailing zeros (and
 * a bare point) removed: 4611 -> "46.11", 4610 -> "46.1", 3000 -> "30".
 */
int
fmt_scaled(char *out, int64_t v, int decimals)
{
	uint64_t	a = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
	uint64_t	pow = 1;
	uint64_t	ip,
				fp;
	int			n = 0;

	for (int i = 0; i < decimals; i++)
		pow *= 10;
	ip = a / pow;
	fp = a % pow;
	if (v < 0)
		out[n++] = '-';
	n += fmt_u64(out + n, ip);
	if (fp)
	{
		int			d = decimals;

		while (fp % 10 == 0)
		{
			fp /= 10;
			d--;
		}
		out[n++] = '.';
		for (int i = d - 1; i >= 0; i--)
		{
			out[n + i] = (char) ('0' + fp % 10);
			fp /= 10;
		}
		n += d;
	}
	out[n] = '\0';
	return n;
}

/* json_scaled writes a scaled integer as a trimmed decimal */
void
json_scaled(Buf *b, int64_t v, int decimals)
{
	buf_reserve(b, 32);
	b->len += fmt_scaled(b->p + b->len, v, decimals);
}

/* json_money writes øre as major units */
void
json_money(Buf *b, int64_t ore)
{
	json_scaled(b, ore, 2);
}

/* json_rate writes a rate with up to 6 decimals */
void
json_rate(Buf *b, int64_t r6)
{
	json_scaled(b, r6, 6);
}

/* put2 writes two digits */
static inline void
put2(char *o, int v)
{
	o[0] = (char) ('0' + v / 10);
	o[1] = (char) ('0' + v % 10);
}

/* fmt_date formats YYYY-MM-DD */
void
fmt_date(char out[11], Date d)
{
	int			y,
				m,
				dd;

	date_to_ymd(d, &y, &m, &dd);
	put2(out, y / 100);
	put2(out + 2, y % 100);
	out[4] = '-';
	put2(out + 5, m);
	out[7] = '-';
	put2(out + 8, dd);
	out[10] = '\0';
}

/* fmt_datetime formats YYYY-MM-DDTHH:MM:SS */
void
fmt_datetime(char out[20], Time t)
{
	Date		d = date_of_time(t);
	int64_t		s = t - (int64_t) d * 86400;

	fmt_date(out, d);
	out[10] = 'T';
	put2(out + 11, (int) (s / 3600));
	out[13] = ':';
	put2(out + 14, (int) (s / 60 % 60));
	out[16] = ':';
	put2(out + 17, (int) (s % 60));
	out[19] = '\0';
}

/* json_date writes a quoted date, or null */
void
json_date(Buf *b, Date d)
{
	if (d == DATE_NONE)
	{
		buf_lit(b, "null");
		return;
	}
	buf_reserve(b, 12);
	b->p[b->len] = '"';
	fmt_date(b->p + b->len + 1, d);
	b->p[b->len + 11] = '"';
	b->len += 12;
}

/* json_datetime writes a quoted datetime, or null */
void
json_datetime(Buf *b, Time t)
{
	if (t == TIME_NONE)
	{
		buf_lit(b, "null");
		return;
	}
	buf_reserve(b, 21);
	b->p[b->len] = '"';
	fmt_datetime(b->p + b->len + 1, t);
	b->p[b->len + 20] = '"';
	b->len += 21;
}
