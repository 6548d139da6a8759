/* check.c - abbey-master --check: print what a rules file declares and where its groups go,
 * and warn about what will load but may misbehave (regexes with nested quantifiers).
 * --check --sample is check_sample.c. */
#include "master.h"

static const char *source_kind(rules_source_kind_t k)
{
    return k == RULES_SRC_HTTP ? "http" : k == RULES_SRC_GLOB ? "glob" : "file";
}

static const char *reset_name(rules_reset_t r)
{
    return r == RULES_RESET_HOUR ? "hour" : r == RULES_RESET_DAY ? "day" : "never";
}

static void print_value(const rules_value_t *v, FILE *out)
{
    fprintf(out, "%s = %s", v->name, agg_kind_name(v->spec.kind));
    if (v->arg) {
        fprintf(out, "(%s", expr_text(v->arg));
        if (v->spec.kind == AGG_PERCENTILE)
            fprintf(out, ", %g", v->spec.pct);
        else if (v->spec.kind == AGG_DISTINCT_EXACT)
            fprintf(out, ", %u", v->spec.cap);
        fputc(')', out);
    }
}

static void print_entry(const rules_entry_t *en, FILE *out)
{
    fprintf(out, "      entry %s: key [", en->name);
    for (int k = 0; k < en->nkeys; k++)
        fprintf(out, "%s%s", k ? ", " : "", en->key_names[k]);
    fputs(en->nkeys ? "]" : "] (one total row)", out);
    if (en->where)
        fprintf(out, " where %s", expr_text(en->where));
    if (en->nkeys && !en->top_k) /* a top entry's bound is its summary's rows, below */
        fprintf(out, ", max_keys %llu", (unsigned long long)en->max_keys);
    fputs("\n        values: ", out);
    for (int v = 0; v < en->nvalues; v++) {
        if (v)
            fputs(", ", out);
        print_value(&en->values[v], out);
    }
    fputc('\n', out);
    if (en->top_k)
        fprintf(out, "        top %d by %s: a summary of %u rows (error column %s)\n", en->top_k,
                en->values[en->top_by].name, en->top_m, en->top_error);
}

static void print_job(const rules_config_t *cfg, const rules_job_t *job, FILE *out)
{
    char buf[32];
    fprintf(out, "job %s: round %.3gs, reset %s, timezone %s, format %s, max_line %s\n", job->name,
            (double)job->round / 1e6, reset_name(job->reset), tz_name(job->tz),
            format_name(job->format), rules_size_text(job->max_line, buf, sizeof buf));
    if (job->rejects.dir)
        fprintf(out, "  rejects %s/%s.rejects: max_per_round %llu, max_size %s, keep %d\n",
                job->rejects.dir, job->name, (unsigned long long)job->rejects.max_per_round,
                rules_size_text(job->rejects.max_size, buf, sizeof buf), job->rejects.keep);
    for (int s = 0; s < job->nsources; s++) {
        const rules_source_t *src = &job->sources[s];
        fprintf(out, "  source %s %s", source_kind(src->kind), src->path);
        for (int l = 0; l < src->nlabels; l++)
            fprintf(out, "%s%s", l ? "," : " labels ", src->labels[l]);
        fputc('\n', out);
    }
    for (int g = 0; g < job->ngroups; g++) {
        const rules_group_t *gr = &job->groups[g];
        fprintf(out, "  group %s (weight %d) -> master %s\n", gr->name, gr->weight,
                cfg->masters[gr->master].name);
        for (int e = 0; e < gr->nentries; e++)
            print_entry(gr->entries[e], out);
    }
    for (int r = 0; r < job->nreports; r++) {
        const rules_report_t *rep = &job->reports[r];
        fprintf(out, "  report %s: entry %s, %s, scope %s", rep->name, rep->entry->name,
                rep->format == RULES_REPORT_JSON ? "json" : "csv",
                rep->scope == RULES_SCOPE_ROUND ? "round" : "period");
        if (rep->order_col >= 0) {
            const rules_entry_t *en = rep->entry;
            int c = rep->order_col;
            fprintf(out, ", order %s %s", rules_col_name(en, c), rep->order_desc ? "desc" : "asc");
        }
        if (rep->limit)
            fprintf(out, ", limit %ld", rep->limit);
        fputc('\n', out);
    }
}

static int warn_expr(const expr_t *e, FILE *out)
{
    int n = e ? expr_nwarnings(e) : 0;
    for (int i = 0; i < n; i++)
        fprintf(out, "%s\n", expr_warning(e, i));
    return n;
}

int master_check_warn(const rules_config_t *cfg, FILE *out)
{
    int n = 0;
    for (int j = 0; j < cfg->njobs; j++)
        for (int i = 0; i < cfg->jobs[j].nentries; i++) {
            const rules_entry_t *en = cfg->jobs[j].entries[i];
            n += warn_expr(en->where, out);
            for (int k = 0; k < en->nkeys; k++)
                n += warn_expr(en->keys[k], out);
            for (int v = 0; v < en->nvalues; v++)
                n += warn_expr(en->values[v].arg, out);
        }
    return n;
}

void master_check_print(const rules_config_t *cfg, FILE *out)
{
    fprintf(out, "%s: OK (config hash %s)\n", cfg->path, cfg->hash_hex);
    fputs("masters:\n", out);
    for (int m = 0; m < cfg->nmasters; m++)
        fprintf(out, "  %s%s weight %d%s%s\n", cfg->masters[m].name, m == 0 ? " (primary)" : "",
                cfg->masters[m].weight, cfg->masters[m].url ? " url " : "",
                cfg->masters[m].url ? cfg->masters[m].url : "");
    for (int j = 0; j < cfg->njobs; j++)
        print_job(cfg, &cfg->jobs[j], out);
    fputs("assignment (rule group -> master):\n", out);
    for (int j = 0; j < cfg->njobs; j++)
        for (int g = 0; g < cfg->jobs[j].ngroups; g++)
            fprintf(out, "  %s/%s -> %s\n", cfg->jobs[j].name, cfg->jobs[j].groups[g].name,
                    cfg->masters[cfg->jobs[j].groups[g].master].name);
}
