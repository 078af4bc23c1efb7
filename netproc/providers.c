/*
 * GET /provider -> ProviderList; see providers.h.
 *
 * /provider is {all: [Provider], default: {providerID: modelID},
 * connected: [providerID]}, in that order, so which providers are kept is
 * known only at the end.  With include_all every provider is kept: its
 * name and models are read in the one walk of the document.  Without it,
 * the walk notes, per provider, its id and where its name and models are,
 * and skims everything else; one more walk reads the `models` of the
 * providers that are kept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netproc/arena.h"
#include "netproc/json.h"
#include "netproc/providers.h"

/*
 * A provider: read already (pi, with include_all), or where its name and
 * models are in the document.
 */
struct prov {
	char			*id;
	Opencode__ProviderInfo	*pi;
	size_t			 name_off, name_len;
	size_t			 models_off, models_len;
};

/* A key to dispatch on, with its length. */
struct key {
	const char	*s;
	size_t		 len;
};
#define KEY(s)		{ s, sizeof(s) - 1 }
#define NKEYS(v)	(sizeof(v) / sizeof((v)[0]))

/* ModelInfos are allocated this many at a time. */
#define MODEL_SLAB	256

/* A sorted string table: `connected` (val NULL) and `default`. */
struct pair {
	char	*key;
	char	*val;
	size_t	 order;		/* document order: the first of equal keys wins */
};

struct pmap {
	const char		*buf;
	size_t			 len;
	struct arena		 a;
	struct prov		*prov;
	size_t			 nprov, provcap;
	struct pair		*conn, *def;
	size_t			 nconn, conncap, ndef, defcap;
	size_t			 nmodels;	/* in the reply so far */
	Opencode__ModelInfo	*slab;		/* the next ModelInfo ... */
	size_t			 slabfree;	/* ... and how many follow it */
	Opencode__ModelInfo	**tmp;		/* one provider's models (malloc) */
	size_t			 tmpcap;
	int			 include_all;
	const char		*why;		/* the member that did not map */
	int			 err;		/* errno of a failure */
};

static int
fail(struct pmap *m, const char *why)
{
	/* EDOM (another type) and EINVAL: the reply is not as expected. */
	m->err = errno == ENOMEM || errno == E2BIG ? errno : EINVAL;
	if (m->why == NULL)
		m->why = why;
	return -1;
}

/* Makes room for one more of *n elements of size sz in *arr (arena). */
static int
grow(struct pmap *m, void **arr, size_t *n, size_t *cap, size_t sz,
    size_t max)
{
	void	*p;
	size_t	 nc;

	if (*n < *cap)
		return 0;
	if (*n >= max) {
		errno = E2BIG;
		return -1;
	}
	nc = *cap == 0 ? 16 : *cap * 2;
	if (nc > max)
		nc = max;
	if ((p = arena_calloc(&m->a, nc, sz)) == NULL)
		return -1;
	if (*n > 0)
		memcpy(p, *arr, *n * sz);
	*arr = p;
	*cap = nc;
	return 0;
}

/*
 * The index of the current member's key in keys[0..n), or -1.  A plain key
 * is compared as it is, length first; one with escapes is decoded.
 */
static int
pick(const struct json_walk *w, const struct key *keys, size_t n)
{
	const char	*k;
	size_t		 len, i;

	switch (json_walk_key_raw(w, &k, &len)) {
	case 1:
		for (i = 0; i < n; i++)
			if (keys[i].len == len && keys[i].s[0] == k[0] &&
			    memcmp(keys[i].s, k, len) == 0)
				return (int)i;
		return -1;
	case 0:
		for (i = 0; i < n; i++)
			if (json_walk_key_eq(w, keys[i].s))
				return (int)i;
		return -1;
	default:
		return -1;
	}
}

static int	read_models(struct pmap *, struct json_walk *,
		    Opencode__ProviderInfo *);

