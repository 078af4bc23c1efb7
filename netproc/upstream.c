/*
 * Copyright (c) 2026 The ocbroker authors
 * SPDX-License-Identifier: ISC (the licence is in the file LICENSE)
 */

/* libcurl multi + libevent glue and the pinned destination; see upstream.h. */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/timer.h"
#include "netproc/upauth.h"
#include "netproc/upstream.h"

/*
 * Easy handles of finished requests kept for the next ones (reset, so no
 * option and no pointer of the old request survives): a handle keeps its
 * buffers, so a request costs no handle set-up.  Connections are the
 * multi's either way.
 */
#define UPSTREAM_EASY_KEEP	8
#define BODY_MIN_CAP		16384	/* libcurl hands over at most 16 KiB */
#define BODY_SLACK_MAX		(2u * 1024 * 1024)	/* room beyond need */
#define BODY_MAP_MIN		(1u * 1024 * 1024)	/* mapped on its own */
#define BODY_SPARE_MAX		(16u * 1024 * 1024)	/* kept for reuse */
#define BODY_SPARE_IDLE_MS	5000	/* then given back */
#ifndef MAP_POPULATE
#define MAP_POPULATE		0	/* Linux's; elsewhere the pages fault in */
#endif

/*
 * An upstream body.  Its whole capacity is charged to the upstream's byte
 * budget while it is allocated (preallocated room counts as much as bytes
 * read): what the budget allows is what malloc holds.
 */
struct body {
	uint8_t	*data;
	size_t	 len;
	size_t	 cap;
};

enum req_fail {
	REQ_OK,
	REQ_TOO_LARGE,		/* over UPSTREAM_MAX_BODY */
	REQ_OVER_BUDGET,	/* over the budget of every body in flight */
	REQ_CODING,		/* a transfer or content coding we do not take */
};

/* The pool's lanes; each has --upstream-connections connections. */
enum lane {
	LANE_SHORT,		/* every call of the default timeout */
	LANE_LONG,		/* RunCommand: minutes */
	LANE_COUNT
};

struct upstream_req {
	struct upstream_xfer	 xfer;		/* first: it is the easy handle's private */
	struct upstream		*up;
	uint64_t		 conn_id;
	struct api_call		*call;
	CURL			*easy;
	struct curl_slist	*headers;
	struct body		 body;
	enum req_fail		 fail;
	char			 why[96];	/* REQ_CODING: which one */
	enum lane		 lane;
	int			 waiting;	/* in a queue, not in reqs */
	uint64_t		 deadline;	/* ms, monotonic: the call's timeout */
	size_t			 qbytes;	/* charged to UPSTREAM_QUEUE_BYTES */
	/*
	 * A call with path2 (ListPending) makes its second GET on the same
	 * handle once the first one answered 2xx; the first reply waits here.
	 */
	int			 second;	/* the path2 GET is running */
	long			 status1;
	char			 ctype1[128];	/* "" for none */
	struct body		 body1;
	TAILQ_ENTRY(upstream_req) entry;
};

TAILQ_HEAD(req_list, upstream_req);

/*
 * A watcher of one upstream socket.  When libcurl stops watching a socket
 * whose connection goes back to its cache, the watcher stays armed for
 * reading and idle (on up->idle_socks): the next transfer on that
 * connection wants to read it again, and finds it armed, without the
 * epoll_ctl() pair per request.  An idle socket that turns readable (the
 * server closed it) is dropped then; one that libcurl closes, in
 * closesocket_cb() before the close.
 */
struct upstream_sock {
	struct event		*ev;
	struct upstream		*up;
	struct upstream_sock	*next;		/* in the free or the idle list */
	int			 idle;
	int			 extra;		/* allocated past the preallocated */
};

struct upstream {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	upstream_done_cb	 done;
	void			*done_arg;

	char			 base_url[UPSTREAM_URL_MAX];
	char			 host[256];
	unsigned		 port;
	int			 https;
	struct curl_slist	*resolve;	/* the pinned address */
	struct sockaddr_storage	 pinned;
	socklen_t		 pinned_len;
	struct upauth		*auth;		/* NULL: no basic auth */
	struct curl_blob	 ca;		/* the CA bundle, in memory */

	struct req_list		 reqs;		/* handed to libcurl */
	size_t			 nreqs;
	size_t			 running[LANE_COUNT];
	struct req_list		 queue[LANE_COUNT];	/* FIFO, waiting */
	size_t			 nqueued;
	size_t			 qbytes;
	struct event		*qtimer;	/* the oldest waiting call's deadline */
	unsigned		 pool;		/* connections of each lane */
	size_t			 charged;	/* of UPSTREAM_BODY_BUDGET */
	CURL			*idle[UPSTREAM_EASY_KEEP];	/* reset, for reuse */
	size_t			 nidle;
	/* Preallocated for sock_cb, which must not fail (see there). */
	struct upstream_sock	*socks;
	size_t			 nsocks;
	struct upstream_sock	*sfree;
	struct upstream_sock	*idle_socks;	/* armed, unused by libcurl */
	int			 due_now;	/* libcurl asked for a timeout of 0 */
	uint8_t			*spare;		/* a large body block, wiped */
	size_t			 spare_cap;
	struct event		*spare_timer;	/* gives it back when idle */
};


