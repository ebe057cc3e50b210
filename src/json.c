/*-------------------------------------------------------------------------
 *
 * json.c
 *	  Small, non-throwing JSON helpers over PostgreSQL's own parser.
 *
 * Billy's responses are untrusted input: a truncated body, a proxy's HTML
 * error page or a stray \u0000 must become a clear error that names the
 * request, never a crash or a confusing message from deep inside jsonb.
 * So text is checked here (syntax, encoding, what jsonb refuses) before
 * anything else looks at it.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "json.h"

/*
 * billy_json_check validates encoding and syntax.  need_escapes makes the
 * lexer decode \u escapes, so \u0000 (which jsonb refuses) is caught here.
 */
char *
billy_json_check(const char *text, int len)
{
	JsonLexContext *lex;
	JsonParseErrorType err;

	if (len == 0)
		return pstrdup("The body is empty.");
	if (!pg_verifymbstr(text, len, true))
		return pstrdup("The body is not valid UTF-8.");

	lex = makeJsonLexContextCstringLen((char *) text, len,
									   GetDatabaseEncoding(), true);
	err = pg_parse_json(lex, &nullSemAction);
	if (err != JSON_SUCCESS)
	{
		int			offset = (int) (lex->token_start ? lex->token_start - text : 0);

		return psprintf("%s (at byte %d of %d)",
						json_errdetail(err, lex), offset, len);
	}
	return NULL;
}

typedef struct TopFieldsState
{
	JsonLexContext *lex;
	const char *const *names;
	int			nnames;
	char	  **values;
	int			depth;
	int			current;		/* index of the wanted member being read, or
								 * -1 */
	char	   *composite_start;	/* start of an object/array member's text */
	bool		is_object;
} TopFieldsState;

static BILLY_JSON_ACTION_RETURN
tf_struct_start(void *arg)
{
	TopFieldsState *st = arg;

	if (st->depth == 0 && st->lex->token_type != JSON_TOKEN_OBJECT_START)
		st->is_object = false;
	if (st->depth == 1 && st->current >= 0)
		st->composite_start = st->lex->token_start;
	st->depth++;
	BILLY_JSON_ACTION_OK;
}

static BILLY_JSON_ACTION_RETURN
tf_struct_end(void *arg)
{
	TopFieldsState *st = arg;

	st->depth--;
	if (st->depth == 1 && st->current >= 0 && st->composite_start != NULL)
	{
		/* the lexer already looks past the closing bracket */
		st->values[st->current] =
			pnstrdup(st->composite_start,
					 st->lex->prev_token_terminator - st->composite_start);
		st->composite_start = NULL;
	}
	BILLY_JSON_ACTION_OK;
}

static BILLY_JSON_ACTION_RETURN
tf_field_start(void *arg, char *fname, bool isnull)
{
	TopFieldsState *st = arg;

	/* only the top level's members choose what is read */
	if (st->depth != 1)
		BILLY_JSON_ACTION_OK;
	st->current = -1;
	for (int i = 0; i < st->nnames; i++)
	{
		if (strcmp(fname, st->names[i]) == 0)
		{
			st->current = i;
			break;
		}
	}
	BILLY_JSON_ACTION_OK;
}

static BILLY_JSON_ACTION_RETURN
tf_scalar(void *arg, char *token, JsonTokenType tokentype)
{
	TopFieldsState *st = arg;

	if (st->depth == 0)
		st->is_object = false;
	else if (st->depth == 1 && st->current >= 0 && tokentype != JSON_TOKEN_NULL)
		st->values[st->current] = pstrdup(token);
	BILLY_JSON_ACTION_OK;
}

bool
billy_json_top_fields(const char *text, int len,
					  const char *const *names, int nnames, char **values)
{
	TopFieldsState st = {0};
	JsonSemAction sem = {0};
	JsonLexContext *lex;

	for (int i = 0; i < nnames; i++)
		values[i] = NULL;
	if (billy_json_check(text, len) != NULL)
		return false;

	lex = makeJsonLexContextCstringLen((char *) text, len,
									   GetDatabaseEncoding(), true);
	st.lex = lex;
	st.names = names;
	st.nnames = nnames;
	st.values = values;
	st.current = -1;
	st.is_object = true;

	sem.semstate = &st;
	sem.object_start = tf_struct_start;
	sem.array_start = tf_struct_start;
	sem.object_end = tf_struct_end;
	sem.array_end = tf_struct_end;
	sem.object_field_start = tf_field_start;
	sem.scalar = tf_scalar;

	if (pg_parse_json(lex, &sem) != JSON_SUCCESS)
		return false;
	return st.is_object;
}

typedef struct ParseContext
{
	const char *what;
} ParseContext;

static void
parse_error_context(void *arg)
{
	ParseContext *pc = arg;

	errcontext("while reading %s", pc->what);
}

/*
 * billy_jsonb_parse turns checked text into jsonb.  A failure the checker
 * cannot foresee (a number too large for numeric) still names the response.
 */
Jsonb *
billy_jsonb_parse(const char *text, int len, const char *what)
{
	ErrorContextCallback errcb;
	ParseContext pc = {what};
	Datum		result;
	char	   *copy = pnstrdup(text, len);

	errcb.callback = parse_error_context;
	errcb.arg = &pc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(copy));

	error_context_stack = errcb.previous;
	pfree(copy);
	return DatumGetJsonbP(result);
}
