/*-------------------------------------------------------------------------
 *
 * jsonschema.h
 *	  Checking JSON values against the JSON Schema subset MCP tools use.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_JSONSCHEMA_H
#define BILLY_JSONSCHEMA_H

#include "postgres.h"

#include "utils/jsonb.h"

/*
 * billy_schema_check returns NULL when value conforms to schema (an object
 * container), else a palloc'd sentence that names the offending argument by
 * its path ("limit", "invoice.lines[2].unitPrice").  Keywords it does not
 * know are ignored, as JSON Schema asks.
 */
extern char *billy_schema_check(JsonbContainer *schema, JsonbValue *value);

/*
 * billy_schema_problems returns every problem of value against schema as a
 * jsonb array of {"field", "message"}; empty when it conforms.
 */
extern Jsonb *billy_schema_problems(JsonbContainer *schema, JsonbValue *value);

/* billy_jsonb_root_value sets v to a Jsonb's root: a scalar or a container */
extern void billy_jsonb_root_value(Jsonb *jb, JsonbValue *v);

/* billy_append_json appends a value as compact JSON text (no spaces) */
extern void billy_append_json(StringInfo out, JsonbValue *v);

/* billy_json_key finds a member of an object container, NULL when missing */
extern JsonbValue *billy_json_key(JsonbContainer *obj, const char *key);

#endif							/* BILLY_JSONSCHEMA_H */