/* Splits http[s]://host[:port][/prefix]; the prefix stays in base_url. */
static int
parse_url(struct upstream *up, const char *url)
{
	const char *p, *hend, *pstart;
	size_t hlen;

	if (strlen(url) >= sizeof(up->base_url))
		return -1;
	if (strncmp(url, "https://", 8) == 0) {
		up->https = 1;
		p = url + 8;
		up->port = 443;
	} else if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
		up->port = 80;
	} else
		return -1;
	if (strchr(p, '@') != NULL)	/* credentials come from the environment */
		return -1;
	if (*p == '[') {
		if ((hend = strchr(p, ']')) == NULL)
			return -1;
		hlen = (size_t)(hend - p - 1);
		if (hlen == 0 || hlen >= sizeof(up->host))
			return -1;
		memcpy(up->host, p + 1, hlen);
		up->host[hlen] = '\0';
		pstart = hend + 1;
	} else {
		hend = p + strcspn(p, ":/?#");
		hlen = (size_t)(hend - p);
		if (hlen == 0 || hlen >= sizeof(up->host))
			return -1;
		memcpy(up->host, p, hlen);
		up->host[hlen] = '\0';
		pstart = hend;
	}
	if (*pstart == ':') {
		char *end;
		unsigned long v = strtoul(pstart + 1, &end, 10);

		if (end == pstart + 1 || v == 0 || v > 65535 ||
		    (*end != '\0' && *end != '/'))
			return -1;
		up->port = (unsigned)v;
		pstart = end;
	}
	if (*pstart != '\0' && *pstart != '/')
		return -1;
	if (strchr(pstart, '?') != NULL || strchr(pstart, '#') != NULL)
		return -1;
	snprintf(up->base_url, sizeof(up->base_url), "%s", url);
	/* Paths from api.c start with '/'. */
	hlen = strlen(up->base_url);
	while (hlen > 0 && up->base_url[hlen - 1] == '/')
		up->base_url[--hlen] = '\0';
	return 0;
}

/* Resolves the host once; libcurl then never starts a resolver (the sandbox
 * would not let it) and can only reach this address. */
static int
pin_address(struct upstream *up)
{
	struct addrinfo hints, *res = NULL;
	char portstr[8], addr[INET6_ADDRSTRLEN], entry[512];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%u", up->port);
	if ((rc = getaddrinfo(up->host, portstr, &hints, &res)) != 0) {
		log_warnx("upstream host %s: %s", up->host, gai_strerror(rc));
		return -1;
	}
	if (res->ai_addrlen > sizeof(up->pinned)) {
		freeaddrinfo(res);
		return -1;
	}
	memcpy(&up->pinned, res->ai_addr, res->ai_addrlen);
	up->pinned_len = res->ai_addrlen;
	freeaddrinfo(res);
	if (up->pinned.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&up->pinned)->sin_addr,
		    addr, sizeof(addr));
	else
		inet_ntop(AF_INET6,
		    &((struct sockaddr_in6 *)&up->pinned)->sin6_addr, addr,
		    sizeof(addr));
	/* An address literal needs no resolving; a name is pinned. */
	if (strcmp(addr, up->host) != 0) {
		snprintf(entry, sizeof(entry), "%s:%u:%s%s%s", up->host, up->port,
		    up->pinned.ss_family == AF_INET6 ? "[" : "", addr,
		    up->pinned.ss_family == AF_INET6 ? "]" : "");
		if ((up->resolve = curl_slist_append(NULL, entry)) == NULL)
			return -1;
	}
	log_info("upstream %s pinned to %s port %u", up->host, addr, up->port);
	return 0;
}

static int
load_ca(struct upstream *up, const char *path)
{
	struct buf b;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("CA bundle %s", path);
		return -1;
	}
	buf_init(&b);
	while ((n = buf_read(&b, fd, 65536)) > 0)
		if (buf_used(&b) > UPSTREAM_CA_MAX) {
			log_warnx("CA bundle %s is too large", path);
			close(fd);
			buf_free(&b);
			return -1;
		}
	close(fd);
	if (n == -1) {
		log_warn("CA bundle %s", path);
		buf_free(&b);
		return -1;
	}
	/* The blob owns its memory; nothing secret in it. */
	up->ca.data = b.data + b.off;
	up->ca.len = buf_used(&b);
	up->ca.flags = CURL_BLOB_NOCOPY;
	return 0;
}

static int	closesocket_cb(void *, curl_socket_t);

/* The destination, enforced a second time: any address but the pinned one is
 * refused before a socket exists. */
