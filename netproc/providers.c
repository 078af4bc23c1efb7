/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

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
 *
 * The models are packed as they are read (ModelInfo by ModelInfo, with
 * protobuf-c, into one growing buffer): no ModelInfo or model string
 * outlives its packing, and the buffer becomes the reply once the few
 * bytes of each provider and of the envelope are put before its models
 * (pack_list()).  The bytes are protobuf-c's own for that message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netproc/arena.h"
#include "netproc/json.h"
#include "netproc/providers.h"
#include "common/varint.h"

/*
 * A provider: where its name and models are in the document, and once they
 * are read, its name and where its models are in the reply (m->enc).
 */
struct prov {
	char			*id;
	char			*name;
	size_t			 name_off, name_len;
	size_t			 models_off, models_len;
	int			 done;		/* name and models read */
	size_t			 enc_off, enc_len;
	int			 connected;
	const char		*default_model_id;
};

/* A key to dispatch on, with its length. */
struct key {
	const char	*s;
	size_t		 len;
};
#define KEY(s)		{ s, sizeof(s) - 1 }
#define NKEYS(v)	(sizeof(v) / sizeof((v)[0]))

/* A sorted string table: `connected` (val NULL) and `default`. */
struct pair {
	char	*key;
	char	*val;
	size_t	 order;		/* document order: the first of equal keys wins */
};

/* A growing array of pairs (grow()). */
struct pairs {
	struct pair	*v;
	size_t		 n, cap;
};

struct pmap {
	const char		*buf;
	size_t			 len;
	struct arena		 a;
	struct prov		*prov;
	size_t			 nprov, provcap;
	struct pairs		 conn, def;
	size_t			 nmodels;	/* in the reply so far */
	struct arena		 ma;		/* one model's strings */
	uint8_t			*enc;		/* the reply being packed (malloc) */
	size_t			 enclen, enccap;
	int			 include_all;
	const char		*why;		/* the member that did not map */
	enum api_status		 st;		/* of a failure */
};

/*
 * errno (json_skim.c's, or set here the same way) becomes m->st: EDOM
 * (another type) and EINVAL are API_ERR_MALFORMED.
 */
static int
fail(struct pmap *m, const char *why)
{
	m->st = api_status_errno(errno);
	if (m->why == NULL)
		m->why = why;
	return -1;
}

/*
 * Enters the array or object (type) at the cursor; anything else fails as
 * why (EDOM).
 */