/* `connected`: an array of strings. */
static int
read_connected(struct pmap *m, struct json_walk *w)
{
	struct pair	*p;
	int		 r;

	errno = EDOM;
	if (json_walk_type(w) != JSON_ARRAY || json_walk_enter(w) == -1)
		return fail(m, "connected");
	while ((r = json_walk_next(w)) == 1) {
		if (grow(m, (void **)&m->conn, &m->nconn, &m->conncap,
		    sizeof(*m->conn), PROVIDERS_MAX) == -1)
			return fail(m, "connected");
		p = &m->conn[m->nconn];
		if (json_walk_str(w, &m->a, &p->key) == -1)
			return fail(m, "connected");
		p->order = m->nconn++;
	}
	return r == 0 ? 0 : fail(m, "connected");
}

/* `default`: an object of strings (a null is as absent). */
static int
read_default(struct pmap *m, struct json_walk *w)
{
	struct pair	*p;
	char		*key;
	size_t		 off, len;
	struct json_walk k;
	int		 r;

	errno = EDOM;
	if (json_walk_type(w) != JSON_OBJECT || json_walk_enter(w) == -1)
		return fail(m, "default");
	while ((r = json_walk_next(w)) == 1) {
		if (json_walk_type(w) == JSON_NULL)
			continue;
		if (grow(m, (void **)&m->def, &m->ndef, &m->defcap,
		    sizeof(*m->def), PROVIDERS_MAX) == -1)
			return fail(m, "default");
		/* The key, decoded as a string: it starts with its quote. */
		off = w->key - 1;
		len = w->key_end + 1 - off;
		if (json_walk_init(&k, m->buf + off, len, 0) == -1 ||
		    json_walk_str(&k, &m->a, &key) == -1)
			return fail(m, "default");
		p = &m->def[m->ndef];
		p->key = key;
		if (json_walk_str(w, &m->a, &p->val) == -1)
			return fail(m, "default");
		p->order = m->ndef++;
	}
	return r == 0 ? 0 : fail(m, "default");
}

/*
 * One element of `all`: its id is decoded; with include_all its name and
 * models are read, else where they are is noted; everything else (key,
 * options, env, source) is skimmed.
 */
static int
read_provider(struct pmap *m, struct json_walk *w)
{
	enum { K_ID, K_NAME, K_MODELS };
	static const struct key	 keys[] = { KEY("id"), KEY("name"),
	    KEY("models") };
	Opencode__ProviderInfo	*pi = NULL;
	struct prov		 p;
	int			 r, has_name = 0, has_models = 0;

	memset(&p, 0, sizeof(p));
	errno = EDOM;
	if (json_walk_type(w) != JSON_OBJECT || json_walk_enter(w) == -1)
		return fail(m, "all");
	if (m->include_all) {
		if ((pi = arena_alloc_raw(&m->a, sizeof(*pi))) == NULL)
			return fail(m, "all");
		opencode__provider_info__init(pi);
		pi->default_model_id = (char *)"";
	}
	while ((r = json_walk_next(w)) == 1) {
		errno = EDOM;
		switch (pick(w, keys, NKEYS(keys))) {
		case K_ID:
			if (p.id != NULL)
				break;
			if (json_walk_str(w, &m->a, &p.id) == -1)
				return fail(m, "id");
			break;
		case K_NAME:
			if (has_name)
				break;
			if (pi != NULL) {
				if (json_walk_str(w, &m->a, &pi->name) == -1)
					return fail(m, "name");
			} else if (json_walk_type(w) != JSON_STRING ||
			    json_walk_span(w, &p.name_off, &p.name_len) == -1)
				return fail(m, "name");
			has_name = 1;
			break;
		case K_MODELS:
			if (has_models)
				break;
			if (pi != NULL) {
				if (read_models(m, w, pi) == -1)
					return -1;
			} else if (json_walk_type(w) != JSON_OBJECT ||
			    json_walk_span(w, &p.models_off,
			    &p.models_len) == -1)
				return fail(m, "models");
			has_models = 1;
			break;
		}
	}
	if (r == -1)
		return fail(m, "all");
	errno = EINVAL;
	if (p.id == NULL)
		return fail(m, "id");
	if (!has_name)
		return fail(m, "name");
	if (!has_models)
		return fail(m, "models");
	if (grow(m, (void **)&m->prov, &m->nprov, &m->provcap,
	    sizeof(*m->prov), PROVIDERS_MAX) == -1)
		return fail(m, "all");
	if (pi != NULL)
		pi->id = p.id;
	p.pi = pi;
	m->prov[m->nprov++] = p;
	return 0;
}