static curl_socket_t
opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct upstream *up = arg;
	int same = 0;

	if (purpose == CURLSOCKTYPE_IPCXN && a->family == up->pinned.ss_family) {
		if (a->family == AF_INET) {
			const struct sockaddr_in *x = (const void *)&a->addr;
			const struct sockaddr_in *y = (const void *)&up->pinned;

			same = x->sin_port == y->sin_port &&
			    x->sin_addr.s_addr == y->sin_addr.s_addr;
		} else if (a->family == AF_INET6) {
			const struct sockaddr_in6 *x = (const void *)&a->addr;
			const struct sockaddr_in6 *y = (const void *)&up->pinned;

			same = x->sin6_port == y->sin6_port &&
			    memcmp(&x->sin6_addr, &y->sin6_addr,
			    sizeof(x->sin6_addr)) == 0;
		}
	}
	if (!same) {
		log_warnx("refused a connection to an address that is not the "
		    "pinned upstream");
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/*
 * Blocks for bodies.  A large one is mapped on its own with its pages
 * populated in the one mmap call, and the last one released stays as the
 * spare for BODY_SPARE_IDLE_MS: in a VM every first write to a page costs
 * an exit, so a fresh block for the 6.5 MB /provider costs ~1,600 of them
 * (two thirds of netproc's time there), while a block written before costs
 * none.  The spare is wiped, is at most BODY_SPARE_MAX, and is not charged
 * to the body budget: netproc holds at most the budget plus the spare.
 */
static uint8_t *
block_get(struct upstream *up, size_t cap, size_t most, size_t *capp)
{
	void *p;

	*capp = cap;
	if (cap < BODY_MAP_MIN)
		return malloc(cap);
	if (up->spare != NULL && up->spare_cap >= cap &&
	    up->spare_cap <= most) {
		p = up->spare;
		*capp = up->spare_cap;
		up->spare = NULL;
		up->spare_cap = 0;
		evtimer_del(up->spare_timer);
		return p;
	}
	p = mmap(NULL, cap, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void
spare_drop(struct upstream *up)
{
	if (up->spare != NULL)
		munmap(up->spare, up->spare_cap);
	up->spare = NULL;
	up->spare_cap = 0;
}

static void
spare_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	spare_drop(arg);
}

/* Wipes the len bytes in use of a block_get() block of cap bytes and
 * releases it, or keeps it as the spare. */
static void
block_put(struct upstream *up, uint8_t *data, size_t len, size_t cap)
{
	wipe(data, len);
	if (cap < BODY_MAP_MIN)
		free(data);
	else if (cap <= BODY_SPARE_MAX && cap > up->spare_cap) {
		spare_drop(up);
		up->spare = data;
		up->spare_cap = cap;
		timer_arm(up->spare_timer, BODY_SPARE_IDLE_MS);
	} else
		munmap(data, cap);
}

/* Wiped: a body may carry what a client must not leave behind (auth). */
static void
body_free(struct upstream *up, struct body *b)
{
	if (b->data != NULL)
		block_put(up, b->data, b->len, b->cap);
	up->charged -= b->cap;
	memset(b, 0, sizeof(*b));
}

/*
 * Makes room for need bytes (at most limit).  Content-Length (want) is
 * taken at once when the budget keeps a quarter free after it: a body that
 * only says it is large cannot take the last of it.  Else the room grows
 * by half, by at most BODY_SLACK_MAX, cut to what the budget has left, so
 * that a stalled body holds little it does not use.  -1 with r->fail set
 * when the budget cannot hold need, -1 alone when out of memory.
 */
static int
body_grow(struct upstream_req *r, size_t need, size_t want, size_t limit)
{
	struct upstream *up = r->up;
	struct body *b = &r->body;
	size_t left = UPSTREAM_BODY_BUDGET - up->charged, ncap, most;
	uint8_t *nd;

	if (want >= need && want <= limit && want - b->cap <= left &&
	    left - (want - b->cap) >= UPSTREAM_BODY_BUDGET / 4)
		ncap = want;
	else {
		ncap = need + (need / 2 < BODY_SLACK_MAX ? need / 2 :
		    BODY_SLACK_MAX);
		if (ncap < BODY_MIN_CAP)
			ncap = BODY_MIN_CAP;
		if (ncap > limit)
			ncap = limit;
		if (ncap - b->cap > left)
			ncap = b->cap + left;
		if (ncap < need) {
			r->fail = REQ_OVER_BUDGET;
			return -1;
		}
	}
	/* Not realloc: the old block is wiped before it is released.  The
	 * spare may be larger than ncap, as far as limit and budget allow. */
	most = limit < b->cap + left ? limit : b->cap + left;
	if ((nd = block_get(up, ncap, most, &ncap)) == NULL)
		return -1;
	if (b->len > 0)
		memcpy(nd, b->data, b->len);
	if (b->data != NULL)
		block_put(up, b->data, b->len, b->cap);
	up->charged += ncap - b->cap;
	b->data = nd;
	b->cap = ncap;
	return 0;
}

static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct upstream_req *r = arg;
	size_t len = size * n, limit, want = 0;
	curl_off_t cl = -1;

	if (len == 0)
		return 0;
	/* Both bodies of a path2 call count against the one cap. */
	if (r->body1.len + r->body.len + len > UPSTREAM_MAX_BODY) {
		r->fail = REQ_TOO_LARGE;
		return 0;
	}
	limit = UPSTREAM_MAX_BODY - r->body1.len;
	if (r->body.len + len > r->body.cap) {
		/* Sized once from Content-Length: no regrowth copies for
		 * the 6.5 MB /provider. */
		if (r->body.cap == 0 && curl_easy_getinfo(r->easy,
		    CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK &&
		    cl > 0 && (uint64_t)cl <= limit)
			want = (size_t)cl;
		if (body_grow(r, r->body.len + len, want, limit) == -1) {
			/* The other requests get the memory at once. */
			body_free(r->up, &r->body);
			body_free(r->up, &r->body1);
			return 0;
		}
	}
	memcpy(r->body.data + r->body.len, data, len);
	r->body.len += len;
	return len;
}

/*
 * Only the identity and chunked transfer codings, and no content coding
 * but identity: nobody asked for one (no Accept-Encoding is sent), libcurl
 * would undo a gzip transfer coding on its own (a small reply inflating
 * past what the body limits saw), and a content coding would reach api.c
 * as bytes that are not JSON.  0, or -1 with why set.
 */
static int
coding_sep(char c)
{
	return c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n';
}

int
upstream_coding_check(const char *line, size_t len, char *why, size_t whylen)
{
	static const char te[] = "transfer-encoding:";
	static const char ce[] = "content-encoding:";
	const char *p, *end = line + len, *tok;
	size_t tlen, i;
	int transfer, plain;

	if (len >= sizeof(te) - 1 && strncasecmp(line, te, sizeof(te) - 1) == 0) {
		transfer = 1;
		p = line + sizeof(te) - 1;
	} else if (len >= sizeof(ce) - 1 &&
	    strncasecmp(line, ce, sizeof(ce) - 1) == 0) {
		transfer = 0;
		p = line + sizeof(ce) - 1;
	} else
		return 0;
	for (;;) {
		while (p < end && coding_sep(*p))
			p++;
		if (p == end)
			return 0;
		tok = p;
		while (p < end && !coding_sep(*p))
			p++;
		tlen = (size_t)(p - tok);
		if (tlen == 8 && strncasecmp(tok, "identity", 8) == 0)
			continue;
		if (transfer && tlen == 7 && strncasecmp(tok, "chunked", 7) == 0)
			continue;
		break;
	}
	/* The name is the upstream's: quoted only when it is a plain token. */
	plain = tlen <= 32;
	for (i = 0; plain && i < tlen; i++)
		plain = (tok[i] >= 'a' && tok[i] <= 'z') ||
		    (tok[i] >= 'A' && tok[i] <= 'Z') ||
		    (tok[i] >= '0' && tok[i] <= '9') || tok[i] == '-' ||
		    tok[i] == '_' || tok[i] == '.';
	snprintf(why, whylen, "the upstream's reply has %s %.*s, which netproc "
	    "does not take", transfer ? "Transfer-Encoding" : "Content-Encoding",
	    plain ? (int)tlen : 7, plain ? tok : "(other)");
	return -1;
}

static size_t
header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct upstream_req *r = arg;
	size_t len = size * n;

	if (upstream_coding_check(data, len, r->why, sizeof(r->why)) == -1) {
		r->fail = REQ_CODING;
		return 0;
	}
	return len;
}

/* The same check for a transfer that sets no header callback of its own. */
static size_t
plain_header_cb(char *data, size_t size, size_t n, void *arg)
{
	size_t len = size * n;
	char why[96];

	(void)arg;
	if (upstream_coding_check(data, len, why, sizeof(why)) == -1) {
		log_warnx("%s", why);
		return 0;
	}
	return len;
}

/* An easy handle with every option at its default. */
static CURL *
easy_get(struct upstream *up)
{
	if (up->nidle > 0)
		return up->idle[--up->nidle];
	return curl_easy_init();
}

/* Takes back a handle that is in no multi. */
static void
easy_put(struct upstream *up, CURL *e)
{
	if (up->nidle < UPSTREAM_EASY_KEEP) {
		/* Forgets every option: the request's headers, body, data. */
		curl_easy_reset(e);
		up->idle[up->nidle++] = e;
	} else
		curl_easy_cleanup(e);
}

static void
req_free(struct upstream_req *r)
{
	if (r->easy != NULL) {
		curl_multi_remove_handle(r->up->multi, r->easy);
		easy_put(r->up, r->easy);
	}
	curl_slist_free_all(r->headers);
	body_free(r->up, &r->body);
	body_free(r->up, &r->body1);
	if (r->call != NULL) {
		api_call_free(r->call);
		free(r->call);
	}
	free(r);
}

/*
 * Hands what became of a call to api.c, which packs its answer (never
 * failing: out of memory is answered from the stack), and the bytes to
 * the done callback.  why, when not NULL, gets the error answered.
 */
static void
answer(struct upstream *up, uint64_t conn_id, const struct api_call *call,
    const struct api_outcome *o, struct api_error *why)
{
	struct api_answer ans;

	api_answer(call, o, &ans);
	up->done(up->done_arg, conn_id, call->request_id, ans.msg, ans.len);
	if (why != NULL)
		*why = ans.err;
	api_answer_free(&ans);
}

/* An outcome that carries nothing but its kind. */
static void
answer_end(struct upstream *up, uint64_t conn_id, const struct api_call *call,
    enum api_end end)
{
	struct api_outcome o;

	memset(&o, 0, sizeof(o));
	o.end = end;
	answer(up, conn_id, call, &o, NULL);
}

static const char *
method_name(enum api_method m)
{
	switch (m) {
	case API_GET:		return "GET";
	case API_POST:		return "POST";
	case API_PUT:		return "PUT";
	case API_DELETE:	return "DELETE";
	case API_PATCH:		return "PATCH";
	}
	return "GET";
}

int
upstream_easy_setup(struct upstream *up, CURL *e, const char *path,
    struct curl_slist *headers)
{
	char url[UPSTREAM_URL_MAX + API_PATH_MAX];

	if ((size_t)snprintf(url, sizeof(url), "%s%s", up->base_url, path) >=
	    sizeof(url))
		return -1;
	/* The credentials go in a line of the caller's header list, wiped
	 * with it; libcurl's options would be copied into its handles and
	 * its connections, for as long as they live. */
	if (up->auth != NULL && upauth_append(up->auth, headers) == NULL)
		return -1;
	if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_RESOLVE, up->resolve) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, up) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, closesocket_cb) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, up) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)UPSTREAM_CONNECT_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
	    /* No Accept-Encoding is sent, and nothing is decoded. */
	    curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, plain_header_cb) != CURLE_OK)
		return -1;
	if (up->https &&
	    (curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &up->ca) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CAINFO, NULL) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK))
		return -1;
	return 0;
}

