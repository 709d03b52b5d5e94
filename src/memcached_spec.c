/* SPDX-License-Identifier: MIT */
/*
 * The spec of a memcached pool store, one string for the API and the CLI:
 *
 *   memcached://SERVER[,SERVER...][?OPTION[&OPTION...]]
 *   SERVER = HOST[:PORT] | [IPV6][:PORT]         (PORT: 11211 if absent)
 *   OPTION = replicas=N | namespace=NAME | region=NAME | pages=N
 *          | sparse=0|1 | compress=none|lz4 | timeout_ms=N
 *
 * A bad spec is refused with a sentence naming the part that is wrong.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcached.h"

#define PREFIX "memcached://"
#define MAX_PAGES (1ull << 52)

static int refuse(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Decimal digits only, within [min, max]. */
static bool number(const char *s, size_t n, uint64_t min, uint64_t max,
		   uint64_t *out)
{
	uint64_t v = 0;

	if (!n || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]) || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Names go into keys: letters, digits, '.', '_' and '-', 1 to 64. */
static bool name_ok(const char *s, size_t n)
{
	if (!n || n > UM_MC_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return false;
	return true;
}

static bool host_ok(const char *s, size_t n, bool v6)
{
	if (!n || n > UM_MC_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '-' &&
		    !(v6 && s[i] == ':'))
			return false;
	return true;
}

struct ctx {
	char *why;
	size_t why_len;
};

static int parse_port(const struct ctx *c, const char *s, size_t n,
		      unsigned idx, const char *srv, size_t srv_len,
		      unsigned *port)
{
	uint64_t v;

	if (!number(s, n, 1, 65535, &v))
		return refuse(c->why, c->why_len,
			      "server %u (\"%.*s\"): port \"%.*s\" is not a "
			      "number in 1..65535",
			      idx, (int)srv_len, srv, (int)n, s);
	*port = (unsigned)v;
	return 0;
}

/* HOST[:PORT] or [IPV6][:PORT]. */
static int parse_server(const struct ctx *c, const char *s, size_t n,
			unsigned idx, struct um_mc_server *out)
{
	const char *host = s, *rest;
	size_t host_len;
	bool v6 = n && s[0] == '[';

	if (!n)
		return refuse(c->why, c->why_len, "server %u is empty", idx);
	if (v6) {
		const char *end = memchr(s, ']', n);

		if (!end)
			return refuse(c->why, c->why_len,
				      "server %u (\"%.*s\"): '[' without ']'",
				      idx, (int)n, s);
		host = s + 1;
		host_len = (size_t)(end - host);
		rest = end + 1;
	} else {
		const char *colon = memchr(s, ':', n);

		host_len = colon ? (size_t)(colon - s) : n;
		rest = s + host_len;
		if (colon && memchr(colon + 1, ':', n - host_len - 1))
			return refuse(c->why, c->why_len,
				      "server %u (\"%.*s\"): an IPv6 address "
				      "goes in brackets, [::1]:11211",
				      idx, (int)n, s);
	}
	if (!host_ok(host, host_len, v6))
		return refuse(c->why, c->why_len,
			      "server %u (\"%.*s\"): \"%.*s\" is not a host "
			      "name or address",
			      idx, (int)n, s, (int)host_len, host);
	memcpy(out->host, host, host_len);
	out->host[host_len] = '\0';
	out->port = UM_MC_DEFAULT_PORT;
	if (rest == s + n)
		return 0;
	if (*rest != ':')
		return refuse(c->why, c->why_len,
			      "server %u (\"%.*s\"): unexpected \"%.*s\" after "
			      "the address",
			      idx, (int)n, s, (int)(s + n - rest), rest);
	return parse_port(c, rest + 1, (size_t)(s + n - rest - 1), idx, s, n,
			  &out->port);
}

enum opt {
	O_REPLICAS,
	O_NAMESPACE,
	O_REGION,
	O_PAGES,
	O_SPARSE,
	O_COMPRESS,
	O_TIMEOUT,
	O_COUNT
};
static const char *const opt_names[O_COUNT] = {
	"replicas", "namespace", "region",    "pages",
	"sparse",   "compress",	 "timeout_ms"};

static int bad_value(const struct ctx *c, enum opt o, const char *v, size_t n,
		     const char *want)
{
	return refuse(c->why, c->why_len, "option %s: \"%.*s\" is not %s",
		      opt_names[o], (int)n, v, want);
}

static bool word(const char *v, size_t n, const char *w)
{
	return n == strlen(w) && !memcmp(v, w, n);
}

static int set_option(const struct ctx *c, enum opt o, const char *v, size_t n,
		      struct um_mc_spec *out)
{
	uint64_t x;

	switch (o) {
	case O_REPLICAS:
		if (!number(v, n, 0, UM_MC_MAX_SERVERS - 1, &x))
			return bad_value(c, o, v, n, "a number in 0..63");
		out->replicas = (int)x;
		return 0;
	case O_NAMESPACE:
	case O_REGION:
		if (!name_ok(v, n))
			return bad_value(c, o, v, n,
					 "1 to 64 letters, digits, '.', '_' "
					 "or '-'");
		memcpy(o == O_REGION ? out->region : out->ns, v, n);
		(o == O_REGION ? out->region : out->ns)[n] = '\0';
		return 0;
	case O_PAGES:
		if (!number(v, n, 1, MAX_PAGES, &x))
			return bad_value(c, o, v, n, "a number of pages >= 1");
		out->pages = x;
		return 0;
	case O_SPARSE:
		if (!word(v, n, "0") && !word(v, n, "1"))
			return bad_value(c, o, v, n, "0 or 1");
		out->sparse = v[0] == '1';
		return 0;
	case O_COMPRESS:
		if (!word(v, n, "none") && !word(v, n, "lz4"))
			return bad_value(c, o, v, n, "none or lz4");
		out->compress = word(v, n, "lz4");
		return 0;
	default:
		if (!number(v, n, 1, 60000, &x))
			return bad_value(c, o, v, n, "a number in 1..60000");
		out->timeout_ms = (unsigned)x;
		return 0;
	}
}

static int parse_option(const struct ctx *c, const char *s, size_t n,
			unsigned *seen, struct um_mc_spec *out)
{
	const char *eq = memchr(s, '=', n);
	size_t klen = eq ? (size_t)(eq - s) : n;

	for (unsigned o = 0; o < O_COUNT; o++) {
		if (!word(s, klen, opt_names[o]))
			continue;
		if (!eq)
			return refuse(c->why, c->why_len,
				      "option %s has no value (%s=...)",
				      opt_names[o], opt_names[o]);
		if (*seen & (1u << o))
			return refuse(c->why, c->why_len,
				      "option %s is given twice", opt_names[o]);
		*seen |= 1u << o;
		return set_option(c, (enum opt)o, eq + 1, n - klen - 1, out);
	}
	return refuse(c->why, c->why_len,
		      "unknown option \"%.*s\" (known: replicas, namespace, "
		      "region, pages, sparse, compress, timeout_ms)",
		      (int)klen, s);
}

/* Calls each() on every part of [s, end) between separators sep. */
static int each_part(const struct ctx *c, const char *s, const char *end,
		     char sep, unsigned *count,
		     int (*each)(const struct ctx *, const char *, size_t,
				 unsigned, void *),
		     void *arg)
{
	for (*count = 0;; (*count)++) {
		const char *next = memchr(s, sep, (size_t)(end - s));
		size_t n = next ? (size_t)(next - s) : (size_t)(end - s);
		int err = each(c, s, n, *count, arg);

		if (err)
			return err;
		if (!next)
			break;
		s = next + 1;
	}
	(*count)++;
	return 0;
}

static int one_server(const struct ctx *c, const char *s, size_t n,
		      unsigned idx, void *arg)
{
	struct um_mc_spec *out = arg;

	if (idx >= UM_MC_MAX_SERVERS)
		return refuse(c->why, c->why_len, "more than %d servers",
			      UM_MC_MAX_SERVERS);
	return parse_server(c, s, n, idx + 1, &out->server[idx]);
}

struct opt_arg {
	struct um_mc_spec *out;
	unsigned seen;
};

static int one_option(const struct ctx *c, const char *s, size_t n,
		      unsigned idx, void *arg)
{
	struct opt_arg *a = arg;

	if (!n)
		return refuse(c->why, c->why_len, "option %u is empty",
			      idx + 1);
	return parse_option(c, s, n, &a->seen, a->out);
}

/* Before sorting: positions are the spec's. */
static int check_servers(const struct ctx *c, const struct um_mc_spec *out)
{
	for (unsigned i = 0; i < out->nservers; i++)
		for (unsigned j = 0; j < i; j++)
			if (out->server[i].port == out->server[j].port &&
			    !strcmp(out->server[i].host, out->server[j].host))
				return refuse(c->why, c->why_len,
					      "servers %u and %u are both "
					      "%s:%u",
					      j + 1, i + 1, out->server[i].host,
					      out->server[i].port);
	if (out->replicas >= (int)out->nservers)
		return refuse(c->why, c->why_len,
			      "replicas=%d needs at least %d servers; the spec "
			      "has %u",
			      out->replicas, out->replicas + 1, out->nservers);
	return 0;
}

static int by_address(const void *a, const void *b)
{
	const struct um_mc_server *x = a, *y = b;
	int c = strcmp(x->host, y->host);

	return c ? c : (x->port > y->port) - (x->port < y->port);
}

int um_mc_parse(const char *spec, struct um_mc_spec *out, char *why,
		size_t why_len)
{
	const struct ctx c = {why, why_len};
	struct opt_arg opts = {out, 0};
	const char *servers, *query, *end;
	unsigned count;
	int err;

	if (!spec || !out)
		return refuse(why, why_len, "no spec");
	if (strncmp(spec, PREFIX, strlen(PREFIX)))
		return refuse(why, why_len,
			      "a memcached spec starts with \"" PREFIX "\"");
	memset(out, 0, sizeof(*out));
	strcpy(out->ns, "umove");
	strcpy(out->region, "0");
	out->timeout_ms = UM_MC_DEFAULT_TIMEOUT_MS;
	out->sparse = out->compress = out->replicas = -1;
	servers = spec + strlen(PREFIX);
	end = servers + strlen(servers);
	query = memchr(servers, '?', (size_t)(end - servers));
	err = each_part(&c, servers, query ? query : end, ',', &out->nservers,
			one_server, out);
	if (!err && query)
		err = each_part(&c, query + 1, end, '&', &count, one_option,
				&opts);
	if (!err)
		err = check_servers(&c, out);
	if (!err)
		qsort(out->server, out->nservers, sizeof(out->server[0]),
		      by_address);
	return err;
}
