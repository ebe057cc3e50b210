/*
 * control.c - the control API under /_sandbox/ (no token; the whole server
 * is loopback-only): faults, mutate, reset, stats, dump and creation of
 * extra organizations.  Errors use the same envelope as the Billy API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "faults.h"
#include "gen.h"
#include "mutate.h"
#include "render.h"
#include "request.h"
#include "stats.h"

static pthread_mutex_t reset_lock = PTHREAD_MUTEX_INITIALIZER;

/* startup_params: the generation parameters of startup organization number index */
static GenParams
startup_params(int index)
{
	GenParams	gp;

	memset(&gp, 0, sizeof(gp));
	gp.seed = sb.cfg.seed;
	gp.org_index = index;
	gp.invoices = sb.cfg.invoices;
	gp.contacts = sb.cfg.contacts;
	gp.products = sb.cfg.products;
	gp.bills = sb.cfg.bills;
	gp.bank_payments = sb.cfg.bank_payments;
	gp.today = sb.cfg.today;
	gp.vat_period = -1;
	return gp;
}

/* orgs_generate builds the startup organizations from the configuration */
void
orgs_generate(Org ***out, int *n)
{
	Org		  **orgs = xcalloc((size_t) Max(sb.cfg.orgs, 1), sizeof(Org *));

	for (int i = 0; i < sb.cfg.orgs; i++)
	{
		GenParams	gp = startup_params(i);

		orgs[i] = gen_org(&gp);
	}
	*out = orgs;
	*n = sb.cfg.orgs;
}

/* org_arg finds the organization named by ?org= or {"org":...}, default the first */
static Org *
org_arg(const Request *rq, json_t *body, Response *rs)
{
	const char *id = req_arg(rq, "org");
	Org		   *o;

	if (id == NULL && body && json_is_string(json_object_get(body, "org")))
		id = json_string_value(json_object_get(body, "org"));
	if (id == NULL)
		return sb.n_orgs > 0 ? sb.orgs[0] : NULL;
	o = org_by_id(id);
	if (o == NULL)
		resp_unprocessable(rs, "sandbox", "org", "No organization with that id.");
	return o;
}

/* ok_json answers 200 with a finished JSON buffer */
static void
ok_json(Response *rs, Buf *b)
{
	rs->status = 200;
	buf_free(&rs->body);
	rs->body = *b;
	memset(b, 0, sizeof(*b));
}

/* c_faults handles /_sandbox/faults: POST adds (all or none), GET lists, DELETE clears */
static void
c_faults(const Request *rq, Response *rs)
{
	Buf			b = {0};

	if (strcmp(rq->method, "GET") == 0)
	{
		faults_list(&b);
		ok_json(rs, &b);
		return;
	}
	if (strcmp(rq->method, "DELETE") == 0)
	{
		faults_clear();
		buf_lit(&b, "{\"faults\":[]}");
		ok_json(rs, &b);
		return;
	}
	if (strcmp(rq->method, "POST") == 0)
	{
		json_t	   *body = parse_body_object(rq, rs);
		json_t	   *arr;
		char		err[256];
		bool		first = true;

		if (body == NULL)
			return;
		if (json_is_true(json_object_get(body, "clear")))
		{
			faults_clear();
			json_decref(body);
			buf_lit(&b, "{\"faults\":[]}");
			ok_json(rs, &b);
			return;
		}
		arr = json_object_get(body, "faults");
		if (arr)
		{
			if (!json_is_array(arr))
			{
				json_decref(body);
				resp_unprocessable(rs, "faults", "faults", "faults must be an array.");
				return;
			}
		}
		/* validate every fault before adding any */
		for (size_t i = 0; i < (arr ? json_array_size(arr) : 1); i++)
		{
			if (!faults_add(arr ? json_array_get(arr, i) : body, NULL, err, sizeof(err)))
			{
				json_decref(body);
				resp_unprocessable(rs, "fault", "kind", err);
				return;
			}
		}
		buf_lit(&b, "{\"faults\":[");
		for (size_t i = 0; i < (arr ? json_array_size(arr) : 1); i++)
		{
			json_t	   *f = arr ? json_array_get(arr, i) : body;
			Buf			one = {0};

			if (!faults_add(f, &one, err, sizeof(err)))
			{
				buf_free(&one);
				buf_free(&b);
				json_decref(body);
				resp_unprocessable(rs, "fault", "kind", err);
				return;
			}
			if (!first)
				buf_putc(&b, ',');
			first = false;
			buf_put(&b, one.p, one.len);
			buf_free(&one);
		}
		buf_lit(&b, "]}");
		json_decref(body);
		ok_json(rs, &b);
		return;
	}
	resp_error(rs, 405, "METHOD_NOT_ALLOWED", "The method is not allowed for this resource.");
}

