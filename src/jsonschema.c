/*-------------------------------------------------------------------------
 *
 * jsonschema.c
 *	  Checking tool arguments (and, in tests, tool results) against JSON
 *	  Schema, directly over jsonb: the keywords MCP tool schemas use.
 *
 * MCP clients send tools/call arguments that a model wrote; the model reads
 * what was wrong and tries again (SEP-1303), so every message names the
 * argument by its path and says what was expected.  Supported: type (one or
 * a list), enum, const, properties, required, additionalProperties (false or
 * a schema), minProperties, maxProperties, items, minItems, maxItems,
 * uniqueItems, minLength, maxLength (characters), pattern (PostgreSQL's ARE),
 * format (date, date-time, time, email, uuid), minimum, maximum,
 * exclusiveMinimum, exclusiveMaximum, multipleOf, anyOf, oneOf, allOf.
 * Unknown keywords are ignored, as the standard asks.
 *
 * It is also the one validator of write arguments: billy._check_args
 * checks a write operation's args against its input_schema
 * (billy.write_catalog) and returns every problem, not only the first, each
 * as {"field", "message"}, so that billy.preview_write names them all.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "regex/regex.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "jsonformats.h"
#include "jsonschema.h"

static char *check_value(JsonbContainer *schema, JsonbValue *v, StringInfo path);

/*
 * Collecting every problem (billy._check_args) instead of stopping at the
 * first: containers record what their members return and go on.  NULL when
 * stopping at the first (tools/call).
 */
static JsonbParseState *collect_state = NULL;
static bool collecting = false;
static int	collected = 0;

#define MAX_COLLECTED 50

/*
 * collect records a problem of the value at field: the message without
 * the leading "field" that check_value's sentences start with.
 */
static void
collect(const char *field, const char *err)
{
	JsonbValue	k,
				v;
	size_t		flen = strlen(field);
	const char *msg = err;

	if (collected >= MAX_COLLECTED)
		return;
	collected++;
	if (flen > 0 && err[0] == '"' && strncmp(err + 1, field, flen) == 0 &&
		err[flen + 1] == '"' && err[flen + 2] == ' ')
		msg = err + flen + 3;
	pushJsonbValue(&collect_state, WJB_BEGIN_OBJECT, NULL);
	k.type = jbvString;
	k.val.string.val = "field";
	k.val.string.len = 5;
	pushJsonbValue(&collect_state, WJB_KEY, &k);
	v.type = jbvString;
	v.val.string.val = pstrdup(field);
	v.val.string.len = flen;
	pushJsonbValue(&collect_state, WJB_VALUE, &v);
	k.val.string.val = "message";
	k.val.string.len = 7;
	pushJsonbValue(&collect_state, WJB_KEY, &k);
	v.val.string.val = pstrdup(msg);
	v.val.string.len = strlen(msg);
	pushJsonbValue(&collect_state, WJB_VALUE, &v);
	pushJsonbValue(&collect_state, WJB_END_OBJECT, NULL);
}

/*
 * billy_json_key finds a member of an object container by name.
 */
JsonbValue *
billy_json_key(JsonbContainer *obj, const char *key)
{
	if (obj == NULL || !JsonContainerIsObject(obj))
		return NULL;
	return getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);
}

/*
 * billy_jsonb_root_value gives a Jsonb's root as a JsonbValue: the scalar of
 * a scalar document, else the container as jbvBinary.
 */
void
billy_jsonb_root_value(Jsonb *jb, JsonbValue *v)
{
	if (JB_ROOT_IS_SCALAR(jb))
	{
		JsonbExtractScalar(&jb->root, v);
		return;
	}
	v->type = jbvBinary;
	v->val.binary.data = &jb->root;
	v->val.binary.len = VARSIZE(jb) - VARHDRSZ;
}

static void
append_scalar(StringInfo out, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoString(out, "null");
			break;
		case jbvBool:
			appendStringInfoString(out, v->val.boolean ? "true" : "false");
			break;
		case jbvNumeric:
			appendStringInfoString(out,
								   DatumGetCString(DirectFunctionCall1(numeric_out,
																	   NumericGetDatum(v->val.numeric))));
			break;
		case jbvString:
			{
				char	   *s = pnstrdup(v->val.string.val, v->val.string.len);

				escape_json(out, s);
				pfree(s);
				break;
			}
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
}

