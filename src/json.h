/*-------------------------------------------------------------------------
 *
 * json.h
 *	  Small, non-throwing JSON helpers over PostgreSQL's own parser.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_JSON_H
#define BILLY_JSON_H

#include "postgres.h"

#include "utils/jsonb.h"

/*
 * billy_json_check returns NULL when text is valid JSON that jsonb accepts
 * too (no \u0000), else a palloc'd sentence saying what is wrong and where.
 */
extern char *billy_json_check(const char *text, int len);

/*
 * billy_json_top_fields finds the named members of a top-level object.
 * values[i] gets a scalar member's value (strings unescaped, null as NULL)
 * or the raw text of an object or array member; missing members stay NULL.
 * Returns false when the text is not a JSON object.
 */
extern bool billy_json_top_fields(const char *text, int len,
								  const char *const *names, int nnames,
								  char **values);

/* billy_jsonb_parse parses checked text into jsonb, with an error context */
extern Jsonb *billy_jsonb_parse(const char *text, int len, const char *what);

#endif							/* BILLY_JSON_H */