static int
enter(struct pmap *m, struct json_walk *w, int type, const char *why)
{
	errno = EDOM;
	if (json_walk_type(w) != type || json_walk_enter(w) == -1)
		return fail(m, why);
	return 0;
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
	size_t		 len, i, j;

	switch (json_walk_key_raw(w, &k, &len)) {
	case 1:
		/* Keys are short: compared in line, length first. */
		for (i = 0; i < n; i++) {
			if (keys[i].len != len)
				continue;
			for (j = 0; j < len && keys[i].s[j] == k[j]; j++)
				;
			if (j == len)
				return (int)i;
		}
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

static int	read_models(struct pmap *, struct json_walk *, struct prov *);

/*
 * A new pair at the end of ps, its order its index; NULL (failed as why)
 * when there are PROVIDERS_MAX already or no memory.  A failure ends the
 * mapping, so a pair left half set is never read.
 */
static struct pair *
pair_new(struct pmap *m, struct pairs *ps, const char *why)
{
	struct pair	*p;

	if (grow(m, (void **)&ps->v, &ps->n, &ps->cap, sizeof(*ps->v),
	    PROVIDERS_MAX) == -1) {
		(void)fail(m, why);
		return NULL;
	}
	p = &ps->v[ps->n];
	p->order = ps->n++;
	return p;
}

/* `connected`: an array of strings. */
static int
read_connected(struct pmap *m, struct json_walk *w)
{
	struct pair	*p;
	int		 r;

	if (enter(m, w, JSON_ARRAY, "connected") == -1)
		return -1;
	while ((r = json_walk_next(w)) == 1) {
		if ((p = pair_new(m, &m->conn, "connected")) == NULL)
			return -1;
		if (json_walk_str(w, &m->a, &p->key) == -1)
			return fail(m, "connected");
	}
	return r == 0 ? 0 : fail(m, "connected");
}

/* `default`: an object of strings (a null is as absent). */
static int
read_default(struct pmap *m, struct json_walk *w)
{
	struct pair	*p;
	size_t		 off, len;
	struct json_walk k;
	int		 r;

	if (enter(m, w, JSON_OBJECT, "default") == -1)
		return -1;
	while ((r = json_walk_next(w)) == 1) {
		if (json_walk_type(w) == JSON_NULL)
			continue;
		if ((p = pair_new(m, &m->def, "default")) == NULL)
			return -1;
		/* The key, decoded as a string: it starts with its quote. */
		off = w->key - 1;
		len = w->key_end + 1 - off;
		if (json_walk_init(&k, m->buf + off, len, 0) == -1 ||
		    json_walk_str(&k, &m->a, &p->key) == -1 ||
		    json_walk_str(w, &m->a, &p->val) == -1)
			return fail(m, "default");
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
	struct prov		 p;
	int			 r, all = m->include_all;
	int			 has_name = 0, has_models = 0;

	memset(&p, 0, sizeof(p));
	if (enter(m, w, JSON_OBJECT, "all") == -1)
		return -1;
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
			if (all) {
				if (json_walk_str(w, &m->a, &p.name) == -1)
					return fail(m, "name");
			} else if (json_walk_type(w) != JSON_STRING ||
			    json_walk_span(w, &p.name_off, &p.name_len) == -1)
				return fail(m, "name");
			has_name = 1;
			break;
		case K_MODELS:
			if (has_models)
				break;
			if (all) {
				if (read_models(m, w, &p) == -1)
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
	p.done = all;
	m->prov[m->nprov++] = p;
	return 0;
}

static int
read_all(struct pmap *m, struct json_walk *w)
{
	int	r;

	if (enter(m, w, JSON_ARRAY, "all") == -1)
		return -1;
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
	if (enter(m, &w, JSON_OBJECT, "provider") == -1)
		return -1;
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
	if (json_walk_str(w, &m->ma, out) == -1)
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
	if (enter(m, w, JSON_OBJECT, why) == -1)
		return -1;
	*entered = 1;
	return 0;
}

/*
 * The next member of the entered object whose key is in keys[0..n): its
 * index; -1 at the object's end, -2 (failed as why) when the object is
 * malformed.  The members between are skimmed by the walk.
 */
static int
next_member(struct pmap *m, struct json_walk *w, const struct key *keys,
    size_t n, const char *why)
{
	int	r, k;

	while ((r = json_walk_next(w)) == 1)
		if ((k = pick(w, keys, n)) != -1)
			return k;
	if (r == 0)
		return -1;
	(void)fail(m, why);
	return -2;
}

/* capabilities {reasoning, attachment, toolcall, ...} */
static int
read_caps(struct pmap *m, struct json_walk *w, Opencode__ModelInfo *mi)
{
	static const struct key	 keys[] = { KEY("reasoning"),
	    KEY("attachment"), KEY("toolcall") };
	protobuf_c_boolean	*dst[] = { &mi->reasoning, &mi->attachment,
	    &mi->toolcall };
	int			 k = -1, in;

	if (opt_enter(m, w, &in, "capabilities") == -1)
		return -1;
	while (in && (k = next_member(m, w, keys, NKEYS(keys),
	    "capabilities")) >= 0)
		if (opt_bool(m, w, dst[k], keys[k].s) == -1)
			return -1;
	return k == -2 ? -1 : 0;
}

/*
 * limit {context, output}: integers into ints[0] and ints[1]; cost {input,
 * output}: numbers with fractions (per million tokens) into dbls[0] and
 * dbls[1] (ints NULL).  A null member is skipped.
 */
static int
read_pair(struct pmap *m, struct json_walk *w, const char *why,
    const struct key keys[2], int64_t *const *ints, double *const *dbls)
{
	int	k = -1, in, rc;

	if (opt_enter(m, w, &in, why) == -1)
		return -1;
	while (in && (k = next_member(m, w, keys, 2, why)) >= 0) {
		if (json_walk_type(w) == JSON_NULL)
			continue;
		rc = ints != NULL ? json_walk_int64(w, ints[k]) :
		    json_walk_double(w, dbls[k]);
		if (rc == -1)
			return fail(m, why);
	}
	return k == -2 ? -1 : 0;
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
	static const struct key	limit[] = { KEY("context"), KEY("output") };
	static const struct key	cost[] = { KEY("input"), KEY("output") };
	int64_t			*ints[] = { &mi->context_limit,
	    &mi->output_limit };
	double			*dbls[] = { &mi->cost_input, &mi->cost_output };
	protobuf_c_boolean	*caps[] = { &mi->reasoning, &mi->attachment,
	    &mi->toolcall };
	int			 r, rc, k;

	if (enter(m, w, JSON_OBJECT, "models") == -1)
		return -1;
	mi->id = mi->name = mi->family = (char *)"";
	while ((r = json_walk_next(w)) == 1) {
		switch ((k = pick(w, keys, NKEYS(keys)))) {
		case K_ID:
			rc = json_walk_str(w, &m->ma, &mi->id) == -1 ?
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
		case K_ATTACHMENT:
		case K_TOOL_CALL:
			rc = opt_bool(m, w, caps[k - K_REASONING], keys[k].s);
			break;
		case K_LIMIT:
			rc = read_pair(m, w, "limit", limit, ints, NULL);
			break;
		case K_COST:
			rc = read_pair(m, w, "cost", cost, NULL, dbls);
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

/* Room for n more bytes in m->enc. */
static int
enc_room(struct pmap *m, size_t n)
{
	uint8_t	*p;
	size_t	 nc;

	if (m->enccap - m->enclen >= n)
		return 0;
	nc = m->enccap;
	while (nc - m->enclen < n) {
		if (nc > SIZE_MAX / 2 - n) {
			errno = ENOMEM;
			return -1;
		}
		nc = nc == 0 ? 64 * 1024 : nc * 2;
	}
	if ((p = realloc(m->enc, nc)) == NULL)
		return -1;
	m->enc = p;
	m->enccap = nc;
	return 0;
}

/*
 * The models object at the cursor, packed: each ModelInfo is read into a
 * struct on the stack (its strings in m->ma, reset after it) and appended
 * to m->enc as a ProviderInfo.models field (5, length-delimited), exactly
 * as protobuf-c would pack it there.  No ModelInfo outlives its packing.
 */
static int
read_models(struct pmap *m, struct json_walk *w, struct prov *p)
{
	Opencode__ModelInfo	mi;
	size_t			n;
	uint8_t			*q;
	int			r;

	if (enter(m, w, JSON_OBJECT, "models") == -1)
		return -1;
	p->enc_off = m->enclen;
	while ((r = json_walk_next(w)) == 1) {
		if (m->nmodels >= PROVIDERS_MODELS_MAX) {
			errno = E2BIG;
			return fail(m, "models");
		}
		opencode__model_info__init(&mi);
		if (read_model(m, w, &mi) == -1)
			return -1;
		n = opencode__model_info__get_packed_size(&mi);
		if (enc_room(m, 1 + varint_len(n) + n) == -1)
			return fail(m, "models");
		q = m->enc + m->enclen;
		*q++ = 5 << 3 | 2;
		q = put_varint(q, n);
		if (opencode__model_info__pack(&mi, q) != n) {
			errno = EINVAL;
			return fail(m, "models");
		}
		m->enclen = (size_t)(q - m->enc) + n;
		arena_reset(&m->ma);
		m->nmodels++;
	}
	if (r == -1)
		return fail(m, "models");
	p->enc_len = m->enclen - p->enc_off;
	return 0;
}

/* The models object of provider p, walked where the first walk left it. */
static int
read_models_at(struct pmap *m, struct prov *p)
{
	struct json_walk	w;

	/* {all: [ {models: here} ] }: three brackets around it. */
	if (json_walk_init(&w, m->buf + p->models_off, p->models_len, 3) == -1)
		return fail(m, "models");
	if (read_models(m, &w, p) == -1)
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

/*
 * Which providers are kept, and the models of those the first walk did not
 * read (without include_all) packed into m->enc, in document order.
 * Returns how many are kept; they are moved to the front of m->prov.
 */
static int
build(struct pmap *m, int include_all, size_t *nkept)
{
	const struct pair	*d;
	struct prov		*p;
	size_t			 i, n = 0;
	int			 connected;

	/* (qsort() wants a pointer even for no element.) */
	if (m->conn.n > 1)
		qsort(m->conn.v, m->conn.n, sizeof(*m->conn.v), pair_cmp);
	if (m->def.n > 1)
		qsort(m->def.v, m->def.n, sizeof(*m->def.v), pair_cmp);
	for (i = 0; i < m->nprov; i++) {
		p = &m->prov[i];
		connected = pair_find(m->conn.v, m->conn.n, p->id) != NULL;
		if (!connected && !include_all)
			continue;	/* never looked into */
		if (!p->done) {
			if (read_span_str(m, p->name_off, p->name_len,
			    &p->name, "name") == -1 ||
			    read_models_at(m, p) == -1)
				return -1;
			p->done = 1;
		}
		p->connected = connected;
		p->default_model_id = "";
		if ((d = pair_find(m->def.v, m->def.n, p->id)) != NULL)
			p->default_model_id = d->val;
		m->prov[n++] = *p;
	}
	*nkept = n;
	return 0;
}

/* p's ProviderInfo without its models: its other fields as packed. */
static void
prov_head(const struct prov *p, Opencode__ProviderInfo *pi)
{
	opencode__provider_info__init(pi);
	pi->id = p->id;
	pi->name = p->name;
	pi->connected = p->connected;
	pi->default_model_id = (char *)p->default_model_id;
}

/*
 * The ServerMessage {request_id, provider_list {providers}} around the
 * models in m->enc, as protobuf-c packs it (fields in number order, and
 * ProviderInfo.models is the last field): the enc buffer grows to the
 * reply's size and each provider's models move right, last first, to make
 * room for the bytes before them.  *sizep is the reply's size; with
 * write 0 only that is computed.
 */
static int
pack_list(struct pmap *m, uint64_t request_id, size_t nkept, size_t *sizep,
    int write)
{
	Opencode__ProviderInfo	 pi;
	struct prov		*p;
	size_t			 i, list = 0, total, hs, ps, off;
	uint8_t			*q;

	for (i = 0; i < nkept; i++) {
		p = &m->prov[i];
		prov_head(p, &pi);
		hs = opencode__provider_info__get_packed_size(&pi);
		ps = hs + p->enc_len;
		list += 1 + varint_len(ps) + ps;
	}
	/* request_id (1, omitted when 0), provider_list (41). */
	total = (request_id != 0 ? 1 + varint_len(request_id) : 0) +
	    varint_len(41 << 3 | 2) + varint_len(list) + list;
	*sizep = total;
	if (!write)
		return 0;
	if (total > m->enclen && enc_room(m, total - m->enclen) == -1)
		return -1;
	/* From the last provider to the first: each moves right or stays. */
	off = total;
	for (i = nkept; i-- > 0; ) {
		p = &m->prov[i];
		off -= p->enc_len;
		memmove(m->enc + off, m->enc + p->enc_off, p->enc_len);
		prov_head(p, &pi);
		hs = opencode__provider_info__get_packed_size(&pi);
		ps = hs + p->enc_len;
		off -= 1 + varint_len(ps) + hs;
		q = m->enc + off;
		*q++ = 1 << 3 | 2;
		q = put_varint(q, ps);
		if (opencode__provider_info__pack(&pi, q) != hs) {
			errno = EINVAL;
			return -1;
		}
	}
	q = m->enc;
	if (request_id != 0) {
		*q++ = 1 << 3 | 0;
		q = put_varint(q, request_id);
	}
	q = put_varint(q, 41 << 3 | 2);
	q = put_varint(q, list);
	if ((size_t)(q - m->enc) != off) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
providers_reply_pack(const struct api_call *c, const struct api_response *r,
    uint8_t **out, size_t *out_len)
{
	struct pmap		 m;
	char			 msg[API_MSG_MAX];
	size_t			 n = 0, nkept = 0;
	int			 rc;

	*out = NULL;
	*out_len = 0;
	if (r->status < 200 || r->status > 299) {
		snprintf(msg, sizeof(msg), "HTTP %ld", r->status);
		return api_error_pack(c->request_id, r->status == 404 ?
		    ERR_NOT_FOUND : ERR_UPSTREAM_ERROR, msg, out, out_len);
	}
	if (!api_is_json_type(r->content_type))
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
	arena_init(&m.ma);
	/* The models are about a tenth of the document in the reply. */
	if (m.include_all && enc_room(&m, m.len / 8 + 1) == -1)
		(void)fail(&m, "all");		/* ENOMEM */
	else if (read_root(&m) == 0 && build(&m, c->include_all, &nkept) == 0)
		(void)pack_list(&m, c->request_id, nkept, &n, 0);
	if (m.why != NULL) {
		if (m.st == API_ERR_NOMEM)
			rc = -1;
		else {
			if (m.st == API_ERR_TOO_BIG)
				snprintf(msg, sizeof(msg), "reply too large");
			else if (strcmp(m.why, "invalid JSON") == 0)
				snprintf(msg, sizeof(msg), "invalid JSON");
			else
				snprintf(msg, sizeof(msg),
				    "unexpected reply: %s", m.why);
			rc = api_error_pack(c->request_id, ERR_PARSE_ERROR,
			    msg, out, out_len);
		}
	} else if (c->max_reply > 0 && n > c->max_reply)
		rc = api_error_pack(c->request_id, ERR_UPSTREAM_ERROR,
		    "the provider list is larger than --max-message",
		    out, out_len);
	else if (pack_list(&m, c->request_id, nkept, &n, 1) == -1)
		rc = -1;
	else {
		*out = m.enc;
		*out_len = n;
		m.enc = NULL;
		rc = 0;
	}
	arena_free(&m.a);
	arena_free(&m.ma);
	free(m.enc);
	return rc;
}