/*
 * billy_append_json writes a value as compact JSON: no spaces after colons
 * and commas, unlike jsonb's own output, since results go to a model that
 * pays for every byte.
 */
void
billy_append_json(StringInfo out, JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	tok;
	JsonbIteratorToken r;
	bool		first = true;
	bool		raw = false;

	if (v->type != jbvBinary)
	{
		append_scalar(out, v);
		return;
	}
	it = JsonbIteratorInit(v->val.binary.data);
	while ((r = JsonbIteratorNext(&it, &tok, false)) != WJB_DONE)
	{
		switch (r)
		{
			case WJB_BEGIN_ARRAY:
				if (tok.val.array.rawScalar)
				{
					raw = true;
					break;
				}
				if (!first)
					appendStringInfoChar(out, ',');
				appendStringInfoChar(out, '[');
				first = true;
				break;
			case WJB_BEGIN_OBJECT:
				if (!first)
					appendStringInfoChar(out, ',');
				appendStringInfoChar(out, '{');
				first = true;
				break;
			case WJB_END_ARRAY:
				if (!raw)
					appendStringInfoChar(out, ']');
				first = false;
				break;
			case WJB_END_OBJECT:
				appendStringInfoChar(out, '}');
				first = false;
				break;
			case WJB_KEY:
				if (!first)
					appendStringInfoChar(out, ',');
				append_scalar(out, &tok);
				appendStringInfoChar(out, ':');
				first = true;	/* the value follows without a comma */
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (!first)
					appendStringInfoChar(out, ',');
				append_scalar(out, &tok);
				first = false;
				break;
			default:
				break;
		}
	}
}

/* the JSON type of a value: "null", "boolean", "number", "string", "array", "object" */
static const char *
json_type(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvBool:
			return "boolean";
		case jbvNumeric:
			return "number";
		case jbvString:
			return "string";
		case jbvBinary:
			return JsonContainerIsObject(v->val.binary.data) ? "object" : "array";
		default:
			return "value";
	}
}

/* is_integral: a number with no fraction (5 and 5.0 are integers, 5.5 is not) */
static bool
is_integral(Numeric n)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
	char	   *dot = strchr(s, '.');

	if (strcmp(s, "NaN") == 0 || strstr(s, "Infinity"))
		return false;
	if (dot == NULL)
		return true;
	for (dot++; *dot; dot++)
		if (*dot != '0')
			return false;
	return true;
}

static bool
type_matches(const char *want, int wantlen, JsonbValue *v)
{
	const char *have = json_type(v);

	if (wantlen == 7 && strncmp(want, "integer", 7) == 0)
		return v->type == jbvNumeric && is_integral(v->val.numeric);
	return strlen(have) == (size_t) wantlen && strncmp(want, have, wantlen) == 0;
}

/* path_name: how a message names the value at path */
static const char *
path_name(StringInfo path)
{
	if (path->len == 0)
		return "the arguments";
	return psprintf("\"%s\"", path->data);
}

static Jsonb *
value_to_jsonb(JsonbValue *v)
{
	return JsonbValueToJsonb(v);
}

static bool
json_equal(JsonbValue *a, JsonbValue *b)
{
	Jsonb	   *ja = value_to_jsonb(a);
	Jsonb	   *jb = value_to_jsonb(b);

	return compareJsonbContainers(&ja->root, &jb->root) == 0;
}

static char *
value_text(JsonbValue *v)
{
	StringInfoData s;

	initStringInfo(&s);
	billy_append_json(&s, v);
	if (s.len > 60)
	{
		s.len = 57;
		s.data[57] = '\0';
		appendStringInfoString(&s, "...");
	}
	return s.data;
}

