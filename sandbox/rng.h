/*
 * rng.h - the seeded pseudo-random generator (xoshiro256**, seeded through
 * splitmix64) that makes every generated id, token and record a function of
 * the seed, and the id/token formats built from it.
 */
#ifndef SANDBOX_RNG_H
#define SANDBOX_RNG_H

#include <stdint.h>

#define ID_LEN 22				/* Billy ids: 22 base64url characters */
#define TOKEN_LEN 40			/* access tokens: 40 lower-case hex digits */

typedef struct Rng
{
	uint64_t	s[4];
} Rng;

void		rng_seed(Rng *r, uint64_t seed, uint64_t stream);
uint64_t	rng_next(Rng *r);
uint64_t	rng_below(Rng *r, uint64_t n);	/* uniform in [0, n) */
int64_t		rng_range(Rng *r, int64_t lo, int64_t hi);	/* inclusive */
double		rng_double(Rng *r); /* [0, 1) */
int			rng_chance(Rng *r, double p);
int			rng_weighted(Rng *r, const int *weights, int n);
void		rng_id(Rng *r, char out[ID_LEN + 1]);
void		rng_token(Rng *r, char out[TOKEN_LEN + 1]);

#endif
