/*-------------------------------------------------------------------------
 *
 * files.c
 *	  Files for Billy: receipts and other documents uploaded as raw bytes
 *	  (POST /v2/files) and downloaded on demand (GET /v2/files/:id/download).
 *
 * Billy takes PDFs and images (JPEG, PNG, GIF) whose bytes agree with their
 * Content-Type.  billy checks that before anything is sent
 * (billy._file_type: the magic bytes), so a wrong file costs no request.
 *
 * Where the bytes live until they are sent: in the write's args, as the
 * base64 text the preview hashed (billy.write_previews, billy.write_ops),
 * never in a log line, an error or the audit trail, which record the
 * file's name, type, size and SHA-256 instead (the plan's request.file).
 * When the write is done or failed its args keep only that description
 * (97-receipts.sql).  billy_file_request_body decodes them into the request
 * and checks them against the description the preview showed.
 *
 * Downloads are read through the API layer (api.c, charged to the
 * organization's budget like every GET) and returned, never stored:
 * Billy's downloadUrl carries a token and is dropped from the mirror.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "catalog/pg_type.h"
#include "common/base64.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "api.h"
#include "files.h"
#include "http.h"
#include "organizations.h"
#include "sqlexec.h"

PG_FUNCTION_INFO_V1(billy_file_type);
PG_FUNCTION_INFO_V1(billy_base64_bytes);
PG_FUNCTION_INFO_V1(billy_file_content);

/*
 * billy_file_sniff names the type the bytes are, of those Billy takes
 * (application/pdf, image/jpeg, image/png, image/gif), or NULL.
 */
const char *
billy_file_sniff(const unsigned char *b, size_t n)
{
	if (n >= 5 && memcmp(b, "%PDF-", 5) == 0)
		return "application/pdf";
	if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
		return "image/jpeg";
	if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (n >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0))
		return "image/gif";
	return NULL;
}

/* billy_file_type: billy._file_type(content bytea) RETURNS text */
Datum
billy_file_type(PG_FUNCTION_ARGS)
{
	bytea	   *content = PG_GETARG_BYTEA_PP(0);
	const char *t = billy_file_sniff((const unsigned char *) VARDATA_ANY(content),
									 VARSIZE_ANY_EXHDR(content));

	if (t == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(t));
}

/*
 * decode_base64 decodes base64 text (whitespace ignored); NULL when it is
 * not base64.
 */
static bytea *
decode_base64(const char *src, int len)
{
	char	   *packed = palloc(len + 1);
	int			plen = 0;
	int			cap;
	bytea	   *out;
	int			n;

	for (int i = 0; i < len; i++)
		if (src[i] != ' ' && src[i] != '\t' && src[i] != '\n' && src[i] != '\r')
			packed[plen++] = src[i];
	cap = pg_b64_dec_len(plen);
	out = palloc(VARHDRSZ + cap + 1);
	n = plen == 0 ? 0 : pg_b64_decode(packed, plen, VARDATA(out), cap + 1);
	pfree(packed);
	if (n < 0)
	{
		pfree(out);
		return NULL;
	}
	SET_VARSIZE(out, VARHDRSZ + n);
	return out;
}

/*
 * billy_base64_bytes: billy._base64_bytes(t text) RETURNS bytea: the bytes,
 * or NULL when t is not base64 (so a plan can name the argument instead of
 * failing on decode()'s error).
 */
Datum
billy_base64_bytes(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	bytea	   *b = decode_base64(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));

	if (b == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(b);
}

/* sha256_hex: the SHA-256 of n bytes as 64 hexadecimal characters */
static char *
sha256_hex(const unsigned char *b, size_t n)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		d[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 || pg_cryptohash_update(ctx, b, n) < 0 ||
		pg_cryptohash_final(ctx, d, sizeof(d)) < 0)
		elog(ERROR, "billy: could not compute a SHA-256");
	pg_cryptohash_free(ctx);
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	return hex;
}

/*
 * billy_file_request_body makes req the upload a plan describes when the
 * plan's request has a file ({"request": {"file": {"fileName",
 * "contentType", "size", "sha256"}}, "args": {"contentBase64"}}): the raw
 * bytes as the body, their type, X-Filename.  The bytes must be the ones
 * the preview described (size and SHA-256), else nothing is sent.  Returns
 * false for a plan without a file.
 */