static int
numeric_compare(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

static char *
schema_string(JsonbContainer *schema, const char *key)
{
	JsonbValue *v = billy_json_key(schema, key);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* the member or array element path */
static void
push_key(StringInfo path, const char *key, int keylen, int *saved)
{
	*saved = path->len;
	if (path->len > 0)
		appendStringInfoChar(path, '.');
	appendBinaryStringInfo(path, key, keylen);
}

static void
pop(StringInfo path, int saved)
{
	path->len = saved;
	path->data[saved] = '\0';
}

static char *
check_type(JsonbContainer *schema, JsonbValue *v, StringInfo path)
{
	JsonbValue *t = billy_json_key(schema, "type");

	if (t == NULL)
		return NULL;
	if (t->type == jbvString)
	{
		if (type_matches(t->val.string.val, t->val.string.len, v))
			return NULL;
		return psprintf("%s must be %s %.*s, not %s", path_name(path),
						(t->val.string.val[0] == 'a' || t->val.string.val[0] == 'o' ||
						 t->val.string.val[0] == 'i') ? "an" : "a",
						t->val.string.len, t->val.string.val,
						v->type == jbvNull ? "null" : json_type(v));
	}
	if (t->type == jbvBinary && !JsonContainerIsObject(t->val.binary.data))
	{
		JsonbContainer *arr = t->val.binary.data;
		int			n = JsonContainerSize(arr);
		StringInfoData names;

		initStringInfo(&names);
		for (int i = 0; i < n; i++)
		{
			JsonbValue *e = getIthJsonbValueFromContainer(arr, i);

			if (e->type != jbvString)
				continue;
			if (type_matches(e->val.string.val, e->val.string.len, v))
				return NULL;
			appendStringInfo(&names, "%s%.*s", names.len ? " or " : "", e->val.string.len, e->val.string.val);
		}
		return psprintf("%s must be %s, not %s", path_name(path), names.data, json_type(v));
	}
	return NULL;
}

static char *
check_enum(JsonbContainer *schema, JsonbValue *v, StringInfo path)
{
	JsonbValue *e = billy_json_key(schema, "enum");
	JsonbValue *c = billy_json_key(schema, "const");

	if (c != NULL && !json_equal(c, v))
		return psprintf("%s must be %s", path_name(path), value_text(c));
	if (e != NULL && e->type == jbvBinary && !JsonContainerIsObject(e->val.binary.data))
	{
		JsonbContainer *arr = e->val.binary.data;
		int			n = JsonContainerSize(arr);
		StringInfoData names;

		for (int i = 0; i < n; i++)
			if (json_equal(getIthJsonbValueFromContainer(arr, i), v))
				return NULL;
		initStringInfo(&names);
		for (int i = 0; i < n; i++)
			appendStringInfo(&names, "%s%s", i ? ", " : "", value_text(getIthJsonbValueFromContainer(arr, i)));
		return psprintf("%s must be one of %s, not %s", path_name(path), names.data, value_text(v));
	}
	return NULL;
}

static char *
check_number(JsonbContainer *schema, JsonbValue *v, StringInfo path)
{
	JsonbValue *b;

	if ((b = billy_json_key(schema, "minimum")) && b->type == jbvNumeric &&
		numeric_compare(v->val.numeric, b->val.numeric) < 0)
		return psprintf("%s must be at least %s", path_name(path), value_text(b));
	if ((b = billy_json_key(schema, "maximum")) && b->type == jbvNumeric &&
		numeric_compare(v->val.numeric, b->val.numeric) > 0)
		return psprintf("%s must be at most %s", path_name(path), value_text(b));
	if ((b = billy_json_key(schema, "exclusiveMinimum")) && b->type == jbvNumeric &&
		numeric_compare(v->val.numeric, b->val.numeric) <= 0)
		return psprintf("%s must be more than %s", path_name(path), value_text(b));
	if ((b = billy_json_key(schema, "exclusiveMaximum")) && b->type == jbvNumeric &&
		numeric_compare(v->val.numeric, b->val.numeric) >= 0)
		return psprintf("%s must be less than %s", path_name(path), value_text(b));
	if ((b = billy_json_key(schema, "multipleOf")) && b->type == jbvNumeric &&
		numeric_compare(b->val.numeric, int64_to_numeric(0)) > 0)
	{
		Numeric		rest = DatumGetNumeric(DirectFunctionCall2(numeric_mod, NumericGetDatum(v->val.numeric),
															   NumericGetDatum(b->val.numeric)));
		char	   *step = value_text(b);

		if (numeric_compare(rest, int64_to_numeric(0)) == 0)
			return NULL;
		/* 0.01: at most 2 decimals, as amounts are */
		if (strncmp(step, "0.", 2) == 0 && strspn(step + 2, "0") == strlen(step + 2) - 1 &&
			step[strlen(step) - 1] == '1')
			return psprintf("%s must have at most %d decimal%s, not %s", path_name(path),
							(int) strlen(step + 2), strlen(step + 2) == 1 ? "" : "s", value_text(v));
		return psprintf("%s must be a multiple of %s, not %s", path_name(path), step, value_text(v));
	}
	return NULL;
}

static int
int_keyword(JsonbContainer *schema, const char *key)
{
	JsonbValue *b = billy_json_key(schema, key);

	if (b == NULL || b->type != jbvNumeric)
		return -1;
	return DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(b->val.numeric)));
}

