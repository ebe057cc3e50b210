/*-------------------------------------------------------------------------
 *
 * crypto.h
 *	  Token encryption at rest: key files and AES-256-GCM.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_CRYPTO_H
#define BILLY_CRYPTO_H

#include "postgres.h"

#define BILLY_KEY_BYTES 32
#define BILLY_KEY_ID_CHARS 16

typedef struct BillyKey
{
	uint8		bytes[BILLY_KEY_BYTES];
	char		id[BILLY_KEY_ID_CHARS + 1]; /* public fingerprint */
	const char *setting;		/* "billy.key_file" or "billy.old_key_file" */
} BillyKey;

/* billy_key_load reads the key a setting names; missing=false means error */
extern bool billy_key_load(const char *setting, const char *path, BillyKey *key,
						   bool missing_ok);
extern bytea *billy_encrypt(const BillyKey *key, const char *plaintext,
							const char *aad);
extern char *billy_decrypt(const BillyKey *key, const bytea *sealed,
						   const char *aad);
extern void billy_sha256_hex(const char *data, size_t len, char *out65);

#endif							/* BILLY_CRYPTO_H */
