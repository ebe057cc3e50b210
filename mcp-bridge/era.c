/*
 * era.c - the two protocol eras at the bridge's edge (the HTTP rules, and
 * which era a message belongs to, which stdio needs too).
 *
 * billy.mcp decides what a message means in either era; the bridge only
 * adds what HTTP alone knows.  A request is modern (2026-07-28) when its
 * params._meta names a protocol version; any other is legacy and passes
 * through as before.  For a modern request:
 *
 *   before billy.mcp   MCP-Protocol-Version must be there and equal the
 *                      version in _meta; Mcp-Method must be there and equal
 *                      the method; Mcp-Name (tools/call and prompts/get:
 *                      params.name, resources/read: params.uri) must be
 *                      there and equal it, after decoding =?base64?...?=.
 *                      Otherwise 400 with -32020 (HeaderMismatch).
 *   after billy.mcp    the HTTP status follows billy's answer: -32601 is 404
 *                      (an unknown method), -32022, -32021, -32020, -32600,
 *                      -32700 and a -32602 about the _meta envelope (its
 *                      data names the key missing or invalid) are 400;
 *                      results and every other error 200.
 *
 * A legacy request that carries a modern MCP-Protocol-Version header has
 * no _meta to be served by: 400, -32020 for an initialize (a handshake
 * under a modern header), -32602 (the envelope is missing) otherwise.
 */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

#define META_PROTOCOL_VERSION "io.modelcontextprotocol/protocolVersion"

/* the _meta object of a message's params, or NULL */
static json_t *
request_meta(json_t *msg)
{
	json_t	   *params = json_object_get(msg, "params");
	json_t	   *meta = json_is_object(params) ? json_object_get(params, "_meta") : NULL;

	return json_is_object(meta) ? meta : NULL;
}

/*
 * bridge_is_modern: the message claims the 2026-07-28 envelope (its
 * params._meta names a protocol version, whatever the value).
 */
bool
bridge_is_modern(json_t *msg)
{
	json_t	   *meta = request_meta(msg);

	return meta != NULL && json_object_get(meta, META_PROTOCOL_VERSION) != NULL;
}

/* trim: a header value without the optional whitespace around it (a copy) */
static char *
trim(const char *value)
{
	size_t		n;

	while (*value == ' ' || *value == '\t')
		value++;
	n = strlen(value);
	while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
		n--;
	return strndup(value, n);
}

static int
base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * decode_header_value: a header value as the spec encodes it, decoded:
 * =?base64?<base64 of UTF-8>?= or the plain value.  NULL when the base64 is
 * not valid; *len gets the length (the decoded bytes may hold a NUL).
 */