static char *
check_string(JsonbContainer *schema, JsonbValue *v, StringInfo path)
{
	int			len = v->val.string.len;
	int			chars = pg_mbstrlen_with_len(v->val.string.val, len);
	int			b;
	char	   *pattern;
	char	   *format;

	if ((b = int_keyword(schema, "minLength")) >= 0 && chars < b)
		return b == 1 ? psprintf("%s must not be empty", path_name(path))
			: psprintf("%s must be at least %d characters long", path_name(path), b);
	if ((b = int_keyword(schema, "maxLength")) >= 0 && chars > b)
		return psprintf("%s must be at most %d characters long, not %d", path_name(path), b, chars);
	if ((format = schema_string(schema, "format")) != NULL &&
		!billy_valid_format(format, v->val.string.val, len))
		return psprintf("%s must be %s, not %s", path_name(path), billy_format_words(format), value_text(v));
	if ((pattern = schema_string(schema, "pattern")) != NULL &&
		!RE_compile_and_execute(cstring_to_text(pattern), v->val.string.val, len,
								REG_ADVANCED, C_COLLATION_OID, 0, NULL))
		return psprintf("%s must match the pattern %s, not %s", path_name(path), pattern, value_text(v));
	return NULL;
}

static char *
check_array(JsonbContainer *schema, JsonbContainer *arr, StringInfo path)
{
	int			n = JsonContainerSize(arr);
	int			b;
	JsonbValue *items = billy_json_key(schema, "items");
	JsonbValue *unique = billy_json_key(schema, "uniqueItems");

	if ((b = int_keyword(schema, "minItems")) >= 0 && n < b)
		return psprintf("%s must have at least %d item%s", path_name(path), b, b == 1 ? "" : "s");
	if ((b = int_keyword(schema, "maxItems")) >= 0 && n > b)
		return psprintf("%s must have at most %d items, not %d", path_name(path), b, n);
	if (unique && unique->type == jbvBool && unique->val.boolean)
	{
		for (int i = 0; i < n; i++)
			for (int j = i + 1; j < n; j++)
				if (json_equal(getIthJsonbValueFromContainer(arr, i), getIthJsonbValueFromContainer(arr, j)))
					return psprintf("%s must not repeat %s", path_name(path),
									value_text(getIthJsonbValueFromContainer(arr, i)));
	}
	if (items && items->type == jbvBinary && JsonContainerIsObject(items->val.binary.data))
	{
		for (int i = 0; i < n; i++)
		{
			int			saved = path->len;
			char	   *err;

			appendStringInfo(path, "[%d]", i);
			err = check_value(items->val.binary.data, getIthJsonbValueFromContainer(arr, i), path);
			if (err && collecting)
				collect(path->data, err);
			else if (err)
				return err;
			pop(path, saved);
		}
	}
	return NULL;
}

/* member_names: the members a properties object names, "a, b, c"; NULL: none */
static char *
member_names(JsonbContainer *propc)
{
	StringInfoData known;

	initStringInfo(&known);
	if (propc)
	{
		JsonbIterator *pit = JsonbIteratorInit(propc);
		JsonbValue	ptok;
		JsonbIteratorToken pr;

		while ((pr = JsonbIteratorNext(&pit, &ptok, true)) != WJB_DONE)
			if (pr == WJB_KEY)
				appendStringInfo(&known, "%s%.*s", known.len ? ", " : "",
								 ptok.val.string.len, ptok.val.string.val);
	}
	return known.len ? known.data : NULL;
}