int
upstream_xfer_add(struct upstream *up, CURL *e, struct upstream_xfer *x)
{
	if (curl_easy_setopt(e, CURLOPT_PRIVATE, x) != CURLE_OK ||
	    curl_multi_add_handle(up->multi, e) != CURLM_OK)
		return -1;
	return 0;
}

void
upstream_xfer_remove(struct upstream *up, CURL *e)
{
	curl_multi_remove_handle(up->multi, e);
}

struct event_base *
upstream_base(struct upstream *up)
{
	return up->base;
}

static void	req_done(struct upstream_xfer *, CURLcode);
static void	check_done(struct upstream *);
static void	run_due(struct upstream *);

/*
 * Sets up r->easy for the call's request, or for its path2 GET (second):
 * that one has no body and the same timeout.
 */
static int
req_setup(struct upstream *up, struct upstream_req *r, int second,
    long timeout)
{
	struct api_call *c = r->call;
	enum api_method method = second ? API_GET : c->method;
	const char *body = second ? NULL : c->body;
	CURL *e;

	if (r->easy == NULL && (r->easy = easy_get(up)) == NULL)
		return -1;
	e = r->easy;
	r->xfer.done = req_done;
	r->headers = curl_slist_append(r->headers, "Accept: application/json");
	/* No 100-continue round trip for a small body. */
	r->headers = curl_slist_append(r->headers, "Expect:");
	if (body != NULL)
		r->headers = curl_slist_append(r->headers,
		    "Content-Type: application/json");
	if (r->headers == NULL || upstream_easy_setup(up, e,
	    second ? c->path2 : c->path, r->headers) == -1)
		return -1;
	if (curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, r) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HEADERDATA, r) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method_name(method)) != CURLE_OK)
		return -1;
	if (second) {
		if (curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) != CURLE_OK)
			return -1;
		return 0;
	}
	if (c->body != NULL &&
	    (curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)c->body_len) != CURLE_OK))
		return -1;
	if (c->body == NULL && c->method == API_POST &&
	    (curl_easy_setopt(e, CURLOPT_POSTFIELDS, "") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L) != CURLE_OK))
		return -1;
	if (c->method == API_GET &&
	    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) != CURLE_OK)
		return -1;
	return 0;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static long
