/* bench_frames.c - frame bytes and frame CPU for a rules file over log files, as a cluster sends
 * them.
 *
 * Not part of the build. From the source tree, after building into build/:
 *   gcc -O2 -std=gnu11 -D_GNU_SOURCE -iquote rules $(pkg-config --cflags apr-1) \
 *       scripts/bench_frames.c build/rules/librules.a -o /tmp/bench_frames \
 *       $(pkg-config --libs apr-1) -lpcre2-8 -lyaml -lxxhash -lz -lzstd -lm
 *   [COMBINE=K] /tmp/bench_frames RULES LEASE_BYTES FILE... [-- ENTRIES]
 * Each FILE is cut into leases of LEASE_BYTES (ending after a '\n', as a slave's read lease
 * does); each lease's lines are fed to the job's engine (the rules file's first job) and
 * encoded into one frame per master (that master's groups, as slave/deliver.c does). With
 * COMBINE=K (default 1) a frame covers up to K leases in a row, across files, as a slave's
 * worker combines them (slave/combine.c: another lease while the frame read fewer than
 * LEASE_BYTES), with their range list in its header (docs/CLUSTER.md "Frames of several
 * ranges"): COMBINE=2 over 4 files is the cluster of bench_cluster.sh, two workers each
 * reading two files in a row. Every
 * frame is then decoded as a master does (frame_decode into an empty partial, then merged
 * into that master's totals). Prints per master the frames' bytes (payload raw and on the
 * wire) against the bytes read, the CPU seconds of encoding, of decoding and of merging,
 * and, with "-- ENTRIES", what each entry alone would add to the frames (a frame with only
 * that entry's rows, minus an empty one). CPU time is the process's (one thread). */
#include <apr_general.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "engine.h"
#include "frame.h"
#include "rules.h"

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct mstat_t {
    uint64_t frames, wire, raw;
    double enc, dec, merge;
    partial_t *totals;
} mstat_t;

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static frame_ranges_t *cur; /* the ranges of the frame being built (n 0: one range, "bench") */

/* The frame of p for master m's groups into out (with cur's list when it has two ranges or
 * more); dies on failure. */
static void encode(const rules_config_t *cfg, const rules_job_t *job, int m, const partial_t *p,
                   buf_t *out)
{
    uint8_t groups[64] = {0};
    frame_header_t h;
    abbey_err_t err;

    memset(&h, 0, sizeof h);
    h.config_hash = cfg->hash;
    h.end = p->bytes;
    frame_header_counts(&h, p);
    h.ranges = cur && cur->n >= 2 ? cur : NULL;
    snprintf(h.job, sizeof h.job, "%s", job->name);
    snprintf(h.source, sizeof h.source, "bench");
    snprintf(h.slave, sizeof h.slave, "s1");
    snprintf(h.master, sizeof h.master, "%s", cfg->masters[m].name);
    for (int g = 0; g < job->ngroups; g++)
        groups[g] = job->groups[g].master == m;
    buf_reset(out);
    if (frame_encode(&h, p, groups, out, &err) != APR_SUCCESS) {
        fprintf(stderr, "frame_encode: %s\n", err.msg);
        exit(1);
    }
}

/* Bytes each entry alone adds to the frames of p (summed into add[]). */
static void entry_sizes(const rules_config_t *cfg, const rules_job_t *job, partial_t *p,
                        apr_pool_t *pool, uint64_t *add_wire, uint64_t *add_raw)
{
    partial_t *empty = partial_create(job, pool);
    ptable_t **saved = p->tables;
    buf_t f;

    buf_init(&f);
    for (int i = 0; i < job->nentries; i++) {
        int m = job->entries[i]->group->master;
        p->tables = empty->tables;
        encode(cfg, job, m, p, &f);
        uint64_t w0 = f.len, r0 = le32(f.data + 16);
        ptable_t *keep = empty->tables[i];
        empty->tables[i] = saved[i];
        encode(cfg, job, m, p, &f);
        empty->tables[i] = keep;
        add_wire[i] += f.len - w0;
        add_raw[i] += le32(f.data + 16) - r0;
    }
    p->tables = saved;
    partial_destroy(empty);
    buf_free(&f);
}

