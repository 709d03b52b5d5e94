/* SPDX-License-Identifier: MIT */
/*
 * What the pool commands read in a memcached spec: the servers in the
 * store's order, the namespace, the region, whether it says pages. The
 * library owns the grammar (umove_store_memcached(3)) and is the one that
 * accepts or refuses a spec: this reader is lenient and runs on specs the
 * library accepts, to learn what the library does not tell through its
 * API (where the keys are, for `umove bench pool`'s plain libmemcached
 * floor).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PREFIX "memcached://"
#define DEFAULT_PORT 11211

static int one_server(const char *s, size_t n, struct cli_mc_server *out)
{
	const char *host = s, *rest;
	size_t hlen;
	unsigned long port = DEFAULT_PORT;

	if (n && s[0] == '[') {
		const char *end = memchr(s, ']', n);

		if (!end)
			return -EINVAL;
		host = s + 1;
		hlen = (size_t)(end - host);
		rest = end + 1;
	} else {
		const char *colon = memchr(s, ':', n);

		hlen = colon ? (size_t)(colon - s) : n;
		rest = s + hlen;
	}
	if (!hlen || hlen >= sizeof(out->host))
		return -EINVAL;
	if (rest < s + n) {
		char num[8];
		size_t len = (size_t)(s + n - rest - 1);
		char *end;

		if (*rest != ':' || !len || len >= sizeof(num))
			return -EINVAL;
		memcpy(num, rest + 1, len);
		num[len] = '\0';
		port = strtoul(num, &end, 10);
		if (*end || !port || port > 65535)
			return -EINVAL;
	}
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	out->port = (unsigned)port;
	return 0;
}

static int one_option(const char *s, size_t n, struct cli_mc_spec *out)
{
	const char *eq = memchr(s, '=', n);
	size_t klen = eq ? (size_t)(eq - s) : n, vlen = eq ? n - klen - 1 : 0;
	char *dst = NULL;

	if (klen == 5 && !memcmp(s, "pages", 5))
		out->has_pages = true;
	else if (klen == 9 && !memcmp(s, "namespace", 9))
		dst = out->ns;
	else if (klen == 6 && !memcmp(s, "region", 6))
		dst = out->region;
	if (!dst)
		return 0;
	if (!vlen || vlen > CLI_MC_NAME_MAX)
		return -EINVAL;
	memcpy(dst, eq + 1, vlen);
	dst[vlen] = '\0';
	if (dst == out->region)
		out->has_region = true;
	return 0;
}

/* The store's order: by host (strcmp), then by port. */
static int by_address(const void *a, const void *b)
{
	const struct cli_mc_server *x = a, *y = b;
	int c = strcmp(x->host, y->host);

	return c ? c : (x->port > y->port) - (x->port < y->port);
}

int cli_mc_spec_parse(const char *spec, struct cli_mc_spec *out)
{
	const char *s, *end, *query;

	memset(out, 0, sizeof(*out));
	strcpy(out->ns, "umove");
	strcpy(out->region, "0");
	if (strncmp(spec, PREFIX, strlen(PREFIX)))
		return -EINVAL;
	s = spec + strlen(PREFIX);
	end = s + strlen(s);
	query = memchr(s, '?', (size_t)(end - s));
	for (const char *stop = query ? query : end; s <= stop;) {
		const char *next = memchr(s, ',', (size_t)(stop - s));
		size_t n = next ? (size_t)(next - s) : (size_t)(stop - s);

		if (out->nservers == CLI_MC_MAX_SERVERS ||
		    one_server(s, n, &out->server[out->nservers]))
			return -EINVAL;
		out->nservers++;
		s += n + 1;
	}
	for (s = query ? query + 1 : end; query && s <= end;) {
		const char *next = memchr(s, '&', (size_t)(end - s));
		size_t n = next ? (size_t)(next - s) : (size_t)(end - s);

		if (one_option(s, n, out))
			return -EINVAL;
		s += n + 1;
	}
	qsort(out->server, out->nservers, sizeof(out->server[0]), by_address);
	return 0;
}

char *cli_mc_spec_add(const char *spec, const char *option)
{
	size_t len = strlen(spec) + 1 + strlen(option) + 1;
	char *out = malloc(len);

	if (out)
		snprintf(out, len, "%s%c%s", spec,
			 strchr(spec, '?') ? '&' : '?', option);
	return out;
}
