/*
 * util.c - small shared helpers: allocation, arenas, civil dates,
 * rounding of parsed numbers, case folding and slugs.
 */
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * die prints a message on stderr and exits with status 2; used for
 * startup errors and out-of-memory.
 */
void
die(const char *fmt,...)
{
	va_list		ap;

	fputs("billy-sandbox: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* xmalloc allocates or dies */
void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* xcalloc allocates zeroed memory or dies */
void *
xcalloc(size_t n, size_t m)
{
	void	   *p = calloc(n ? n : 1, m ? m : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* xrealloc resizes or dies */
void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		die("out of memory");
	return p;
}

/* xstrdup copies a string or dies */
char *
xstrdup(const char *s)
{
	size_t		n = strlen(s) + 1;
	char	   *p = xmalloc(n);

	memcpy(p, s, n);
	return p;
}

struct ArenaBlock
{
	ArenaBlock *next;
	char		data[];
};

#define ARENA_BLOCK (256 * 1024)

/*
 * arena_alloc returns n bytes (8-aligned) that live until arena_free.
 * Large requests get a block of their own.
 */
void *
arena_alloc(Arena *a, size_t n)
{
	n = (n + 7) & ~(size_t) 7;
	if (a->head == NULL || a->used + n > a->size)
	{
		size_t		sz = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
		ArenaBlock *b = xmalloc(sizeof(ArenaBlock) + sz);

		if (sz == n && a->head != NULL)
		{
			/* keep the current block open for small allocations */
			b->next = a->head->next;
			a->head->next = b;
			return b->data;
		}
		b->next = a->head;
		a->head = b;
		a->used = 0;
		a->size = sz;
	}
	a->used += n;
	return a->head->data + a->used - n;
}

/* arena_strndup copies n bytes into the arena, NUL-terminated */
const char *
arena_strndup(Arena *a, const char *s, size_t n)
{
	char	   *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* arena_strdup copies a string into the arena (NULL stays NULL) */
const char *
arena_strdup(Arena *a, const char *s)
{
	if (s == NULL)
		return NULL;
	return arena_strndup(a, s, strlen(s));
}

/* arena_printf formats into the arena (at most 1023 bytes) */
const char *
arena_printf(Arena *a, const char *fmt,...)
{
	char		tmp[1024];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t) n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	return arena_strndup(a, tmp, (size_t) n);
}

/* arena_free releases every block of an arena */
void
arena_free(Arena *a)
{
	ArenaBlock *b = a->head;

	while (b)
	{
		ArenaBlock *next = b->next;

		free(b);
		b = next;
	}
	a->head = NULL;
	a->used = a->size = 0;
}

/*
 * date_from_ymd counts days since 1970-01-01 in the proleptic Gregorian
 * calendar, using 400-year eras that start on 1 March so that the leap day
 * is the last day of a year.
 */
Date
date_from_ymd(int y, int m, int d)
{
	int			yy = m <= 2 ? y - 1 : y;
	int			era = (yy >= 0 ? yy : yy - 399) / 400;
	int			yoe = yy - era * 400;
	int			mp = m > 2 ? m - 3 : m + 9;
	int			doy = (153 * mp + 2) / 5 + d - 1;
	int			doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

/* date_to_ymd is the inverse of date_from_ymd */
void
date_to_ymd(Date date, int *y, int *m, int *d)
{
	int			z = date + 719468;
	int			era = (z >= 0 ? z : z - 146096) / 146097;
	int			doe = z - era * 146097;
	int			yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int			doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int			mp = (5 * doy + 2) / 153;
	int			mm = mp < 10 ? mp + 3 : mp - 9;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mm;
	*y = yoe + era * 400 + (mm <= 2);
}

/* date_weekday: 0 for Monday .. 6 for Sunday */
int
date_weekday(Date date)
{
	/* 1970-01-01 was a Thursday (3 when Monday is 0) */
	int			w = (date + 3) % 7;

	return w < 0 ? w + 7 : w;
}

/* days_in_month, leap years included */
int
days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

/* date_parse accepts exactly YYYY-MM-DD with a valid day */
bool
date_parse(const char *s, Date *out)
{
	int			y,
				m,
				d;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char) s[i]))
			return false;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return false;
	*out = date_from_ymd(y, m, d);
	return true;
}

/* date_add_months moves by whole months, clamping the day to the month */
Date
date_add_months(Date date, int months)
{
	int			y,
				m,
				d,
				idx;

	date_to_ymd(date, &y, &m, &d);
	idx = y * 12 + (m - 1) + months;
	y = idx / 12;
	m = idx % 12 + 1;
	return date_from_ymd(y, m, Min(d, days_in_month(y, m)));
}

/* time_from_date: seconds since the epoch at a time of day */
Time
time_from_date(Date date, int hh, int mm, int ss)
{
	return (Time) date * 86400 + hh * 3600 + mm * 60 + ss;
}

/* date_of_time: the day of a time */
Date
date_of_time(Time t)
{
	return (Date) (t >= 0 ? t / 86400 : (t - 86399) / 86400);
}

/* date_today_utc: today in UTC */
Date
date_today_utc(void)
{
	return date_of_time((Time) time(NULL));
}

/*
 * double_to_scaled converts a parsed JSON number to an integer with
 * 'scale' units per 1, rounding half away from zero.  A decimal input with
 * no more decimals than the scale comes back exact (the double's error is
 * far below half a unit).  Fails on non-finite or out-of-range values.
 */
bool
double_to_scaled(double v, int64_t scale, int64_t *out)
{
	double		x = v * (double) scale;

	if (!isfinite(x) || fabs(x) > 9.0e15)
		return false;
	*out = (int64_t) llround(x);
	return true;
}

/*
 * fold_lower copies src into dst lower-cased: ASCII letters and the
 * Latin-1 capitals encoded as C3 80..C3 9E (except the multiplication sign).
 */
void
fold_lower(char *dst, size_t dstsz, const char *src)
{
	size_t		i = 0;

	if (dstsz == 0)
		return;
	for (; *src && i + 1 < dstsz; src++)
	{
		unsigned char c = (unsigned char) *src;

		if (c >= 'A' && c <= 'Z')
			c = c - 'A' + 'a';
		else if (c == 0xC3 && i + 2 < dstsz && src[1])
		{
			unsigned char c2 = (unsigned char) src[1];

			if (c2 >= 0x80 && c2 <= 0x9E && c2 != 0x97)
				c2 += 0x20;
			dst[i++] = (char) c;
			dst[i++] = (char) c2;
			src++;
			continue;
		}
		dst[i++] = (char) c;
	}
	dst[i] = '\0';
}

/* contains_folded: does hay, folded, contain the already folded needle? */
bool
contains_folded(const char *hay, const char *folded_needle)
{
	char		buf[1024];

	if (hay == NULL)
		return false;
	fold_lower(buf, sizeof(buf), hay);
	return strstr(buf, folded_needle) != NULL;
}

/*
 * ascii_slug writes a lower-case ASCII version of src: Danish letters are
 * spelt out (æ ae, ø oe, å aa), other accented Latin-1 letters lose their
 * accent, and runs of anything else become one 'sep' (none if sep is 0).
 */
void
ascii_slug(char *dst, size_t dstsz, const char *src, char sep)
{
	size_t		i = 0;
	bool		pending = false;

	for (; *src && i + 3 < dstsz; src++)
	{
		unsigned char c = (unsigned char) *src;
		const char *rep = NULL;
		char		one[2] = {0, 0};

		if (isalnum(c))
		{
			one[0] = (char) tolower(c);
			rep = one;
		}
		else if (c == 0xC3 && src[1])
		{
			unsigned char c2 = (unsigned char) src[1] | 0x20;

			src++;
			switch (c2)
			{
				case 0xA6:
					rep = "ae";
					break;
				case 0xB8:
					rep = "oe";
					break;
				case 0xA5:
					rep = "aa";
					break;
				case 0xA4:
					rep = "a";
					break;
				case 0xB6:
					rep = "o";
					break;
				case 0xBC:
					rep = "u";
					break;
				case 0xA9:
				case 0xA8:
					rep = "e";
					break;
				case 0xB3:
					rep = "o";
					break;
				default:
					rep = NULL;
			}
		}
		else if (c == 0xC5 && src[1])
		{
			/* Polish letters such as ś, ł, ń: keep the base letter */
			unsigned char c2 = (unsigned char) src[1];

			src++;
			one[0] = c2 == 0x82 || c2 == 0x81 ? 'l' : c2 == 0x84 || c2 == 0x83 ? 'n' : 's';
			rep = one;
		}
		if (rep == NULL)
		{
			pending = true;
			continue;
		}
		if (pending && sep && i > 0)
			dst[i++] = sep;
		pending = false;
		for (; *rep && i + 1 < dstsz; rep++)
			dst[i++] = *rep;
	}
	dst[i] = '\0';
}

/* mono_now: the monotonic clock in seconds */
double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}