/* c_stats handles /_sandbox/stats: GET reports, DELETE zeroes */
static void
c_stats(const Request *rq, Response *rs)
{
	Buf			b = {0};

	if (strcmp(rq->method, "DELETE") == 0)
		stats_clear();
	else if (strcmp(rq->method, "GET") != 0)
	{
		resp_error(rs, 405, "METHOD_NOT_ALLOWED", "The method is not allowed for this resource.");
		return;
	}
	stats_render(&b);
	ok_json(rs, &b);
}

/* dump_table writes "plural":[...] with every live record, children embedded */
static void
dump_table(Buf *b, Org *o, int rk)
{
	buf_putc(b, '"');
	buf_puts(b, res_defs[rk].plural);
	buf_lit(b, "\":[");
	if (rk == RK_CURRENCY)
	{
		for (int i = 0; i < CUR__COUNT; i++)
		{
			if (i)
				buf_putc(b, ',');
			render_currency(b, i);
		}
	}
	else
	{
		Table	   *t = &o->tab[rk];
		bool		first = true;

		for (int32_t i = 0; i < t->n; i++)
		{
			if (rec_head(t, i)->dead)
				continue;
			if (!first)
				buf_putc(b, ',');
			first = false;
			render_record(b, o, (RK) rk, i, &include_all_children, NULL, false);
		}
	}
	buf_putc(b, ']');
}

/*
 * c_dump answers GET /_sandbox/dump?org=ID[&resource=plural]: the whole
 * current truth, every record as GET one would return it (without
 * downloadUrl) with its has-many children embedded, in creation order.
 */
static void
c_dump(const Request *rq, Response *rs)
{
	const char *res = req_arg(rq, "resource");
	Org		   *o;
	Buf			b = {0};

	if (strcmp(rq->method, "GET") != 0)
	{
		resp_error(rs, 405, "METHOD_NOT_ALLOWED", "The method is not allowed for this resource.");
		return;
	}
	o = org_arg(rq, NULL, rs);
	if (o == NULL)
	{
		if (rs->status == 0)
			resp_unprocessable(rs, "sandbox", "org", "There is no organization.");
		return;
	}
	pthread_rwlock_rdlock(&o->lock);
	if (res && strcmp(res, "organization") == 0)
	{
		buf_lit(&b, "{\"organization\":");
		render_organization(&b, o);
		buf_putc(&b, '}');
	}
	else if (res)
	{
		const ResDef *rd = res_by_plural(res, strlen(res));

		if (rd == NULL || rd->rk == RK_ORGANIZATION)
		{
			pthread_rwlock_unlock(&o->lock);
			resp_unprocessable(rs, "sandbox", "resource", "Unknown resource.");
			return;
		}
		buf_putc(&b, '{');
		dump_table(&b, o, rd->rk);
		buf_putc(&b, '}');
	}
	else
	{
		buf_lit(&b, "{\"organization\":");
		render_organization(&b, o);
		for (int rk = 0; rk <= RK_CURRENCY; rk++)
		{
			buf_putc(&b, ',');
			dump_table(&b, o, rk);
		}
		buf_putc(&b, '}');
	}
	pthread_rwlock_unlock(&o->lock);
	ok_json(rs, &b);
}

/*
 * c_bank_truth answers GET /_sandbox/bankTruth?org=ID: which open invoice or
 * bill each generated unmatched bank line pays (the answer a reconciliation
 * should find), {"bankLines":[{"id","pays":"invoice:ID"}]}, for the live
 * lines still unmatched.
 */