int main(int argc, char **argv)
{
    apr_pool_t *pool;
    rules_config_t *cfg;
    abbey_err_t err;
    int nfiles = argc - 3, by_entry = 0;

    if (argc < 4) {
        fprintf(stderr, "usage: %s RULES LEASE_BYTES FILE... [-- ENTRIES]\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[argc - 2], "--") == 0 && strcmp(argv[argc - 1], "ENTRIES") == 0) {
        by_entry = 1;
        nfiles -= 2;
    }
    apr_initialize();
    apr_pool_create(&pool, NULL);
    if (rules_load_file(argv[1], pool, &cfg, &err) != APR_SUCCESS) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const rules_job_t *job = &cfg->jobs[0];
    uint64_t lease = strtoull(argv[2], NULL, 10), bytes = 0, leases = 0;
    mstat_t *ms = calloc((size_t)cfg->nmasters, sizeof *ms);
    uint64_t *add_wire = calloc((size_t)job->nentries, 8),
             *add_raw = calloc((size_t)job->nentries, 8);
    engine_t *eng = engine_create(job, pool);
    buf_t f;
    double feed = 0;

    uint64_t combine = getenv("COMBINE") ? strtoull(getenv("COMBINE"), NULL, 10) : 1, in_frame = 0;
    partial_t *p = NULL;

    if (combine < 1 || combine > FRAME_MAX_RANGES) {
        fprintf(stderr, "COMBINE must be 1 to %d\n", FRAME_MAX_RANGES);
        return 2;
    }
    cur = calloc(1, sizeof *cur);
    buf_init(&f);
    for (int m = 0; m < cfg->nmasters; m++)
        ms[m].totals = partial_create(job, pool);
    for (int fi = 0; fi < nfiles; fi++) {
        int fd = open(argv[3 + fi], O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            perror(argv[3 + fi]);
            return 1;
        }
        const char *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        uint64_t off = 0, size = (uint64_t)st.st_size;
        engine_source(eng, (int64_t)st.st_mtime);
        while (off < size) {
            uint64_t end = off + lease < size ? off + lease : size;
            while (end < size && data[end - 1] != '\n')
                end++;
            uint64_t l0, b0, y0;
            if (!p)
                p = partial_create(job, pool);
            l0 = p->lines, b0 = p->bad_lines, y0 = p->bytes;
            double t0 = cpu();
            engine_feed(eng, data + off, end - off, off, p, NULL, NULL);
            feed += cpu() - t0;
            bytes += end - off;
            in_frame += end - off;
            leases++;
            frame_range_t *x = &cur->r[cur->n++];
            snprintf(x->source, sizeof x->source, "%s#2049:%d:0", argv[3 + fi], fi);
            x->lease = leases;
            x->start = off;
            x->end = end;
            x->lines = p->lines - l0;
            x->bad_lines = p->bad_lines - b0;
            x->bytes = p->bytes - y0;
            off = end;
            int last = fi == nfiles - 1 && off >= size;
            if (cur->n < combine && in_frame < lease && !last)
                continue; /* the next lease joins this frame */
            for (int m = 0; m < cfg->nmasters; m++) {
                partial_t *s = partial_create(job, pool);
                t0 = cpu();
                encode(cfg, job, m, p, &f);
                double t1 = cpu();
                if (frame_decode(f.data, f.len, job, NULL, s, NULL, &err) != APR_SUCCESS) {
                    fprintf(stderr, "frame_decode: %s\n", err.msg);
                    return 1;
                }
                double t2 = cpu();
                partial_merge(ms[m].totals, s, NULL);
                double t3 = cpu();
                ms[m].enc += t1 - t0;
                ms[m].dec += t2 - t1;
                ms[m].merge += t3 - t2;
                ms[m].frames++;
                ms[m].wire += f.len;
                ms[m].raw += le32(f.data + 16);
                partial_destroy(s);
            }
            if (by_entry)
                entry_sizes(cfg, job, p, pool, add_wire, add_raw);
            partial_destroy(p);
            p = NULL;
            cur->n = 0;
            in_frame = 0;
        }
        munmap((void *)data, (size_t)st.st_size);
        close(fd);
    }
    uint64_t wire = 0, raw = 0;
    double enc = 0, dec = 0, merge = 0;
    printf("%llu bytes read in %llu leases of %llu bytes, up to %llu a frame; engine %.3f s CPU\n",
           (unsigned long long)bytes, (unsigned long long)leases, (unsigned long long)lease,
           (unsigned long long)combine, feed);
    printf("master  frames        wire         raw  wire%%   encode  decode   merge (CPU s)\n");
    for (int m = 0; m < cfg->nmasters; m++) {
        printf("%-6s %7llu %11llu %11llu %6.3f %8.3f %7.3f %7.3f\n", cfg->masters[m].name,
               (unsigned long long)ms[m].frames, (unsigned long long)ms[m].wire,
               (unsigned long long)ms[m].raw, 100.0 * ms[m].wire / bytes, ms[m].enc, ms[m].dec,
               ms[m].merge);
        wire += ms[m].wire;
        raw += ms[m].raw;
        enc += ms[m].enc;
        dec += ms[m].dec;
        merge += ms[m].merge;
    }
    printf("all    %7s %11llu %11llu %6.3f %8.3f %7.3f %7.3f\n", "", (unsigned long long)wire,
           (unsigned long long)raw, 100.0 * wire / bytes, enc, dec, merge);
    if (by_entry) {
        printf("entry alone       wire         raw  wire%%\n");
        for (int i = 0; i < job->nentries; i++)
            printf("%-12s %11llu %11llu %6.3f\n", job->entries[i]->name,
                   (unsigned long long)add_wire[i], (unsigned long long)add_raw[i],
                   100.0 * add_wire[i] / bytes);
    }
    buf_free(&f);
    free(cur);
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}