static char *
decode_header_value(const char *value, size_t *len)
{
	static const char prefix[] = "=?base64?";
	static const char suffix[] = "?=";
	size_t		n = strlen(value);
	const char *b;
	size_t		blen;
	char	   *out;
	size_t		o = 0;
	unsigned int acc = 0;
	int			bits = 0;
	size_t		pad = 0;

	if (n < sizeof prefix - 1 + sizeof suffix - 1 || strncmp(value, prefix, sizeof prefix - 1) != 0 ||
		strcmp(value + n - (sizeof suffix - 1), suffix) != 0)
	{
		*len = n;
		return strdup(value);
	}
	b = value + sizeof prefix - 1;
	blen = n - (sizeof prefix - 1) - (sizeof suffix - 1);
	if (blen % 4 != 0)
		return NULL;
	out = malloc(blen / 4 * 3 + 1);
	for (size_t i = 0; i < blen; i++)
	{
		int			v;

		if (b[i] == '=')
		{
			/* padding: only at the end, at most two */
			if (i < blen - 2)
				goto bad;
			pad++;
			continue;
		}
		if (pad > 0 || (v = base64_value(b[i])) < 0)
			goto bad;
		acc = (acc << 6) | (unsigned int) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out[o++] = (char) ((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*len = o;
	return out;

bad:
	free(out);
	return NULL;
}

/*
 * bridge_modern_header_problem checks a modern request's headers against
 * its body; NULL when they agree, else what is wrong (malloc'd) for a 400
 * with -32020.  Any header may be NULL (absent).
 */
char *
bridge_modern_header_problem(json_t *msg, const char *version_header,
							 const char *method_header, const char *name_header)
{
	json_t	   *claimed = json_object_get(request_meta(msg), META_PROTOCOL_VERSION);
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t	   *params = json_object_get(msg, "params");
	const char *field = NULL;
	const char *body_name;
	char	   *problem = NULL;
	char	   *h;

	if (version_header == NULL)
		return strdup("header mismatch: a 2026-07-28 request needs the MCP-Protocol-Version header (the version its _meta names)");
	h = trim(version_header);
	if (json_is_string(claimed) && strcmp(h, json_string_value(claimed)) != 0)
	{
		if (asprintf(&problem, "header mismatch: the MCP-Protocol-Version header names %.40s but _meta names %.40s",
					 h, json_string_value(claimed)) < 0)
			problem = NULL;
		free(h);
		return problem ? problem : strdup("header mismatch");
	}
	free(h);

	if (method_header == NULL)
		return strdup("header mismatch: a 2026-07-28 request needs the Mcp-Method header (its method)");
	h = trim(method_header);
	if (method == NULL || strcmp(h, method) != 0)
	{
		if (asprintf(&problem, "header mismatch: the Mcp-Method header names %.100s but the body's method is %.100s",
					 h, method ? method : "(none)") < 0)
			problem = NULL;
		free(h);
		return problem ? problem : strdup("header mismatch");
	}
	free(h);

	if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0)
		field = "name";
	else if (strcmp(method, "resources/read") == 0)
		field = "uri";
	body_name = field ? json_string_value(json_object_get(params, field)) : NULL;
	if (body_name == NULL)
		return NULL;			/* nothing to mirror: billy.mcp says what is
								 * wrong */
	if (name_header == NULL)
	{
		if (asprintf(&problem, "header mismatch: a %s request needs the Mcp-Name header (params.%s)", method, field) < 0)
			problem = NULL;
		return problem ? problem : strdup("header mismatch");
	}
	h = trim(name_header);
	{
		size_t		len;
		char	   *decoded = decode_header_value(h, &len);

		if (decoded == NULL)
		{
			if (asprintf(&problem, "header mismatch: the Mcp-Name header %.100s is not valid =?base64?...?=", h) < 0)
				problem = NULL;
		}
		else if (len != strlen(body_name) || memcmp(decoded, body_name, len) != 0)
		{
			if (asprintf(&problem, "header mismatch: the Mcp-Name header names %.100s but params.%s is %.100s",
						 h, field, body_name) < 0)
				problem = NULL;
		}
		else
		{
			free(decoded);
			free(h);
			return NULL;
		}
		free(decoded);
	}
	free(h);
	return problem ? problem : strdup("header mismatch");
}

/*
 * answer_error finds the error of billy.mcp's answer, parsed, or NULL for a
 * result.  billy.mcp answers in jsonb's text form, whose object keys come
 * shortest first: "id", then "error" or "result".  So a top-level error
 * starts before any "result" key; one nested in a result comes after it.
 * (Inside a JSON string the quotes are escaped: no false match there.)
 */
static json_t *
answer_error(const char *answer)
{
	const char *e = strstr(answer, "\"error\": {\"code\": ");
	const char *r = strstr(answer, "\"result\": ");

	if (e == NULL || (r != NULL && r < e))
		return NULL;
	return json_loads(answer, 0, NULL);
}

/* bridge_modern_status: the HTTP status for billy.mcp's answer to a modern request */
unsigned int
bridge_modern_status(const char *answer)
{
	json_t	   *root = answer_error(answer);
	json_t	   *error = root ? json_object_get(root, "error") : NULL;
	json_t	   *data = error ? json_object_get(error, "data") : NULL;
	json_int_t	code;
	unsigned int status = 200;

	if (!json_is_integer(json_object_get(error, "code")))
	{
		json_decref(root);
		return 200;
	}
	code = json_integer_value(json_object_get(error, "code"));
	if (code == -32601)
		status = 404;
	else if (code == -32700 || code == -32600 || code == -32020 || code == -32021 || code == -32022)
		status = 400;
	else if (code == -32602 && json_is_object(data) &&
			 (json_object_get(data, "missing") || json_object_get(data, "invalid")))
		status = 400;
	json_decref(root);
	return status;
}

/*
 * bridge_legacy_with_modern_header: a request without the envelope sent with
 * the MCP-Protocol-Version header of the modern era.  Sets *code and returns
 * the message (static) for the 400 answer.
 */
const char *
bridge_legacy_with_modern_header(json_t *msg, int *code)
{
	const char *method = json_string_value(json_object_get(msg, "method"));

	if (method && strcmp(method, "initialize") == 0)
	{
		*code = -32020;
		return "header mismatch: initialize is the legacy handshake, but the MCP-Protocol-Version header names " BRIDGE_MODERN_VERSION;
	}
	*code = -32602;
	return "invalid params: the MCP-Protocol-Version header names " BRIDGE_MODERN_VERSION ", but params._meta lacks "
		"io.modelcontextprotocol/protocolVersion and io.modelcontextprotocol/clientCapabilities";
}