static int
read_all(struct pmap *m, struct json_walk *w)
{
	int	r;

	errno = EDOM;
	if (json_walk_type(w) != JSON_ARRAY || json_walk_enter(w) == -1)
		return fail(m, "all");
	while ((r = json_walk_next(w)) == 1)
		if (read_provider(m, w) == -1)
			return -1;
	return r == 0 ? 0 : fail(m, "all");
}

/* The root: each of its three members read once (the first one counts). */
static int
read_root(struct pmap *m)
{
	struct json_walk	w;
	int			r, all = 0, conn = 0, def = 0;

	if (json_walk_init(&w, m->buf, m->len, 0) == -1)
		return fail(m, "invalid JSON");
	errno = EDOM;
	if (json_walk_type(&w) != JSON_OBJECT || json_walk_enter(&w) == -1)
		return fail(m, "provider");
	while ((r = json_walk_next(&w)) == 1) {
		if (!all && json_walk_key_eq(&w, "all")) {
			all = 1;
			if (read_all(m, &w) == -1)
				return -1;
		} else if (!conn && json_walk_key_eq(&w, "connected")) {
			conn = 1;
			if (read_connected(m, &w) == -1)
				return -1;
		} else if (!def && json_walk_key_eq(&w, "default")) {
			def = 1;
			if (read_default(m, &w) == -1)
				return -1;
		}
	}
	if (r == -1 || json_walk_end(&w) == -1)
		return fail(m, "invalid JSON");
	errno = EINVAL;
	if (!all)
		return fail(m, "all");
	if (!conn)
		return fail(m, "connected");
	return 0;
}

static int
pair_cmp(const void *a, const void *b)
{
	const struct pair	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->key, y->key)) != 0)
		return c;
	return (x->order > y->order) - (x->order < y->order);
}

