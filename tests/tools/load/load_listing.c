/* load_listing.c - abbey-load's made-up listings of globs (see load.h).
 *
 * A glob's pattern lists n matches: its first '*' replaced by the match's
 * number (zero-padded to 7 digits; a pattern without '*' gets it appended),
 * each an empty file "<dev>:<i + 1>" (dev from the pattern's hash, so two
 * globs never name the same file) with "head": 0 (no whole line yet). The
 * JSON of its parts ("paths":[...],"files":[...]) is made once per pattern,
 * cut as abbey-slave cuts it: a part ends before the match that would take
 * it past LOAD_PART_BYTES. */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static load_listing_t **cache; /* each made once; pointers to them stay valid */
static int ncache;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Close the part being built (paths and files so far) into l. */
static void part_close(load_listing_t *l, load_buf_t *paths, load_buf_t *files, int first)
{
    load_buf_t b = {0};
    load_buf_printf(&b, "\"paths\":[%s],\"files\":[%s]", paths->p ? paths->p : "",
                    files->p ? files->p : "");
    l->parts = realloc(l->parts, sizeof *l->parts * (size_t)(l->nparts + 1));
    l->offsets = realloc(l->offsets, sizeof *l->offsets * (size_t)(l->nparts + 1));
    l->parts[l->nparts] = b.p ? b.p : strdup("\"paths\":[],\"files\":[]");
    l->offsets[l->nparts++] = first;
    load_buf_reset(paths);
    load_buf_reset(files);
}

static void listing_make(load_listing_t *l, const char *pattern, int n)
{
    const char *star = strchr(pattern, '*');
    size_t head = star ? (size_t)(star - pattern) : strlen(pattern);
    unsigned dev = (unsigned)(hash_str(pattern) % 1000000) + 1000;
    load_buf_t paths = {0}, files = {0}, one = {0};
    int first = 0, in_part = 0;
    l->pattern = strdup(pattern);
    l->nmatches = n;
    for (int i = 0; i < n; i++) {
        char num[16], path[4096], file[96];
        snprintf(num, sizeof num, "%07d", i);
        snprintf(path, sizeof path, "%.*s%s%s", (int)head, pattern, num, star ? star + 1 : "");
        snprintf(file, sizeof file,
                 "{\"id\":\"%u:%d\",\"size\":0,\"head\":0,\"hash\":\"0000000000000000\"}", dev,
                 i + 1);
        load_buf_reset(&one);
        load_buf_json_str(&one, path);
        if (in_part && paths.len + files.len + one.len + strlen(file) + 64 > LOAD_PART_BYTES) {
            part_close(l, &paths, &files, first);
            first = i;
            in_part = 0;
        }
        if (in_part) {
            load_buf_add(&paths, ",", 1);
            load_buf_add(&files, ",", 1);
        }
        load_buf_add(&paths, one.p, one.len);
        load_buf_add(&files, file, strlen(file));
        in_part = 1;
    }
    part_close(l, &paths, &files, first);
    free(paths.p);
    free(files.p);
    free(one.p);
}

const load_listing_t *load_listing(const char *pattern, int n)
{
    for (int i = 0; i < ncache; i++)
        if (cache[i]->nmatches == n && strcmp(cache[i]->pattern, pattern) == 0)
            return cache[i];
    cache = realloc(cache, sizeof *cache * (size_t)(ncache + 1));
    cache[ncache] = calloc(1, sizeof **cache);
    listing_make(cache[ncache], pattern, n);
    return cache[ncache++];
}

void load_listings_free(void)
{
    for (int i = 0; i < ncache; i++) {
        for (int k = 0; k < cache[i]->nparts; k++)
            free(cache[i]->parts[k]);
        free(cache[i]->parts);
        free(cache[i]->offsets);
        free(cache[i]->pattern);
        free(cache[i]);
    }
    free(cache);
    cache = NULL;
    ncache = 0;
}