static char *
check_object(JsonbContainer *schema, JsonbContainer *obj, StringInfo path)
{
	JsonbValue *props = billy_json_key(schema, "properties");
	JsonbValue *required = billy_json_key(schema, "required");
	JsonbValue *additional = billy_json_key(schema, "additionalProperties");
	JsonbContainer *propc = (props && props->type == jbvBinary) ? props->val.binary.data : NULL;
	int			b;
	int			n = JsonContainerSize(obj);

	/* missing required members first: the most useful thing to hear */
	if (required && required->type == jbvBinary && !JsonContainerIsObject(required->val.binary.data))
	{
		int			nr = JsonContainerSize(required->val.binary.data);

		for (int i = 0; i < nr; i++)
		{
			JsonbValue *r = getIthJsonbValueFromContainer(required->val.binary.data, i);
			char	   *name;

			if (r->type != jbvString)
				continue;
			name = pnstrdup(r->val.string.val, r->val.string.len);
			if (billy_json_key(obj, name) == NULL)
			{
				if (collecting)
				{
					collect(path->len ? psprintf("%s.%s", path->data, name) : name, "is required");
					continue;
				}
				if (path->len == 0)
					return psprintf("the argument \"%s\" is required", name);
				return psprintf("\"%s.%s\" is required", path->data, name);
			}
		}
	}
	if ((b = int_keyword(schema, "minProperties")) >= 0 && n < b)
		return psprintf("%s must have at least %d member%s", path_name(path), b, b == 1 ? "" : "s");
	if ((b = int_keyword(schema, "maxProperties")) >= 0 && n > b)
		return psprintf("%s must have at most %d members", path_name(path), b);

	/* each member: against its property schema, or additionalProperties */
	{
		JsonbIterator *it = JsonbIteratorInit(obj);
		JsonbValue	tok;
		JsonbIteratorToken r;
		char	   *key = NULL;
		int			keylen = 0;

		while ((r = JsonbIteratorNext(&it, &tok, true)) != WJB_DONE)
		{
			if (r == WJB_KEY)
			{
				key = tok.val.string.val;
				keylen = tok.val.string.len;
			}
			else if (r == WJB_VALUE)
			{
				JsonbValue *ps = NULL;
				JsonbValue	val = tok;
				int			saved;
				char	   *err = NULL;
				char	   *keyz = pnstrdup(key, keylen);

				if (propc)
					ps = billy_json_key(propc, keyz);
				push_key(path, key, keylen, &saved);
				if (ps && ps->type == jbvBinary && JsonContainerIsObject(ps->val.binary.data))
					err = check_value(ps->val.binary.data, &val, path);
				else if (ps == NULL && additional)
				{
					if (additional->type == jbvBool && !additional->val.boolean && collecting)
					{
						char	   *known = member_names(propc);

						collect(path->data, saved > 0
								? psprintf("is not a member of %.*s (its members: %s)", saved, path->data, known ? known : "none")
								: psprintf("is not an argument of this operation (its arguments: %s)", known ? known : "none"));
						pop(path, saved);
						continue;
					}
					if (additional->type == jbvBool && !additional->val.boolean)
					{
						pop(path, saved);
						if (path->len == 0)
						{
							char	   *known = member_names(propc);

							return psprintf("unknown argument \"%s\"%s%s", keyz,
											known ? "; the arguments are: " : "; this tool takes no arguments",
											known ? known : "");
						}
						return psprintf("%s has no member \"%s\"", path_name(path), keyz);
					}
					if (additional->type == jbvBinary && JsonContainerIsObject(additional->val.binary.data))
						err = check_value(additional->val.binary.data, &val, path);
				}
				if (err && collecting)
					collect(path->data, err);
				else if (err)
					return err;
				pop(path, saved);
			}
		}
	}
	return NULL;
}

static char *
check_combinators(JsonbContainer *schema, JsonbValue *v, StringInfo path)
{
	JsonbValue *c;

	if ((c = billy_json_key(schema, "allOf")) && c->type == jbvBinary)
	{
		int			n = JsonContainerSize(c->val.binary.data);

		for (int i = 0; i < n; i++)
		{
			JsonbValue *s = getIthJsonbValueFromContainer(c->val.binary.data, i);
			char	   *err;

			if (s->type == jbvBinary && (err = check_value(s->val.binary.data, v, path)))
				return err;
		}
	}
	if ((c = billy_json_key(schema, "anyOf")) && c->type == jbvBinary)
	{
		int			n = JsonContainerSize(c->val.binary.data);
		char	   *first = NULL;

		for (int i = 0; i < n; i++)
		{
			JsonbValue *s = getIthJsonbValueFromContainer(c->val.binary.data, i);
			char	   *err;

			if (s->type != jbvBinary)
				continue;
			err = check_value(s->val.binary.data, v, path);
			if (err == NULL)
			{
				first = NULL;
				break;
			}
			if (first == NULL)
				first = err;
		}
		if (first)
			return first;
	}
	if ((c = billy_json_key(schema, "oneOf")) && c->type == jbvBinary)
	{
		int			n = JsonContainerSize(c->val.binary.data);
		int			matched = 0;
		char	   *first = NULL;

		for (int i = 0; i < n; i++)
		{
			JsonbValue *s = getIthJsonbValueFromContainer(c->val.binary.data, i);
			char	   *err;

			if (s->type != jbvBinary)
				continue;
			err = check_value(s->val.binary.data, v, path);
			if (err == NULL)
				matched++;
			else if (first == NULL)
				first = err;
		}
		if (matched == 0 && first)
			return first;
		if (matched > 1)
			return psprintf("%s matches more than one of the allowed forms", path_name(path));
	}
	return NULL;
}

