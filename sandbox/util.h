/*
 * util.h - small shared helpers of billy-sandbox: arenas, growable tables,
 * civil dates, exact money rounding, hashing and string folding.
 *
 * Vocabulary used across the sandbox:
 *   a Date is a day count since 1970-01-01 (DATE_NONE when absent);
 *   a Time is seconds since the epoch, UTC (TIME_NONE when absent);
 *   money is int64 øre (1/100 of the currency's major unit);
 *   a "scaled" value is an int64 with a fixed number of decimals
 *   (quantities and percentages 4, rates 6).
 */
#ifndef SANDBOX_UTIL_H
#define SANDBOX_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int32_t Date;
typedef int64_t Time;

#define DATE_NONE INT32_MIN
#define TIME_NONE INT64_MIN

#define QTY_SCALE 10000			/* quantities and percentages: 4 decimals */
#define RATE_SCALE 1000000		/* tax and exchange rates: 6 decimals */

/* Min/Max evaluate each argument once (arguments may draw random numbers) */
#define Min(a, b) ({ __typeof__(a) min_a_ = (a); __typeof__(b) min_b_ = (b); min_a_ < min_b_ ? min_a_ : min_b_; })
#define Max(a, b) ({ __typeof__(a) max_a_ = (a); __typeof__(b) max_b_ = (b); max_a_ > max_b_ ? max_a_ : max_b_; })
#define lengthof(a) ((int) (sizeof(a) / sizeof((a)[0])))

/* out of memory is fatal: the sandbox has nothing sensible to fall back to */
void	   *xmalloc(size_t n);
void	   *xcalloc(size_t n, size_t m);
void	   *xrealloc(void *p, size_t n);
char	   *xstrdup(const char *s);
void		die(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));

/* Arena: bump allocator for strings that live as long as their organization */
typedef struct ArenaBlock ArenaBlock;
typedef struct Arena
{
	ArenaBlock *head;
	size_t		used;
	size_t		size;
} Arena;

void	   *arena_alloc(Arena *a, size_t n);
const char *arena_strdup(Arena *a, const char *s);
const char *arena_strndup(Arena *a, const char *s, size_t n);
const char *arena_printf(Arena *a, const char *fmt,...) __attribute__((format(printf, 2, 3)));
void		arena_free(Arena *a);

/* civil dates */
Date		date_from_ymd(int y, int m, int d);
void		date_to_ymd(Date date, int *y, int *m, int *d);
int			date_weekday(Date date);	/* 0 = Monday .. 6 = Sunday */
int			days_in_month(int y, int m);
bool		date_parse(const char *s, Date *out);	/* strict YYYY-MM-DD */
Date		date_add_months(Date date, int months);
Time		time_from_date(Date date, int hh, int mm, int ss);
Date		date_of_time(Time t);
Date		date_today_utc(void);

/* exact rounding: n/d rounded half away from zero (d > 0) */
static inline __int128
round_div128(__int128 n, __int128 d)
{
	if (n >= 0)
		return (2 * n + d) / (2 * d);
	return -((2 * -n + d) / (2 * d));
}

static inline int64_t
round_div(int64_t n, int64_t d)
{
	return (int64_t) round_div128(n, d);
}

/* double (parsed JSON number) to a scaled integer, half away from zero */
bool		double_to_scaled(double v, int64_t scale, int64_t *out);

/* hashing */
static inline uint64_t
hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t	h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

/* lower-case ASCII and Latin-1 letters in UTF-8 (Æ -> æ, Ø -> ø, Å -> å) */
void		fold_lower(char *dst, size_t dstsz, const char *src);
bool		contains_folded(const char *hay, const char *folded_needle);

/* ASCII slug of a name for e-mail addresses and domains (æ -> ae ...) */
void		ascii_slug(char *dst, size_t dstsz, const char *src, char sep);

/* monotonic clock in seconds */
double		mono_now(void);

#endif
