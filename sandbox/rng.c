/*
 * rng.c - xoshiro256** seeded through splitmix64 (both public-domain
 * algorithms by Blackman and Vigna), plus id and token formats.
 */
#include "rng.h"

/* splitmix64 turns a seed into well-mixed words for seeding */
static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* rotl rotates left */
static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/*
 * rng_seed derives an independent stream from (seed, stream): the same pair
 * always gives the same sequence.
 */
void
rng_seed(Rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t	x = seed ^ (stream * 0xD1B54A32D192ED03ULL);

	(void) splitmix64(&x);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

/* rng_next is one step of xoshiro256** */
uint64_t
rng_next(Rng *r)
{
	uint64_t   *s = r->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* rng_below is uniform over [0, n) by rejecting the biased tail */
uint64_t
rng_below(Rng *r, uint64_t n)
{
	uint64_t	limit,
				x;

	if (n <= 1)
		return 0;
	limit = UINT64_MAX - UINT64_MAX % n;
	do
		x = rng_next(r);
	while (x >= limit);
	return x % n;
}

/* rng_range is uniform over [lo, hi] */
int64_t
rng_range(Rng *r, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t) rng_below(r, (uint64_t) (hi - lo) + 1);
}

/* rng_double is uniform over [0, 1) */
double
rng_double(Rng *r)
{
	return (double) (rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* rng_chance is true with probability p */
int
rng_chance(Rng *r, double p)
{
	return rng_double(r) < p;
}

/* rng_weighted picks an index with probability weights[i] / sum */
int
rng_weighted(Rng *r, const int *weights, int n)
{
	int64_t		total = 0,
				x;

	for (int i = 0; i < n; i++)
		total += weights[i];
	if (total <= 0)
		return 0;
	x = (int64_t) rng_below(r, (uint64_t) total);
	for (int i = 0; i < n; i++)
	{
		if (x < weights[i])
			return i;
		x -= weights[i];
	}
	return n - 1;
}

static const char b64url[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* rng_id writes a 22-character base64url id (132 random bits) */
void
rng_id(Rng *r, char out[ID_LEN + 1])
{
	uint64_t	w = rng_next(r);
	int			bits = 64;

	for (int i = 0; i < ID_LEN; i++)
	{
		if (bits < 6)
		{
			w = rng_next(r);
			bits = 64;
		}
		out[i] = b64url[w & 63];
		w >>= 6;
		bits -= 6;
	}
	out[ID_LEN] = '\0';
}

/* rng_token writes 40 lower-case hex digits */
void
rng_token(Rng *r, char out[TOKEN_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t	w = 0;

	for (int i = 0; i < TOKEN_LEN; i++)
	{
		if (i % 16 == 0)
			w = rng_next(r);
		out[i] = hex[w & 15];
		w >>= 4;
	}
	out[TOKEN_LEN] = '\0';
}