static char *
check_value(JsonbContainer *schema, JsonbValue *v, StringInfo path)
{
	char	   *err;

	if (schema == NULL || !JsonContainerIsObject(schema))
		return NULL;
	if ((err = check_type(schema, v, path)) != NULL)
		return err;
	if ((err = check_enum(schema, v, path)) != NULL)
		return err;
	switch (v->type)
	{
		case jbvNumeric:
			err = check_number(schema, v, path);
			break;
		case jbvString:
			err = check_string(schema, v, path);
			break;
		case jbvBinary:
			if (JsonContainerIsObject(v->val.binary.data))
				err = check_object(schema, v->val.binary.data, path);
			else
				err = check_array(schema, v->val.binary.data, path);
			break;
		default:
			break;
	}
	if (err)
		return err;
	return check_combinators(schema, v, path);
}

char *
billy_schema_check(JsonbContainer *schema, JsonbValue *value)
{
	StringInfoData path;

	initStringInfo(&path);
	return check_value(schema, value, &path);
}

/*
 * billy_schema_problems checks value against schema and returns every
 * problem as a jsonb array of {"field", "message"} (empty when it conforms).
 */
Jsonb *
billy_schema_problems(JsonbContainer *schema, JsonbValue *value)
{
	StringInfoData path;
	JsonbValue *arr;
	char	   *err;

	initStringInfo(&path);
	collect_state = NULL;
	collected = 0;
	pushJsonbValue(&collect_state, WJB_BEGIN_ARRAY, NULL);
	collecting = true;
	PG_TRY();
	{
		err = check_value(schema, value, &path);
		if (err)
			collect("", err);
	}
	PG_FINALLY();
	{
		collecting = false;
	}
	PG_END_TRY();
	arr = pushJsonbValue(&collect_state, WJB_END_ARRAY, NULL);
	collect_state = NULL;
	return JsonbValueToJsonb(arr);
}

PG_FUNCTION_INFO_V1(billy_check_args);

/*
 * billy_check_args: billy._check_args(schema jsonb, args jsonb) RETURNS
 * jsonb.  Every way args fails schema, each {"field", "message"}: how
 * billy._plan_write checks a write operation's arguments.
 */
Datum
billy_check_args(PG_FUNCTION_ARGS)
{
	Jsonb	   *schema = PG_GETARG_JSONB_P(0);
	Jsonb	   *value = PG_GETARG_JSONB_P(1);
	JsonbValue	v;

	if (!JB_ROOT_IS_OBJECT(schema))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a JSON Schema must be an object")));
	billy_jsonb_root_value(value, &v);
	PG_RETURN_JSONB_P(billy_schema_problems(&schema->root, &v));
}

PG_FUNCTION_INFO_V1(billy_mcp_validate);

/*
 * billy_mcp_validate: billy._mcp_validate(schema jsonb, value jsonb)
 * RETURNS text.  NULL when value conforms, else what is wrong.  Used by the
 * tests to hold every tool result to its output schema.
 */
Datum
billy_mcp_validate(PG_FUNCTION_ARGS)
{
	Jsonb	   *schema = PG_GETARG_JSONB_P(0);
	Jsonb	   *value = PG_GETARG_JSONB_P(1);
	JsonbValue	v;
	char	   *err;

	if (!JB_ROOT_IS_OBJECT(schema))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a JSON Schema must be an object")));
	billy_jsonb_root_value(value, &v);
	err = billy_schema_check(&schema->root, &v);
	if (err == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(err));
}
