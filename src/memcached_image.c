/* SPDX-License-Identifier: MIT */
/*
 * A memcached store's image in the pool (see store_memcached.c): the meta
 * key every server holds (size, page size, servers, replicas, options),
 * the mark written once at creation, and what open checks: every server
 * answers, every meta agrees with the spec and with the others, and a
 * server that lost its mark or evicts items is warned of.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcached.h"

/*
 * Which servers hold the image, by name: ketama places keys by
 * "host:port", so the same servers under other names (localhost for
 * 127.0.0.1) place them elsewhere too. FNV-1a of the sorted names.
 */
static uint64_t ring_of(const struct mc_store *ms)
{
	uint64_t h = 0xcbf29ce484222325ull;
	char name[UM_MC_HOST_MAX + 16];

	for (unsigned s = 0; s < ms->spec.nservers; s++) {
		um_mc_server_name(&ms->spec.server[s], name, sizeof(name));
		for (const char *p = name; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
		h = (h ^ ',') * 0x100000001b3ull;
	}
	return h;
}

static int format_meta(const struct mc_store *ms, char *out)
{
	return snprintf(out, MC_META_MAX,
			"umove-image 1 pages=%" PRIu64
			" page_size=%zu servers=%u ring=%016" PRIx64
			" replicas=%u sparse=%d compress=%s",
			ms->pages, ms->page_size, ms->spec.nservers,
			ring_of(ms), ms->replicas, ms->sparse,
			ms->compress ? "lz4" : "none");
}

struct image {
	bool found; /* some server holds the meta */
	bool holds[UM_MC_MAX_SERVERS];
	char text[MC_META_MAX + 1]; /* the first meta found */
	uint64_t pages, ring;
	size_t page_size;
	unsigned servers;
	int replicas, sparse, compress;
};

/* Reads an image's meta: 0, or -EBADMSG for one umove did not write. */
static int parse_meta(const char *v, size_t len, struct image *im)
{
	char comp[8];

	if (!v || !len || len > MC_META_MAX)
		return -EBADMSG;
	memcpy(im->text, v, len);
	im->text[len] = '\0';
	if (sscanf(im->text,
		   "umove-image 1 pages=%" SCNu64 " page_size=%zu servers=%u "
		   "ring=%" SCNx64 " replicas=%d sparse=%d compress=%7s",
		   &im->pages, &im->page_size, &im->servers, &im->ring,
		   &im->replicas, &im->sparse, comp) != 7 ||
	    !im->pages)
		return -EBADMSG;
	im->compress = !strcmp(comp, "lz4");
	return 0;
}

static int server_fail(const struct mc_store *ms, unsigned s, int err,
		       const char *what, char *why, size_t why_len)
{
	char name[UM_MC_HOST_MAX + 16];

	if (why && why_len)
		snprintf(why, why_len, "server %s: %s",
			 um_mc_server_name(&ms->spec.server[s], name,
					   sizeof(name)),
			 what ? what : strerror(-err));
	return err;
}

/* Server s holds meta v: the first one found, or the same as it. */
static int one_meta(const struct mc_store *ms, unsigned s, const char *v,
		    size_t len, struct image *im, char *why, size_t why_len)
{
	if (!im->found)
		return parse_meta(v, len, im)
			       ? server_fail(ms, s, -EBADMSG,
					     "its meta key was not written by "
					     "umove",
					     why, why_len)
			       : 0;
	if (v && len == strlen(im->text) && !memcmp(v, im->text, len))
		return 0;
	{
		struct image other = {0};

		if (parse_meta(v, len, &other))
			return server_fail(ms, s, -EBADMSG,
					   "its meta key was not written by "
					   "umove",
					   why, why_len);
	}
	return server_fail(ms, s, -EEXIST,
			   "it holds another meta for this image than the "
			   "servers before it",
			   why, why_len);
}

/*
 * Asks every server for the image's meta; every server must answer (a
 * server that cannot be reached now is an error at open, with its name),
 * and all that hold one must hold the same.
 */
static int read_image(struct mc_store *ms, struct mc_conn *c, struct image *im,
		      char *why, size_t why_len)
{
	memset(im, 0, sizeof(*im));
	for (unsigned s = 0; s < ms->spec.nservers; s++) {
		size_t len = 0;
		uint32_t flags;
		memcached_return_t rc;
		char *v =
			memcached_get(c->srv[s], ms->meta_key,
				      strlen(ms->meta_key), &len, &flags, &rc);
		int err = rc == MEMCACHED_NOTFOUND ? 0
						   : um_mc_fail(c->srv[s], rc);

		um_mc_count(&ms->c.round_trips, 1);
		if (!err && rc == MEMCACHED_SUCCESS)
			err = one_meta(ms, s, v, len, im, why, why_len);
		else if (err)
			server_fail(ms, s, err, NULL, why, why_len);
		free(v);
		if (err)
			return err;
		im->holds[s] = rc == MEMCACHED_SUCCESS;
		im->found |= im->holds[s];
	}
	return 0;
}

/*
 * The spec and the pool must agree on what the spec says, and on the
 * servers: another set of servers would place keys elsewhere.
 */
static int adopt_image(struct mc_store *ms, const struct image *im, char *why,
		       size_t why_len)
{
	const struct um_mc_spec *sp = &ms->spec;

	if (im->servers != sp->nservers || im->ring != ring_of(ms)) {
		if (why && why_len)
			snprintf(why, why_len,
				 "the pool holds %s:%s written on %u servers, "
				 "other ones or the same under other names: "
				 "keys would be looked for where they are not",
				 sp->ns, sp->region, im->servers);
		return -EEXIST;
	}
	if (im->page_size != ms->page_size ||
	    (sp->pages && sp->pages != im->pages) ||
	    (sp->replicas >= 0 && sp->replicas != im->replicas) ||
	    (sp->sparse >= 0 && sp->sparse != im->sparse) ||
	    (sp->compress >= 0 && sp->compress != im->compress)) {
		if (why && why_len)
			snprintf(
				why, why_len,
				"the pool holds %s:%s with %" PRIu64
				" pages of %zu bytes, replicas=%d, sparse=%d, "
				"compress=%s: the spec or this machine differs",
				sp->ns, sp->region, im->pages, im->page_size,
				im->replicas, im->sparse,
				im->compress ? "lz4" : "none");
		return -EEXIST;
	}
	ms->pages = im->pages;
	ms->replicas = (unsigned)im->replicas;
	ms->sparse = im->sparse;
	ms->compress = im->compress;
	return 0;
}

/* Meta, and (for a new image only) the mark, on every server. */
static int write_image(struct mc_store *ms, struct mc_conn *c, bool mark,
		       char *why, size_t why_len)
{
	char meta[MC_META_MAX];
	int len = format_meta(ms, meta);

	for (unsigned s = 0; s < ms->spec.nservers; s++) {
		int err = um_mc_set(ms, c, s, ms->meta_key,
				    strlen(ms->meta_key), meta, (size_t)len, 0);

		if (!err && mark)
			err = um_mc_set(ms, c, s, ms->mark_key,
					strlen(ms->mark_key), "1", 1, 0);
		if (err)
			return server_fail(ms, s, err, NULL, why, why_len);
	}
	return 0;
}

/* ---- servers that may lose pages ----------------------------------------- */

static memcached_return_t find_evictions(const memcached_instance_st *srv,
					 const char *key, size_t klen,
					 const char *value, size_t vlen,
					 void *ctx)
{
	(void)srv;
	if (klen == 9 && !memcmp(key, "evictions", 9) && vlen == 2 &&
	    !memcmp(value, "on", 2))
		*(bool *)ctx = true;
	return MEMCACHED_SUCCESS;
}

/*
 * A server that evicts items when full (memcached without -M) may drop
 * pages: warn, once per server, at open.
 */
static void check_evictions(const struct mc_store *ms, struct mc_conn *c)
{
	for (unsigned s = 0; s < ms->spec.nservers; s++) {
		bool evicts = false;

		if (memcached_stat_execute(c->srv[s], "settings",
					   find_evictions,
					   &evicts) == MEMCACHED_SUCCESS &&
		    evicts)
			um_mc_warn(
				ms,
				"memcached %s:%u evicts items when full: pages "
				"can be lost (run it with -M)",
				ms->spec.server[s].host,
				ms->spec.server[s].port);
	}
}

/*
 * Opens or creates the image (a read-only store only opens one), and warns
 * of what may lose pages.
 */
int um_mc_open_image(struct mc_store *ms, bool rdonly, char *why,
		     size_t why_len)
{
	struct mc_conn *c = um_mc_conn_get(ms);
	struct image im;
	int err;

	if (!c)
		return -ENOMEM;
	err = read_image(ms, c, &im, why, why_len);
	if (!err && im.found)
		err = adopt_image(ms, &im, why, why_len);
	else if (!err && (rdonly || !ms->spec.pages)) {
		if (why && why_len)
			snprintf(why, why_len,
				 "no image %s:%s in the pool (pages=N creates "
				 "one)",
				 ms->spec.ns, ms->spec.region);
		err = -ENOENT;
	}
	if (!err && !rdonly)
		err = write_image(ms, c, !im.found, why, why_len);
	for (unsigned s = 0; !err && im.found && s < ms->spec.nservers; s++) {
		char name[UM_MC_HOST_MAX + 16];

		if (!im.holds[s] || !um_mc_intact(ms, c, s))
			um_mc_warn(
				ms,
				"memcached %s does not hold image %s:%s "
				"(restarted empty?): its pages are lost unless "
				"replicated",
				um_mc_server_name(&ms->spec.server[s], name,
						  sizeof(name)),
				ms->spec.ns, ms->spec.region);
	}
	if (!err)
		check_evictions(ms, c);
	um_mc_conn_put(ms, c);
	return err;
}