static void
c_bank_truth(const Request *rq, Response *rs)
{
	Org		   *o;
	Buf			b = {0};
	bool		first = true;

	if (strcmp(rq->method, "GET") != 0)
	{
		resp_error(rs, 405, "METHOD_NOT_ALLOWED", "The method is not allowed for this resource.");
		return;
	}
	o = org_arg(rq, NULL, rs);
	if (o == NULL)
	{
		if (rs->status == 0)
			resp_unprocessable(rs, "sandbox", "org", "There is no organization.");
		return;
	}
	pthread_rwlock_rdlock(&o->lock);
	buf_lit(&b, "{\"bankLines\":[");
	for (int32_t i = 0; i < o->tab[RK_BANK_LINE].n; i++)
	{
		BankLine   *bl = BANKLINE(o, i);
		RK			k = (RK) bl->pays_kind;

		if (bl->h.dead || bl->match >= 0 || (k != RK_INVOICE && k != RK_BILL))
			continue;
		if (!first)
			buf_putc(&b, ',');
		first = false;
		buf_lit(&b, "{\"id\":\"");
		buf_puts(&b, bl->h.id);
		buf_puts(&b, k == RK_INVOICE ? "\",\"pays\":\"invoice:" : "\",\"pays\":\"bill:");
		buf_puts(&b, rec_head(&o->tab[k], bl->pays_idx)->id);
		buf_lit(&b, "\"}");
	}
	buf_lit(&b, "]}");
	pthread_rwlock_unlock(&o->lock);
	ok_json(rs, &b);
}

/* c_mutate handles POST /_sandbox/mutate and reports every touched record */
static void
c_mutate(const Request *rq, Response *rs)
{
	json_t	   *body;
	Org		   *o;
	json_t	   *j;
	int64_t		n = 1;
	uint32_t	mask = 0xFFFFFFFF;
	Rng			r;
	ChangeSet	cs = {0};
	int			done;
	Buf			b = {0};

	if (strcmp(rq->method, "POST") != 0)
	{
		resp_error(rs, 405, "METHOD_NOT_ALLOWED", "The method is not allowed for this resource.");
		return;
	}
	body = parse_body_object(rq, rs);
	if (body == NULL)
		return;
	o = org_arg(rq, body, rs);
	if (o == NULL)
	{
		json_decref(body);
		return;
	}
	if ((j = json_object_get(body, "n")) != NULL)
	{
		if (!json_is_integer(j) || json_integer_value(j) < 0 || json_integer_value(j) > 1000000)
		{
			json_decref(body);
			resp_unprocessable(rs, "mutate", "n", "n must be a whole number from 0 to 1000000.");
			return;
		}
		n = json_integer_value(j);
	}
	if ((j = json_object_get(body, "kinds")) != NULL)
	{
		if (!json_is_array(j))
		{
			json_decref(body);
			resp_unprocessable(rs, "mutate", "kinds", "kinds must be an array of kind names.");
			return;
		}
		mask = 0;
		for (size_t i = 0; i < json_array_size(j); i++)
		{
			json_t	   *k = json_array_get(j, i);
			int			idx = json_is_string(k) ? mutate_kind_by_name(json_string_value(k)) : -1;

			if (idx < 0)
			{
				char		msg[400];

				snprintf(msg, sizeof(msg), "Unknown kind; kinds are: %s.", mutate_kind_names());
				json_decref(body);
				resp_unprocessable(rs, "mutate", "kinds", msg);
				return;
			}
			mask |= 1u << idx;
		}
	}
	if ((j = json_object_get(body, "seed")) != NULL && json_is_integer(j))
		rng_seed(&r, (uint64_t) json_integer_value(j), 7000 + (uint64_t) o->gp.org_index);
	else
	{
		pthread_rwlock_wrlock(&o->lock);
		rng_seed(&r, o->gp.seed ^ 0x6d75746174650000ULL, (uint64_t) o->gp.org_index * 1000003 + o->mutate_calls++);
		pthread_rwlock_unlock(&o->lock);
	}
	json_decref(body);

	done = mutate_run(o, (int) n, &r, mask, &cs);

	pthread_rwlock_rdlock(&o->lock);
	buf_lit(&b, "{\"org\":");
	json_str(&b, o->id);
	buf_printf(&b, ",\"applied\":%d,\"changes\":[", done);
	for (int i = 0; i < cs.n; i++)
	{
		Change	   *c = &cs.v[i];
		static const char *const ops[] = {"created", "updated", "deleted"};

		if (i)
			buf_putc(&b, ',');
		buf_lit(&b, "{\"kind\":");
		json_str(&b, c->kind);
		buf_lit(&b, ",\"resource\":");
		if (c->rk == RK_ORGANIZATION)
		{
			buf_lit(&b, "\"organization\",\"id\":");
			json_str(&b, o->id);
		}
		else
		{
			json_str(&b, res_defs[c->rk].plural);
			buf_lit(&b, ",\"id\":");
			json_str(&b, rec_head(&o->tab[c->rk], c->idx)->id);
		}
		buf_printf(&b, ",\"op\":\"%s\"}", ops[c->op]);
	}
	buf_lit(&b, "]}");
	pthread_rwlock_unlock(&o->lock);
	cs_free(&cs);
	ok_json(rs, &b);
}