call_timeout(const struct api_call *c)
{
	return c->timeout_ms > 0 ? c->timeout_ms :
	    (long)UPSTREAM_REQUEST_TIMEOUT_MS;
}

/* Out of reqs or out of its queue, with the counts that go with it. */
static void
req_unlink(struct upstream *up, struct upstream_req *r)
{
	if (r->waiting) {
		TAILQ_REMOVE(&up->queue[r->lane], r, entry);
		up->nqueued--;
		up->qbytes -= r->qbytes;
		r->waiting = 0;
	} else {
		TAILQ_REMOVE(&up->reqs, r, entry);
		up->nreqs--;
		up->running[r->lane]--;
	}
}

/* A call that waited its whole timeout for a connection. */
static void
answer_expired(struct upstream_req *r)
{
	struct api_outcome o;

	memset(&o, 0, sizeof(o));
	o.end = API_END_TRANSPORT;
	o.transport = API_XPORT_TIMEOUT;
	log_info("request %llu: %s %s: no upstream connection free in time",
	    (unsigned long long)r->call->request_id,
	    method_name(r->call->method), r->call->path);
	answer(r->up, r->conn_id, r->call, &o, NULL);
}

/*
 * Hands a call that left its queue to libcurl, with what is left of its
 * timeout; a call with nothing left is answered.  The reply may come before
 * this returns.
 */
static void
req_start(struct upstream *up, struct upstream_req *r)
{
	uint64_t now = now_ms();

	if (now >= r->deadline) {
		answer_expired(r);
		req_free(r);
		return;
	}
	if (req_setup(up, r, 0, (long)(r->deadline - now)) == -1 ||
	    upstream_xfer_add(up, r->easy, &r->xfer) == -1) {
		answer_end(up, r->conn_id, r->call, API_END_SETUP);
		req_free(r);
		return;
	}
	TAILQ_INSERT_TAIL(&up->reqs, r, entry);
	up->nreqs++;
	up->running[r->lane]++;
}

/* Arms qtimer for the first deadline of a queue's head. */
static void
queue_arm(struct upstream *up)
{
	struct upstream_req *r;
	uint64_t first = UINT64_MAX, now;
	int l;

	for (l = 0; l < LANE_COUNT; l++)
		if ((r = TAILQ_FIRST(&up->queue[l])) != NULL &&
		    r->deadline < first)
			first = r->deadline;
	if (first == UINT64_MAX) {
		evtimer_del(up->qtimer);
		return;
	}
	now = now_ms();
	timer_arm(up->qtimer, first > now ? first - now : 0);
}

/*
 * Starts waiting calls, oldest first, while their lane has a connection
 * free.  Returns how many left a queue.
 */
static int
pump(struct upstream *up)
{
	struct upstream_req *r;
	int l, n = 0;

	for (l = 0; l < LANE_COUNT; l++)
		while (up->running[l] < up->pool &&
		    (r = TAILQ_FIRST(&up->queue[l])) != NULL) {
			req_unlink(up, r);
			req_start(up, r);
			n++;
		}
	queue_arm(up);
	return n;
}

/*
 * After anything that may end transfers or free connections: runs what
 * libcurl has due, answers what ended, and hands the freed connections to
 * the waiting calls, until nothing moves.
 */
static void
settle(struct upstream *up)
{
	do {
		run_due(up);
		check_done(up);
	} while (pump(up) > 0);
}

/* The heads of the queues whose time is up; the timer says when. */
static void
qtimer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *up = arg;
	struct upstream_req *r;
	uint64_t now = now_ms();
	int l;

	for (l = 0; l < LANE_COUNT; l++)
		while ((r = TAILQ_FIRST(&up->queue[l])) != NULL &&
		    r->deadline <= now) {
			req_unlink(up, r);
			answer_expired(r);
			req_free(r);
		}
	queue_arm(up);
}

void
upstream_submit(struct upstream *up, uint64_t conn_id, struct api_call *call)
{
	struct upstream_req *r;
	uint64_t rid = call->request_id;
	enum lane lane;
	size_t qbytes;

	lane = call_timeout(call) > (long)UPSTREAM_REQUEST_TIMEOUT_MS ?
	    LANE_LONG : LANE_SHORT;
	qbytes = sizeof(*r) + sizeof(*call) + call->body_len;
	/* Refused only when it would wait and the queue is full. */
	if (up->running[lane] >= up->pool &&
	    (up->nqueued >= UPSTREAM_QUEUE_MAX ||
	    qbytes > UPSTREAM_QUEUE_BYTES - up->qbytes)) {
		log_info("request %llu: netproc's queue is full (%zu calls, "
		    "%zu bytes)", (unsigned long long)rid, up->nqueued,
		    up->qbytes);
		answer_end(up, conn_id, call, API_END_QUEUE_FULL);
		api_call_free(call);
		free(call);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		answer_end(up, conn_id, call, API_END_NO_MEMORY);
		api_call_free(call);
		free(call);
		return;
	}
	r->up = up;
	r->conn_id = conn_id;
	r->call = call;
	r->lane = lane;
	r->deadline = now_ms() + (uint64_t)call_timeout(call);
	r->qbytes = qbytes;
	r->waiting = 1;
	TAILQ_INSERT_TAIL(&up->queue[lane], r, entry);
	up->nqueued++;
	up->qbytes += qbytes;
	/* Start it now if a connection is free (adding it asked for a
	 * timeout of 0), not a loop round later; it may even be answered
	 * before this returns. */
	settle(up);
}