/* The first (in document order) pair with key, or NULL. */
static const struct pair *
pair_find(const struct pair *v, size_t n, const char *key)
{
	size_t	lo = 0, hi = n, mid;

	/* The leftmost key >= key: equal keys are in document order. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(v[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strcmp(v[lo].key, key) == 0 ? &v[lo] : NULL;
}

/* A string value at the cursor, or "" for null. */
static int
opt_str(struct pmap *m, struct json_walk *w, char **out, const char *why)
{
	if (json_walk_type(w) == JSON_NULL)
		return json_walk_skip(w) == -1 ? fail(m, why) : 0;
	if (json_walk_str(w, &m->a, out) == -1)
		return fail(m, why);
	return 0;
}

/* A bool at the cursor; null leaves it false. */
static int
opt_bool(struct pmap *m, struct json_walk *w, protobuf_c_boolean *out,
    const char *why)
{
	int	v;

	if (json_walk_type(w) == JSON_NULL)
		return json_walk_skip(w) == -1 ? fail(m, why) : 0;
	if (json_walk_bool(w, &v) == -1)
		return fail(m, why);
	*out = v;
	return 0;
}

/* An object at the cursor, entered; null is skimmed (0, *entered 0). */
static int
opt_enter(struct pmap *m, struct json_walk *w, int *entered, const char *why)
{
	*entered = 0;
	if (json_walk_type(w) == JSON_NULL)
		return json_walk_skip(w) == -1 ? fail(m, why) : 0;
	errno = EDOM;
	if (json_walk_type(w) != JSON_OBJECT || json_walk_enter(w) == -1)
		return fail(m, why);
	*entered = 1;
	return 0;
}

/* capabilities {reasoning, attachment, toolcall, ...} */
static int
read_caps(struct pmap *m, struct json_walk *w, Opencode__ModelInfo *mi)
{
	static const struct key	keys[] = { KEY("reasoning"),
	    KEY("attachment"), KEY("toolcall") };
	int			r, rc, in;

	if (opt_enter(m, w, &in, "capabilities") == -1)
		return -1;
	if (!in)
		return 0;
	while ((r = json_walk_next(w)) == 1) {
		switch (pick(w, keys, NKEYS(keys))) {
		case 0:
			rc = opt_bool(m, w, &mi->reasoning, "reasoning");
			break;
		case 1:
			rc = opt_bool(m, w, &mi->attachment, "attachment");
			break;
		case 2:
			rc = opt_bool(m, w, &mi->toolcall, "toolcall");
			break;
		default:
			rc = 0;		/* skimmed by the next step */
			break;
		}
		if (rc == -1)
			return -1;
	}
	return r == 0 ? 0 : fail(m, "capabilities");
}

/* limit {context, output}: integers. */
static int
read_limit(struct pmap *m, struct json_walk *w, Opencode__ModelInfo *mi)
{
	static const struct key	 keys[] = { KEY("context"), KEY("output") };
	int64_t			*dst;
	int			 r, in;

	if (opt_enter(m, w, &in, "limit") == -1)
		return -1;
	if (!in)
		return 0;
	while ((r = json_walk_next(w)) == 1) {
		switch (pick(w, keys, NKEYS(keys))) {
		case 0:
			dst = &mi->context_limit;
			break;
		case 1:
			dst = &mi->output_limit;
			break;
		default:
			continue;
		}
		if (json_walk_type(w) == JSON_NULL)
			continue;
		if (json_walk_int64(w, dst) == -1)
			return fail(m, "limit");
	}
	return r == 0 ? 0 : fail(m, "limit");
}

/* cost {input, output}: numbers with fractions (per million tokens). */
static int
read_cost(struct pmap *m, struct json_walk *w, Opencode__ModelInfo *mi)
{
	static const struct key	 keys[] = { KEY("input"), KEY("output") };
	double			*dst;
	int			 r, in;

	if (opt_enter(m, w, &in, "cost") == -1)
		return -1;
	if (!in)
		return 0;
	while ((r = json_walk_next(w)) == 1) {
		switch (pick(w, keys, NKEYS(keys))) {
		case 0:
			dst = &mi->cost_input;
			break;
		case 1:
			dst = &mi->cost_output;
			break;
		default:
			continue;
		}
		if (json_walk_type(w) == JSON_NULL)
			continue;
		if (json_walk_double(w, dst) == -1)
			return fail(m, "cost");
	}
	return r == 0 ? 0 : fail(m, "cost");
}

/*
 * One model: id (required), name, family, the capabilities (also as
 * models.dev spells them at the top: reasoning, attachment, tool_call),
 * limit and cost.  Everything else (api, options, headers, variants) is
 * skimmed.
 */
static int
read_model(struct pmap *m, struct json_walk *w, Opencode__ModelInfo *mi)
{
	enum { K_ID, K_NAME, K_FAMILY, K_CAPS, K_REASONING, K_ATTACHMENT,
	    K_TOOL_CALL, K_LIMIT, K_COST };
	static const struct key	keys[] = { KEY("id"), KEY("name"),
	    KEY("family"), KEY("capabilities"), KEY("reasoning"),
	    KEY("attachment"), KEY("tool_call"), KEY("limit"), KEY("cost") };
	int	r, rc;

	errno = EDOM;
	if (json_walk_type(w) != JSON_OBJECT || json_walk_enter(w) == -1)
		return fail(m, "models");
	mi->id = mi->name = mi->family = (char *)"";
	while ((r = json_walk_next(w)) == 1) {
		switch (pick(w, keys, NKEYS(keys))) {
		case K_ID:
			rc = json_walk_str(w, &m->a, &mi->id) == -1 ?
			    fail(m, "models: id") : 0;
			break;
		case K_NAME:
			rc = opt_str(m, w, &mi->name, "models: name");
			break;
		case K_FAMILY:
			rc = opt_str(m, w, &mi->family, "models: family");
			break;
		case K_CAPS:
			rc = read_caps(m, w, mi);
			break;
		case K_REASONING:
			rc = opt_bool(m, w, &mi->reasoning, "reasoning");
			break;
		case K_ATTACHMENT:
			rc = opt_bool(m, w, &mi->attachment, "attachment");
			break;
		case K_TOOL_CALL:
			rc = opt_bool(m, w, &mi->toolcall, "tool_call");
			break;
		case K_LIMIT:
			rc = read_limit(m, w, mi);
			break;
		case K_COST:
			rc = read_cost(m, w, mi);
			break;
		default:
			rc = 0;		/* skimmed by the next step */
			break;
		}
		if (rc == -1)
			return -1;
	}
	if (r == -1)
		return fail(m, "models");
	errno = EINVAL;
	if (mi->id[0] == '\0')
		return fail(m, "models: id");
	return 0;
}

/* A ModelInfo, initialised: from the slab, MODEL_SLAB at a time. */
static Opencode__ModelInfo *
new_model(struct pmap *m)
{
	Opencode__ModelInfo	*mi;

	if (m->slabfree == 0) {
		if ((m->slab = arena_alloc_raw(&m->a,
		    MODEL_SLAB * sizeof(*m->slab))) == NULL)
			return NULL;
		m->slabfree = MODEL_SLAB;
	}
	mi = m->slab++;
	m->slabfree--;
	opencode__model_info__init(mi);
	return mi;
}

/*
 * The models object at the cursor into pi->models: the pointers gather in
 * m->tmp, reused from one provider to the next, and are copied into the
 * arena once their number is known.
 */
static int
read_models(struct pmap *m, struct json_walk *w, Opencode__ProviderInfo *pi)
{
	Opencode__ModelInfo	*mi, **v;
	size_t			 n = 0, nc;
	int			 r;

	errno = EDOM;
	if (json_walk_type(w) != JSON_OBJECT || json_walk_enter(w) == -1)
		return fail(m, "models");
	while ((r = json_walk_next(w)) == 1) {
		if (m->nmodels >= PROVIDERS_MODELS_MAX) {
			errno = E2BIG;
			return fail(m, "models");
		}
		if (n == m->tmpcap) {
			nc = m->tmpcap == 0 ? 256 : m->tmpcap * 2;
			if ((v = reallocarray(m->tmp, nc, sizeof(*v))) == NULL)
				return fail(m, "models");
			m->tmp = v;
			m->tmpcap = nc;
		}
		if ((mi = new_model(m)) == NULL)
			return fail(m, "models");
		if (read_model(m, w, mi) == -1)
			return -1;
		m->tmp[n++] = mi;
		m->nmodels++;
	}
	if (r == -1)
		return fail(m, "models");
	if (n > 0) {
		if ((v = arena_alloc_raw(&m->a, n * sizeof(*v))) == NULL)
			return fail(m, "models");
		memcpy(v, m->tmp, n * sizeof(*v));
		pi->models = v;
	}
	pi->n_models = n;
	return 0;
}

/* The models object of provider p, walked where the first walk left it. */
static int
read_models_at(struct pmap *m, const struct prov *p,
    Opencode__ProviderInfo *pi)
{
	struct json_walk	w;

	/* {all: [ {models: here} ] }: three brackets around it. */
	if (json_walk_init(&w, m->buf + p->models_off, p->models_len, 3) == -1)
		return fail(m, "models");
	if (read_models(m, &w, pi) == -1)
		return -1;
	if (json_walk_end(&w) == -1)
		return fail(m, "models");
	return 0;
}

/* A string noted by the first walk, decoded now. */
static int
read_span_str(struct pmap *m, size_t off, size_t len, char **out,
    const char *why)
{
	struct json_walk	w;

	if (json_walk_init(&w, m->buf + off, len, 0) == -1 ||
	    json_walk_str(&w, &m->a, out) == -1)
		return fail(m, why);
	return 0;
}

static int
build(struct pmap *m, int include_all, Opencode__ProviderList *pl)
{
	Opencode__ProviderInfo	*pi, **v;
	const struct pair	*d;
	const struct prov	*p;
	size_t			 i, n = 0;
	int			 connected;

	/* (qsort() wants a pointer even for no element.) */
	if (m->nconn > 1)
		qsort(m->conn, m->nconn, sizeof(*m->conn), pair_cmp);
	if (m->ndef > 1)
		qsort(m->def, m->ndef, sizeof(*m->def), pair_cmp);
	v = NULL;
	if (m->nprov > 0 &&
	    (v = arena_alloc_raw(&m->a, m->nprov * sizeof(*v))) == NULL)
		return fail(m, "all");
	for (i = 0; i < m->nprov; i++) {
		p = &m->prov[i];
		connected = pair_find(m->conn, m->nconn, p->id) != NULL;
		if (!connected && !include_all)
			continue;	/* never looked into */
		if ((pi = p->pi) == NULL) {
			if ((pi = arena_alloc_raw(&m->a, sizeof(*pi))) == NULL)
				return fail(m, "all");
			opencode__provider_info__init(pi);
			pi->id = p->id;
			if (read_span_str(m, p->name_off, p->name_len,
			    &pi->name, "name") == -1 ||
			    read_models_at(m, p, pi) == -1)
				return -1;
		}
		pi->connected = connected;
		pi->default_model_id = (char *)"";
		if ((d = pair_find(m->def, m->ndef, p->id)) != NULL)
			pi->default_model_id = d->val;
		v[n++] = pi;
	}
	pl->providers = v;
	pl->n_providers = n;
	return 0;
}

/* sm packs to n bytes (measured once: it walks the whole list). */
static int
pack(const Opencode__ServerMessage *sm, size_t n, uint8_t **out,
    size_t *out_len)
{
	uint8_t	*p;

	if ((p = malloc(n > 0 ? n : 1)) == NULL)
		return -1;
	if (opencode__server_message__pack(sm, p) != n) {
		free(p);
		return -1;
	}
	*out = p;
	*out_len = n;
	return 0;
}

/* application/json, with parameters or none. */
static int
is_json(const char *ct)
{
	static const char	mt[] = "application/json";

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, mt, sizeof(mt) - 1) != 0)
		return 0;
	ct += sizeof(mt) - 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