/*
 * c_reset: back to the startup state.  The new organizations are built
 * before the swap so that requests are held only for the swap itself.
 */
static void
c_reset(const Request *rq, Response *rs)
{
	Org		  **fresh,
			  **old;
	int			n,
				n_old;
	Buf			b = {0};

	if (strcmp(rq->method, "POST") != 0)
	{
		resp_error(rs, 405, "METHOD_NOT_ALLOWED", "The method is not allowed for this resource.");
		return;
	}
	pthread_mutex_lock(&reset_lock);
	orgs_generate(&fresh, &n);
	pthread_rwlock_wrlock(&sb.lock);
	old = sb.orgs;
	n_old = sb.n_orgs;
	sb.orgs = fresh;
	sb.n_orgs = n;
	sb.n_created = 0;
	faults_clear();
	faults_seed(sb.cfg.seed);
	stats_clear();
	clock_reset();
	pthread_rwlock_unlock(&sb.lock);
	pthread_mutex_unlock(&reset_lock);
	for (int i = 0; i < n_old; i++)
		org_free(old[i]);
	free(old);
	buf_printf(&b, "{\"reset\":true,\"organizations\":%d}", n);
	ok_json(rs, &b);
}

/* org_entry writes one organization of GET /_sandbox/organizations */
static void
org_entry(Buf *b, Org *o)
{
	buf_lit(b, "{\"id\":");
	json_str(b, o->id);
	buf_lit(b, ",\"name\":");
	json_str(b, o->name);
	buf_lit(b, ",\"token\":");
	json_str(b, o->token);
	buf_lit(b, ",\"baseUrl\":");
	json_str(b, sb.base_url);
	buf_putc(b, '}');
}

/*
 * c_organizations: GET lists the organizations with their tokens; POST
 * {"name", "empty", "vatPeriod", "fiscalYearEndMonth"} creates one (an
 * empty one has the chart of accounts, tax rates and rulesets only).
 */