void
upstream_cancel_conn(struct upstream *up, uint64_t conn_id)
{
	struct upstream_req *r, *next;
	size_t waited = 0;
	int l;

	for (r = TAILQ_FIRST(&up->reqs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->conn_id != conn_id)
			continue;
		req_unlink(up, r);
		req_free(r);
	}
	for (l = 0; l < LANE_COUNT; l++)
		for (r = TAILQ_FIRST(&up->queue[l]); r != NULL; r = next) {
			next = TAILQ_NEXT(r, entry);
			if (r->conn_id != conn_id)
				continue;
			req_unlink(up, r);
			req_free(r);
			waited++;
		}
	if (waited > 0)
		log_info("connection %llu went away: %zu waiting requests "
		    "dropped", (unsigned long long)conn_id, waited);
	/* The connections it held go to the calls that wait. */
	settle(up);
}

size_t
upstream_inflight(const struct upstream *up)
{
	return up->nreqs + up->nqueued;
}

/* What kind of transport failure a libcurl error is; api.c names it. */
static enum api_transport
transport_kind(const struct upstream_req *r, CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return API_XPORT_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return API_XPORT_UNREACHABLE;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_ABORTED_BY_CALLBACK:	/* sock_cb: out of memory */
		return API_XPORT_NO_MEMORY;
	case CURLE_WRITE_ERROR:
		/* write_cb refused the bytes: it said why. */
		if (r->fail == REQ_OVER_BUDGET)
			return API_XPORT_OVER_BUDGET;
		if (r->fail == REQ_TOO_LARGE)
			return API_XPORT_TOO_LARGE;
		if (r->fail == REQ_CODING)
			return API_XPORT_OTHER;
		return API_XPORT_NO_MEMORY;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return API_XPORT_TLS;
	default:
		return API_XPORT_OTHER;
	}
}

static void
answer_curl_error(struct upstream_req *r, CURLcode rc)
{
	struct api_outcome o;
	struct api_error err;

	memset(&o, 0, sizeof(o));
	o.end = API_END_TRANSPORT;
	o.transport = transport_kind(r, rc);
	o.detail = o.transport == API_XPORT_OVER_BUDGET ?
	    UPSTREAM_BODY_BUDGET_STR : r->fail == REQ_CODING ? r->why :
	    curl_easy_strerror(rc);
	answer(r->up, r->conn_id, r->call, &o, &err);
	log_info("request %llu: %s %s: %s",
	    (unsigned long long)r->call->request_id,
	    r->second ? "GET" : method_name(r->call->method),
	    r->second ? r->call->path2 : r->call->path, err.message);
}

/*
 * The transfer is over: what it sent (a body that may hold an API key, the
 * Authorization line) is wiped before the answer leaves, so that a client
 * holding the answer knows netproc holds no secret of the request.  The
 * answer is written at once (chan.c): wiping after it, in req_free, left a
 * window in which the answer was out and the key still in memory.
 */
static void
forget_sent(struct upstream_req *r)
{
	api_call_free(r->call);
	upauth_scrub(r->headers);
}

/* Answers the request; returns the HTTP status, 0 after a transport error. */
static long
finish(struct upstream_req *r, CURLcode rc)
{
	struct api_response resp, first;
	struct api_outcome o;
	const char *path = r->second ? r->call->path2 : r->call->path;

	forget_sent(r);
	if (rc != CURLE_OK) {
		answer_curl_error(r, rc);
		return 0;
	}
	memset(&resp, 0, sizeof(resp));
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
	curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &resp.content_type);
	resp.body = r->body.data;
	resp.body_len = r->body.len;
	if (resp.status < 200 || resp.status > 299)
		log_info("request %llu: %s %s: HTTP %ld",
		    (unsigned long long)r->call->request_id,
		    r->second ? "GET" : method_name(r->call->method), path,
		    resp.status);
	else
		log_debug("request %llu: %s %s: HTTP %ld, %zu bytes",
		    (unsigned long long)r->call->request_id,
		    r->second ? "GET" : method_name(r->call->method), path,
		    resp.status, resp.body_len);
	memset(&o, 0, sizeof(o));
	o.end = API_END_REPLY;
	o.resp = &resp;
	if (r->second) {
		/* The first reply, with the second beside it. */
		memset(&first, 0, sizeof(first));
		first.status = r->status1;
		first.content_type = r->ctype1[0] != '\0' ? r->ctype1 : NULL;
		first.body = r->body1.data;
		first.body_len = r->body1.len;
		first.second = &resp;
		o.resp = &first;
	}
	answer(r->up, r->conn_id, r->call, &o, NULL);
	return resp.status;
}

/*
 * The first GET of a path2 call answered 2xx: keeps its reply and makes
 * the second GET on the same handle (its connection stays in the multi's
 * cache meanwhile).  -1 when it cannot be started.
 */
static int
start_second(struct upstream_req *r)
{
	struct upstream *up = r->up;
	struct body tmp;
	char *ct = NULL;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status1);
	curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (ct != NULL && strlen(ct) < sizeof(r->ctype1))
		memcpy(r->ctype1, ct, strlen(ct) + 1);
	else
		r->ctype1[0] = '\0';	/* absent, or not one api.c accepts */
	tmp = r->body1;
	r->body1 = r->body;
	r->body = tmp;
	curl_multi_remove_handle(up->multi, r->easy);
	curl_easy_reset(r->easy);
	curl_slist_free_all(r->headers);
	r->headers = NULL;
	r->second = 1;
	if (req_setup(up, r, 1, call_timeout(r->call)) == -1 ||
	    upstream_xfer_add(up, r->easy, &r->xfer) == -1)
		return -1;
	return 0;
}

