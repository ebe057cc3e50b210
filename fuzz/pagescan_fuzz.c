/*-------------------------------------------------------------------------
 *
 * pagescan_fuzz.c
 *	  libFuzzer target for pagescan.c, differential against PostgreSQL's own
 *	  JSON parser: the page scanner must never accept what PostgreSQL
 *	  rejects, never read outside its input, and return records that are
 *	  whole objects with an id.
 *
 *	  make fuzz-pagescan              builds fuzz/pagescan_fuzz (clang-14)
 *	  mkdir -p /tmp/pagescan-corpus
 *	  fuzz/pagescan_fuzz -max_total_time=600 /tmp/pagescan-corpus fuzz/corpus/pagescan
 *
 * (new inputs go to the first directory; the committed seeds stay as they are)
 *
 * Built against PostgreSQL's frontend libpgcommon, whose palloc is malloc.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#include "pagescan.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *body;
	BillyPage	page;
	char	   *problem;
	JsonLexContext *lex;
	JsonParseErrorType err;

	if (size > 1 << 20)
		return 0;
	/* an exact-size copy, so ASan sees any read past the end */
	body = malloc(size ? size : 1);
	memcpy(body, data, size);

	problem = billy_scan_page(body, (int) size, "invoices", &page);

	lex = makeJsonLexContextCstringLen(body, (int) size, PG_UTF8, true);
	err = pg_parse_json(lex, &nullSemAction);

	if (problem == NULL)
	{
		/* accepted: PostgreSQL must accept it too */
		if (err != JSON_SUCCESS)
			abort();
		for (int i = 0; i < page.nrecords; i++)
		{
			BillyRecord *r = &page.records[i];

			if (r->json < body || r->json + r->len > body + size || r->len < 2 ||
				r->json[0] != '{' || r->json[r->len - 1] != '}' || r->id[0] == '\0')
				abort();
		}
	}
	else
		free(problem);
	/* PostgreSQL 15 has no freeJsonLexContext; frontend palloc is malloc */
	if (lex->strval)
	{
		free(lex->strval->data);
		free(lex->strval);
	}
	free(lex);
	if (page.records)
		free(page.records);
	free(body);
	return 0;
}