bool
billy_file_request_body(BillyHttpRequest *req, const char *plan)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(plan)};
	char	   *file;
	char	   *b64;
	char	   *name;
	char	   *ctype;
	char	   *size;
	char	   *sha;
	bytea	   *bytes;
	const char *sniffed;

	file = billy_sql_value("SELECT $1::pg_catalog.jsonb #>> '{request,file}'", 1, types, values, NULL);
	if (file == NULL)
		return false;
	b64 = billy_sql_value("SELECT $1::pg_catalog.jsonb #>> '{args,contentBase64}'", 1, types, values, NULL);
	values[0] = CStringGetTextDatum(file);
	name = billy_sql_value("SELECT $1::pg_catalog.jsonb ->> 'fileName'", 1, types, values, NULL);
	ctype = billy_sql_value("SELECT $1::pg_catalog.jsonb ->> 'contentType'", 1, types, values, NULL);
	size = billy_sql_value("SELECT $1::pg_catalog.jsonb ->> 'size'", 1, types, values, NULL);
	sha = billy_sql_value("SELECT $1::pg_catalog.jsonb ->> 'sha256'", 1, types, values, NULL);
	if (b64 == NULL || name == NULL || ctype == NULL || size == NULL || sha == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the file of this write is no longer in the outbox"),
				 errdetail("Nothing was sent to Billy.")));
	bytes = decode_base64(b64, strlen(b64));
	sniffed = bytes ? billy_file_sniff((unsigned char *) VARDATA(bytes), VARSIZE(bytes) - VARHDRSZ) : NULL;
	if (bytes == NULL || sniffed == NULL || strcmp(sniffed, ctype) != 0 ||
		(int64) (VARSIZE(bytes) - VARHDRSZ) != pg_strtoint64(size) ||
		strcmp(sha256_hex((unsigned char *) VARDATA(bytes), VARSIZE(bytes) - VARHDRSZ), sha) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the file of this write is not the one its preview described"),
				 errdetail("Nothing was sent to Billy.")));
	for (const char *c = name; *c; c++)
		if ((unsigned char) *c < ' ' || *c == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a file name must not contain control characters"),
					 errdetail("Nothing was sent to Billy.")));
	req->body = VARDATA(bytes);
	req->body_len = VARSIZE(bytes) - VARHDRSZ;
	req->content_type = pstrdup(ctype);
	req->extra_header = psprintf("X-Filename: %s", name);
	return true;
}

/*
 * billy_file_content: billy.file_content(org text, file_id text) RETURNS
 * bytea.  A file's bytes, read from Billy now (GET /files/:id/download):
 * only a file of the mirror that the caller may see.
 */
Datum
billy_file_content(PG_FUNCTION_ARGS)
{
	char	   *org;
	char	   *id;
	char	   *known;
	char	   *path;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	BillyHttpRequest *req;
	bytea	   *out;

	billy_require_preload();
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("file_id must not be null"),
				 errhint("Pass a file's id: billy.list_attachments(org, 'bill:<id>') names them.")));
	org = billy_resolve_organization(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	values[0] = CStringGetTextDatum(org);
	values[1] = CStringGetTextDatum(id);
	/* as the caller: row-level security decides what it may see */
	known = billy_sql_value("SELECT f.id FROM billy.files f WHERE f.organization_id OPERATOR(pg_catalog.=) $1 "
							"AND f.id OPERATOR(pg_catalog.=) $2 AND f.deleted_at IS NULL", 2, types, values, NULL);
	if (known == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("file_id %s is no file of this organization in the mirror", id),
				 errhint("billy.list_attachments(org, 'bill:<id>') names a bill's or invoice's files; sync first if it is new.")));
	path = psprintf("/files/%s/download", known);
	billy_check_api_path(path);
	req = billy_api_fetch(org, path);
	out = palloc(VARHDRSZ + req->response.len);
	SET_VARSIZE(out, VARHDRSZ + req->response.len);
	memcpy(VARDATA(out), req->response.data, req->response.len);
	PG_RETURN_BYTEA_P(out);
}