/*
 * A CancelRequest's abort of session_id succeeded: every RunCommand call on
 * that session, from any connection, ends now with the empty reply (the
 * events tell what became of the message); the upstream transfer is
 * dropped.  The abort's own reply went first.
 */
static void
end_commands(struct upstream *up, const char *session_id)
{
	struct upstream_req *r, *next;
	int l;

	if (session_id[0] == '\0')
		return;
	for (l = -1; l < LANE_COUNT; l++)
		for (r = TAILQ_FIRST(l < 0 ? &up->reqs : &up->queue[l]);
		    r != NULL; r = next) {
			next = TAILQ_NEXT(r, entry);
			if (!r->call->ends_with_cancel ||
			    strcmp(r->call->session_id, session_id) != 0)
				continue;
			log_info("request %llu: %s %s: ended by a cancel%s",
			    (unsigned long long)r->call->request_id,
			    method_name(r->call->method), r->call->path,
			    r->waiting ? " before it was sent" : "");
			req_unlink(up, r);
			answer_end(up, r->conn_id, r->call, API_END_ENDED);
			req_free(r);
		}
}

/*
 * The second GET's path comes from the first reply (api_second_path);
 * -1 when it cannot be made, after answering the request with why.
 */
static int
second_path(struct upstream_req *r)
{
	struct api_response resp;
	struct api_outcome o;
	struct api_error err;

	memset(&resp, 0, sizeof(resp));
	memset(&err, 0, sizeof(err));
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
	curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &resp.content_type);
	resp.body = r->body.data;
	resp.body_len = r->body.len;
	if (api_second_path(r->call, &resp, &err) == 0)
		return 0;
	log_info("request %llu: %s %s: %s", (unsigned long long)
	    r->call->request_id, method_name(r->call->method), r->call->path,
	    err.message);
	memset(&o, 0, sizeof(o));
	o.end = API_END_ERROR;
	o.err = &err;
	answer(r->up, r->conn_id, r->call, &o, NULL);
	return -1;
}

static void
req_done(struct upstream_xfer *x, CURLcode rc)
{
	struct upstream_req *r = (struct upstream_req *)x;
	struct upstream *up = r->up;
	long status = 0;

	if (rc == CURLE_OK && !r->second && (r->call->path2[0] != '\0' ||
	    r->call->path2_from_reply)) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		/* A failed first GET is the reply: api_reply_pack maps it. */
		if (status >= 200 && status <= 299) {
			if (r->call->path2_from_reply &&
			    second_path(r) == -1) {
				req_unlink(up, r);
				req_free(r);
				return;
			}
			if (start_second(r) == 0)
				return;
			req_unlink(up, r);
			answer_end(up, r->conn_id, r->call, API_END_SETUP);
			req_free(r);
			return;
		}
	}
	req_unlink(up, r);
	status = finish(r, rc);
	if (r->call->cancels_session && status >= 200 && status <= 299)
		end_commands(up, r->call->session_id);
	req_free(r);
}

static void
check_done(struct upstream *up)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(up->multi, &left)) != NULL) {
		struct upstream_xfer *x;
		CURLcode rc;

		if (m->msg != CURLMSG_DONE)
			continue;
		rc = m->data.result;
		if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		    (char **)&x) != CURLE_OK || x == NULL)
			continue;
		x->done(x, rc);
	}
}

/*
 * When libcurl asked for a timeout of 0 during a call (a transfer just
 * added, or one that has read its last bytes and finishes on the next
 * call), makes that call at once instead of a loop round later.  Bounded:
 * the timer stays armed, so anything left runs from the loop.
 */
static void
run_due(struct upstream *up)
{
	int running, n;

	for (n = 0; up->due_now && n < 4; n++) {
		up->due_now = 0;
		curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0,
		    &running);
	}
}

static void	sock_put(struct upstream *, struct upstream_sock *);

/* Takes us off the idle list. */
static void
sock_unidle(struct upstream *up, struct upstream_sock *us)
{
	struct upstream_sock **p;

	for (p = &up->idle_socks; *p != NULL; p = &(*p)->next)
		if (*p == us) {
			*p = us->next;
			break;
		}
	us->next = NULL;
	us->idle = 0;
}

/* The idle watcher of socket s, taken off the idle list, or NULL. */
static struct upstream_sock *
sock_idle_take(struct upstream *up, curl_socket_t s)
{
	struct upstream_sock *us;

	for (us = up->idle_socks; us != NULL; us = us->next)
		if (event_get_fd(us->ev) == s) {
			sock_unidle(up, us);
			return us;
		}
	return NULL;
}

static void
sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_sock *us = arg;
	struct upstream *up = us->up;
	int running, flags = 0;

	if (us->idle) {
		/* Nothing asked for: end of file or stray bytes.  libcurl
		 * finds the connection dead when it next checks it. */
		sock_unidle(up, us);
		sock_put(up, us);
		return;
	}
	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(up->multi, fd, flags, &running);
	settle(up);
}

/* An unused socket watcher; NULL when none is left and none can be made. */
static struct upstream_sock *
sock_get(struct upstream *up)
{
	struct upstream_sock *us;

	if ((us = up->sfree) != NULL) {
		up->sfree = us->next;
		return us;
	}
	if ((us = calloc(1, sizeof(*us))) == NULL)
		return NULL;
	if ((us->ev = event_new(up->base, -1, 0, sock_event_cb, us)) == NULL) {
		free(us);
		return NULL;
	}
	us->up = up;
	us->extra = 1;
	return us;
}

static void
sock_put(struct upstream *up, struct upstream_sock *us)
{
	event_del(us->ev);
	if (us->extra) {
		event_free(us->ev);
		free(us);
		return;
	}
	us->next = up->sfree;
	up->sfree = us;
}

/*
 * Never -1: libcurl 7.88 then marks the whole multi dead and fails every
 * transfer, present and future, with CURLE_ABORTED_BY_CALLBACK.  The
 * watchers are preallocated (two for every connection the cache holds) and
 * re-armed in place, so out of memory reaches this only past them; then
 * the socket's one transfer goes unwatched and ends at its timeout.
 */
