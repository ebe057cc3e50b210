/*-------------------------------------------------------------------------
 *
 * crypto.c
 *	  Token encryption at rest: key files and AES-256-GCM (OpenSSL).
 *
 * An access token opens a company's books, so it is stored only sealed:
 * AES-256-GCM with a fresh 96-bit nonce per seal, the organization id as
 * associated data (a sealed token moved to another organization's row does
 * not open), and a key that lives in a file outside the database.  A dump of
 * the database, or a copy of its files without the key file, holds nothing
 * usable.  The key's fingerprint is stored beside each sealed token, so
 * billy.rotate_key() knows which key opens it.
 *
 * Sealed layout: version (1 byte, = 1) | nonce (12) | ciphertext | tag (16).
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include <sys/stat.h>

#include <openssl/evp.h>

#include "storage/fd.h"
#include "utils/builtins.h"

#include "crypto.h"

#define SEAL_VERSION 1
#define NONCE_BYTES 12
#define TAG_BYTES 16

/*
 * billy_sha256_hex writes the lowercase hex SHA-256 of data into out65.
 */
void
billy_sha256_hex(const char *data, size_t len, char *out65)
{
	uint8		digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (EVP_Digest(data, len, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32)
		elog(ERROR, "billy: SHA-256 failed");
	for (int i = 0; i < 32; i++)
		snprintf(out65 + 2 * i, 3, "%02x", digest[i]);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * billy_key_load reads the key file a setting names.  The file must be
 * private to the server's user (no access for group or others) and hold 32
 * raw bytes or 64 hexadecimal characters (surrounding whitespace allowed).
 * Returns false only when the setting is empty and missing_ok.
 */
bool
billy_key_load(const char *setting, const char *path, BillyKey *key,
			   bool missing_ok)
{
	struct stat st;
	FILE	   *f;
	uint8		buf[256];
	size_t		n;
	size_t		start = 0;
	size_t		end;
	char		material[BILLY_KEY_BYTES + 32];
	char		fingerprint[65];

	if (path == NULL || path[0] == '\0')
	{
		if (missing_ok)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("%s is not set", setting),
				 errdetail("billy stores access tokens encrypted with a key kept outside the database."),
				 errhint("Create a key with \"openssl rand -hex 32 > /etc/postgresql/billy.key\", make it readable by the server's user only (chmod 600), set %s to its path in postgresql.conf and reload.", setting)));
	}

	if (stat(path, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read the key file named by %s: %m", setting),
				 errhint("Check that the file exists and that the server's user may read it.")));
	if (!S_ISREG(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the key file named by %s is not a regular file", setting)));
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the key file named by %s is accessible to group or others", setting),
				 errhint("Make it private to the server's user: chmod 600.")));

	f = AllocateFile(path, "rb");
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open the key file named by %s: %m", setting)));
	n = fread(buf, 1, sizeof(buf), f);
	FreeFile(f);

	end = n;
	if (n == BILLY_KEY_BYTES)
		memcpy(key->bytes, buf, BILLY_KEY_BYTES);
	else
	{
		while (start < end && isspace(buf[start]))
			start++;
		while (end > start && isspace(buf[end - 1]))
			end--;
		if (end - start != 2 * BILLY_KEY_BYTES)
		{
			explicit_bzero(buf, sizeof(buf));
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("the key file named by %s does not hold a 256-bit key", setting),
					 errdetail("It must hold 32 raw bytes or 64 hexadecimal characters."),
					 errhint("Create one with: openssl rand -hex 32")));
		}
		for (int i = 0; i < BILLY_KEY_BYTES; i++)
		{
			int			hi = hexval(buf[start + 2 * i]);
			int			lo = hexval(buf[start + 2 * i + 1]);

			if (hi < 0 || lo < 0)
			{
				explicit_bzero(buf, sizeof(buf));
				ereport(ERROR,
						(errcode(ERRCODE_CONFIG_FILE_ERROR),
						 errmsg("the key file named by %s holds a character that is not hexadecimal", setting)));
			}
			key->bytes[i] = (uint8) (hi * 16 + lo);
		}
	}
	explicit_bzero(buf, sizeof(buf));

	/* the fingerprint is a hash of a tagged key: safe to store and show */
	memcpy(material, "billy-key-id:", 13);
	memcpy(material + 13, key->bytes, BILLY_KEY_BYTES);
	billy_sha256_hex(material, 13 + BILLY_KEY_BYTES, fingerprint);
	explicit_bzero(material, sizeof(material));
	memcpy(key->id, fingerprint, BILLY_KEY_ID_CHARS);
	key->id[BILLY_KEY_ID_CHARS] = '\0';
	key->setting = setting;
	return true;
}

/*
 * billy_encrypt seals plaintext under key, bound to aad.
 */
bytea *
billy_encrypt(const BillyKey *key, const char *plaintext, const char *aad)
{
	int			plen = strlen(plaintext);
	int			total = 1 + NONCE_BYTES + plen + TAG_BYTES;
	bytea	   *out = palloc(VARHDRSZ + total);
	uint8	   *p = (uint8 *) VARDATA(out);
	EVP_CIPHER_CTX *ctx;
	int			len = 0;
	bool		ok;

	SET_VARSIZE(out, VARHDRSZ + total);
	p[0] = SEAL_VERSION;
	if (!pg_strong_random(p + 1, NONCE_BYTES))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes for encryption")));

	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) == 1 &&
		EVP_EncryptInit_ex(ctx, NULL, NULL, key->bytes, p + 1) == 1 &&
		EVP_EncryptUpdate(ctx, NULL, &len, (const uint8 *) aad, strlen(aad)) == 1 &&
		EVP_EncryptUpdate(ctx, p + 1 + NONCE_BYTES, &len,
						  (const uint8 *) plaintext, plen) == 1 &&
		len == plen &&
		EVP_EncryptFinal_ex(ctx, p + 1 + NONCE_BYTES + plen, &len) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES,
							p + 1 + NONCE_BYTES + plen) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not encrypt the access token")));
	return out;
}

/*
 * billy_decrypt opens a sealed token, or returns NULL when the key or the
 * associated data do not match (or the seal was tampered with).
 */
char *
billy_decrypt(const BillyKey *key, const bytea *sealed, const char *aad)
{
	int			total = VARSIZE_ANY_EXHDR(sealed);
	const uint8 *p = (const uint8 *) VARDATA_ANY(sealed);
	int			clen = total - 1 - NONCE_BYTES - TAG_BYTES;
	char	   *plain;
	EVP_CIPHER_CTX *ctx;
	int			len = 0;
	bool		ok;

	if (clen < 0 || p[0] != SEAL_VERSION)
		return NULL;
	plain = palloc(clen + 1);

	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) == 1 &&
		EVP_DecryptInit_ex(ctx, NULL, NULL, key->bytes, p + 1) == 1 &&
		EVP_DecryptUpdate(ctx, NULL, &len, (const uint8 *) aad, strlen(aad)) == 1 &&
		EVP_DecryptUpdate(ctx, (uint8 *) plain, &len, p + 1 + NONCE_BYTES, clen) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES,
							(void *) (p + 1 + NONCE_BYTES + clen)) == 1 &&
		EVP_DecryptFinal_ex(ctx, (uint8 *) plain + len, &len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
	{
		explicit_bzero(plain, clen + 1);
		pfree(plain);
		return NULL;
	}
	plain[clen] = '\0';
	return plain;
}