static void
c_organizations(const Request *rq, Response *rs)
{
	Buf			b = {0};

	if (strcmp(rq->method, "GET") == 0)
	{
		buf_lit(&b, "{\"organizations\":[");
		for (int i = 0; i < sb.n_orgs; i++)
		{
			if (i)
				buf_putc(&b, ',');
			org_entry(&b, sb.orgs[i]);
		}
		buf_lit(&b, "]}");
		ok_json(rs, &b);
		return;
	}
	if (strcmp(rq->method, "POST") == 0)
	{
		json_t	   *body = parse_body_object(rq, rs);
		json_t	   *j;
		GenParams	gp;
		Org		   *o;

		if (body == NULL)
			return;
		gp = startup_params(0);
		gp.empty = json_is_true(json_object_get(body, "empty"));
		if ((j = json_object_get(body, "name")) != NULL)
		{
			if (!json_is_string(j) || json_string_length(j) == 0 || json_string_length(j) > 200)
			{
				json_decref(body);
				resp_unprocessable(rs, "organization", "name", "name must be a non-empty string.");
				return;
			}
			gp.name = json_string_value(j);
		}
		if ((j = json_object_get(body, "vatPeriod")) != NULL)
		{
			const char *v = json_is_string(j) ? json_string_value(j) : "";

			gp.vat_period = strcmp(v, "month") == 0 ? VP_MONTH : strcmp(v, "quarter") == 0 ? VP_QUARTER
				: strcmp(v, "halfYear") == 0 ? VP_HALFYEAR : -2;
			if (gp.vat_period == -2)
			{
				json_decref(body);
				resp_unprocessable(rs, "organization", "vatPeriod", "vatPeriod must be month, quarter or halfYear.");
				return;
			}
		}
		if ((j = json_object_get(body, "fiscalYearEndMonth")) != NULL)
		{
			if (!json_is_integer(j) || json_integer_value(j) < 1 || json_integer_value(j) > 12)
			{
				json_decref(body);
				resp_unprocessable(rs, "organization", "fiscalYearEndMonth", "fiscalYearEndMonth must be 1 to 12.");
				return;
			}
			gp.fiscal_end_month = (int) json_integer_value(j);
		}
		pthread_mutex_lock(&reset_lock);
		pthread_rwlock_rdlock(&sb.lock);
		gp.org_index = sb.cfg.orgs + sb.n_created;
		pthread_rwlock_unlock(&sb.lock);
		o = gen_org(&gp);
		o->gp.name = NULL;		/* gp.name pointed into the request body */
		json_decref(body);
		pthread_rwlock_wrlock(&sb.lock);
		sb.orgs = xrealloc(sb.orgs, sizeof(Org *) * (size_t) (sb.n_orgs + 1));
		sb.orgs[sb.n_orgs++] = o;
		sb.n_created++;
		pthread_rwlock_unlock(&sb.lock);
		pthread_mutex_unlock(&reset_lock);

		pthread_rwlock_rdlock(&o->lock);
		buf_lit(&b, "{\"organization\":");
		render_organization(&b, o);
		buf_lit(&b, ",\"token\":");
		json_str(&b, o->token);
		buf_lit(&b, ",\"baseUrl\":");
		json_str(&b, sb.base_url);
		buf_putc(&b, '}');
		pthread_rwlock_unlock(&o->lock);
		ok_json(rs, &b);
		return;
	}
	resp_error(rs, 405, "METHOD_NOT_ALLOWED", "The method is not allowed for this resource.");
}

/* control_handle dispatches /_sandbox/<name> */
void
control_handle(const Request *rq, Response *rs)
{
	const char *p = rq->path + strlen("/_sandbox/");

	rs->route = "/_sandbox";
	if (strcmp(p, "faults") == 0)
		c_faults(rq, rs);
	else if (strcmp(p, "stats") == 0)
		c_stats(rq, rs);
	else if (strcmp(p, "mutate") == 0 || strcmp(p, "dump") == 0 || strcmp(p, "bankTruth") == 0 ||
			 strcmp(p, "organizations") == 0)
	{
		/*
		 * these read the org list: hold it for reading (reset takes it for
		 * writing)
		 */
		if (strcmp(p, "organizations") == 0 && strcmp(rq->method, "POST") == 0)
			c_organizations(rq, rs);
		else
		{
			pthread_rwlock_rdlock(&sb.lock);
			if (strcmp(p, "mutate") == 0)
				c_mutate(rq, rs);
			else if (strcmp(p, "dump") == 0)
				c_dump(rq, rs);
			else if (strcmp(p, "bankTruth") == 0)
				c_bank_truth(rq, rs);
			else
				c_organizations(rq, rs);
			pthread_rwlock_unlock(&sb.lock);
		}
	}
	else if (strcmp(p, "reset") == 0)
		c_reset(rq, rs);
	else
		resp_error(rs, 404, "UNKNOWN_RESOURCE", "Unknown control resource.");
}