static int
sock_cb(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct upstream *up = arg;
	struct upstream_sock *us = sockp;
	short kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (us == NULL)
			return 0;
		curl_multi_assign(up->multi, s, NULL);
		/* Armed for reading alone: kept, idle (see upstream_sock). */
		if (event_get_events(us->ev) == (EV_READ | EV_PERSIST) &&
		    event_pending(us->ev, EV_READ, NULL)) {
			us->idle = 1;
			us->next = up->idle_socks;
			up->idle_socks = us;
		} else
			sock_put(up, us);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (us == NULL && (us = sock_idle_take(up, s)) != NULL) {
		curl_multi_assign(up->multi, s, us);
		if (kind == (EV_READ | EV_PERSIST))
			return 0;	/* armed as wanted: no change */
	}
	if (us == NULL) {
		if ((us = sock_get(up)) == NULL) {
			log_warnx("out of memory watching an upstream socket");
			return 0;
		}
		curl_multi_assign(up->multi, s, us);
	} else
		event_del(us->ev);
	if (event_assign(us->ev, up->base, s, kind, sock_event_cb, us) == -1 ||
	    event_add(us->ev, NULL) == -1)
		log_warnx("cannot watch an upstream socket");
	return 0;
}

/* libcurl closes a socket: its idle watcher, if any, goes first. */
static int
closesocket_cb(void *arg, curl_socket_t s)
{
	struct upstream *up = arg;
	struct upstream_sock *us;

	if ((us = sock_idle_take(up, s)) != NULL)
		sock_put(up, us);
	return close(s);
}

static void
timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *up = arg;
	int running;

	up->due_now = 0;
	curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	settle(up);
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct upstream *up = arg;

	up->due_now = timeout_ms == 0;
	if (timeout_ms < 0) {
		evtimer_del(up->timer);
		return 0;
	}
	timer_arm(up->timer, (uint64_t)timeout_ms);
	return 0;
}

struct upstream *
upstream_new(struct event_base *base, const struct upstream_config *cfg,
    upstream_done_cb done, void *arg)
{
	struct upstream *up;

	if ((up = calloc(1, sizeof(*up))) == NULL)
		return NULL;
	up->base = base;
	up->done = done;
	up->done_arg = arg;
	TAILQ_INIT(&up->reqs);
	for (int l = 0; l < LANE_COUNT; l++)
		TAILQ_INIT(&up->queue[l]);
	up->pool = cfg->connections > 0 ? cfg->connections :
	    UPSTREAM_CONNECTIONS_DEFAULT;
	if (up->pool > UPSTREAM_CONNECTIONS_MAX)
		up->pool = UPSTREAM_CONNECTIONS_MAX;
	if ((up->qtimer = evtimer_new(base, qtimer_cb, up)) == NULL ||
	    (up->spare_timer = evtimer_new(base, spare_idle_cb, up)) == NULL)
		goto fail;
	up->nsocks = ((size_t)up->pool * LANE_COUNT + 2) * 2;
	if ((up->socks = calloc(up->nsocks, sizeof(*up->socks))) == NULL)
		goto fail;
	for (size_t i = 0; i < up->nsocks; i++) {
		if ((up->socks[i].ev = event_new(base, -1, 0, sock_event_cb,
		    &up->socks[i])) == NULL)
			goto fail;
		up->socks[i].up = up;
		up->socks[i].next = up->sfree;
		up->sfree = &up->socks[i];
	}
	if (parse_url(up, cfg->url) == -1) {
		log_warnx("the upstream URL is not usable");
		goto fail;
	}
	if (pin_address(up) == -1)
		goto fail;
	if (up->https && load_ca(up, cfg->ca_file != NULL ? cfg->ca_file :
	    UPSTREAM_CA_BUNDLE) == -1)
		goto fail;
	if (cfg->password != NULL && (up->auth = upauth_new(cfg->username !=
	    NULL && *cfg->username != '\0' ? cfg->username : "opencode",
	    cfg->password, cfg->password_len)) == NULL)
		goto fail;
	if ((up->multi = curl_multi_init()) == NULL ||
	    (up->timer = evtimer_new(base, timer_event_cb, up)) == NULL)
		goto fail;
	curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
	curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
	/*
	 * Keep-alive: the cache holds every connection the lanes, the event
	 * stream and its health fetch can have open at once, so none is
	 * closed for room and a call never opens one while another idles.
	 */
	curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS,
	    (long)up->pool * LANE_COUNT + 2);
	return up;
fail:
	upstream_free(up);
	return NULL;
}

void
upstream_free(struct upstream *up)
{
	struct upstream_req *r;

	if (up == NULL)
		return;
	while ((r = TAILQ_FIRST(&up->reqs)) != NULL) {
		req_unlink(up, r);
		req_free(r);
	}
	for (int l = 0; l < LANE_COUNT; l++)
		while ((r = TAILQ_FIRST(&up->queue[l])) != NULL) {
			req_unlink(up, r);
			req_free(r);
		}
	if (up->qtimer != NULL)
		event_free(up->qtimer);
	spare_drop(up);
	if (up->spare_timer != NULL)
		event_free(up->spare_timer);
	while (up->nidle > 0)
		curl_easy_cleanup(up->idle[--up->nidle]);
	if (up->multi != NULL)
		curl_multi_cleanup(up->multi);
	if (up->timer != NULL)
		event_free(up->timer);
	for (size_t i = 0; up->socks != NULL && i < up->nsocks; i++)
		if (up->socks[i].ev != NULL)
			event_free(up->socks[i].ev);
	free(up->socks);
	curl_slist_free_all(up->resolve);
	upauth_free(up->auth);
	if (up->ca.data != NULL)
		free((uint8_t *)up->ca.data);
	free(up);
}