int
providers_reply_pack(const struct api_call *c, const struct api_response *r,
    uint8_t **out, size_t *out_len)
{
	Opencode__ServerMessage	 sm = OPENCODE__SERVER_MESSAGE__INIT;
	Opencode__ProviderList	 pl = OPENCODE__PROVIDER_LIST__INIT;
	struct pmap		 m;
	char			 msg[API_MSG_MAX];
	size_t			 n;
	int			 rc;

	*out = NULL;
	*out_len = 0;
	if (r->status < 200 || r->status > 299) {
		snprintf(msg, sizeof(msg), "HTTP %ld", r->status);
		return api_error_pack(c->request_id, r->status == 404 ?
		    ERR_NOT_FOUND : ERR_UPSTREAM_ERROR, msg, out, out_len);
	}
	if (!is_json(r->content_type))
		return api_error_pack(c->request_id, ERR_UPSTREAM_ERROR,
		    "unexpected content type", out, out_len);
	if (r->body == NULL)
		return api_error_pack(c->request_id, ERR_PARSE_ERROR,
		    "invalid JSON", out, out_len);

	memset(&m, 0, sizeof(m));
	m.buf = (const char *)r->body;
	m.len = r->body_len;
	m.include_all = c->include_all;
	arena_init(&m.a);
	if (read_root(&m) == 0)
		(void)build(&m, c->include_all, &pl);
	if (m.why != NULL) {
		if (m.err == ENOMEM)
			rc = -1;
		else {
			if (m.err == E2BIG)
				snprintf(msg, sizeof(msg), "reply too large");
			else if (strcmp(m.why, "invalid JSON") == 0)
				snprintf(msg, sizeof(msg), "invalid JSON");
			else
				snprintf(msg, sizeof(msg),
				    "unexpected reply: %s", m.why);
			rc = api_error_pack(c->request_id, ERR_PARSE_ERROR,
			    msg, out, out_len);
		}
		arena_free(&m.a);
		free(m.tmp);
		return rc;
	}
	sm.request_id = c->request_id;
	sm.payload_case = OPENCODE__SERVER_MESSAGE__PAYLOAD_PROVIDER_LIST;
	sm.provider_list = &pl;
	n = opencode__server_message__get_packed_size(&sm);
	if (c->max_reply > 0 && n > c->max_reply)
		rc = api_error_pack(c->request_id, ERR_UPSTREAM_ERROR,
		    "the provider list is larger than --max-message",
		    out, out_len);
	else
		rc = pack(&sm, n, out, out_len);
	arena_free(&m.a);
	free(m.tmp);
	return rc;
}
