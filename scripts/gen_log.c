/* gen_log.c - deterministic synthetic Apache combined-format log, for scripts/bench.sh.
 *
 * Not part of the build. Usage:
 *   gcc -O2 -o /tmp/gen_log scripts/gen_log.c -lm
 *   /tmp/gen_log LINES [SEED [unique]] > access.log
 *
 * With `unique` every line's path is its own: the drawn path followed by
 * "/u" and the line's number (a key per line, for scripts/bench_memory.sh);
 * without it the output is as it always was.
 *
 * The same LINES and SEED always give the same bytes (xoshiro256** seeded
 * through splitmix64; no libc rand, no locale, no clock; sizes go through
 * libm's exp, log and cos, so another libm could change a few of them). The key spread is
 * shaped like real traffic: ~50k client IPs and ~20k paths drawn with a
 * Zipf-like skew, a realistic status and method mix, log-normal response
 * sizes with ~7% "-", ~40% "-" referers and a few hundred referring URLs, ~300
 * user agents (about a tenth of them bots), timestamps over five days with a
 * daily rhythm, a few seconds of disorder and a few zone offsets (+0000
 * mostly). Lines average about 230 bytes. Output goes through one large
 * buffer and fwrite: several million lines a second. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_IPS 50000
#define N_PATHS 20000
#define N_AGENTS 300
#define N_REFS 400
#define SPAN_DAYS 5
#define T0 1431820800LL /* 17/May/2015:00:00:00 +0000 */
#define OUTBUF (8u << 20)

/* Allocation failure ends the program. */
static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        perror("gen_log");
        exit(1);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    return memcpy(xmalloc(strlen(s) + 1), s, strlen(s) + 1);
}

/* ---- PRNG: splitmix64 to seed xoshiro256** ---- */

static uint64_t s_state[4];

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rnd(void)
{
    uint64_t *s = s_state;
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

static inline double rnd01(void) /* [0, 1) */
{
    return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0);
}

static inline uint32_t rndn(uint32_t n) /* [0, n) */
{
    return (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32);
}

/* Standard normal (Box-Muller, both halves used). */
static double rnd_normal(void)
{
    static double spare;
    static int have;
    if (have) {
        have = 0;
        return spare;
    }
    double r = sqrt(-2.0 * log(1.0 - rnd01())), a = 6.283185307179586 * rnd01();
    spare = r * sin(a);
    have = 1;
    return r * cos(a);
}

/* ---- Zipf sampling: CDF over ranks plus a guide table, O(1) on average ---- */

#define GUIDE 65536

typedef struct zipf_t {
    int n;
    double *cdf;
    int *guide; /* guide[g]: first rank whose cdf exceeds g / GUIDE */
} zipf_t;

static void zipf_init(zipf_t *z, int n, double s)
{
    double sum = 0;
    z->n = n;
    z->cdf = xmalloc(sizeof(double) * (size_t)n);
    z->guide = xmalloc(sizeof(int) * GUIDE);
    for (int i = 0; i < n; i++)
        z->cdf[i] = (sum += 1.0 / pow(i + 1.0, s));
    for (int i = 0; i < n; i++)
        z->cdf[i] /= sum;
    z->cdf[n - 1] = 1.0;
    for (int g = 0, r = 0; g < GUIDE; g++) {
        while (r < n - 1 && z->cdf[r] <= (double)g / GUIDE)
            r++;
        z->guide[g] = r;
    }
}

static inline int zipf_draw(const zipf_t *z)
{
    double u = rnd01();
    int r = z->guide[(int)(u * GUIDE)];
    while (r < z->n - 1 && z->cdf[r] <= u)
        r++;
    return r;
}

/* ---- pick from a small weighted table ---- */

typedef struct choice_t {
    const char *s;
    double w;
} choice_t;

static const char *pick(const choice_t *c, int n)
{
    double u = rnd01(), acc = 0;
    for (int i = 0; i < n - 1; i++)
        if (u < (acc += c[i].w))
            return c[i].s;
    return c[n - 1].s;
}

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- string pools built once ---- */

static const char *words[] = {
    "logstash", "kibana",  "elasticsearch", "monitoring", "release", "notes",   "howto",
    "linux",    "nginx",   "apache",        "cluster",    "metrics", "deploy",  "security",
    "update",   "install", "config",        "backup",     "network", "docker",  "python",
    "golang",   "tuning",  "cache",         "search",     "index",   "archive", "about",
    "contact",  "pricing", "features",      "docs",       "guide",   "faq",     "blog",
    "news",     "events",  "download",      "support",    "status",
};

static const char *img_ext[] = {".png", ".jpg", ".gif", ".jpeg", ".ico", ".svg", ".webp"};

static const char *w(void)
{
    return words[rndn(NELEM(words))];
}

/* Paths: rank 0 is "/", then the usual suspects, then a site's mix of pages,
 * blog posts, images, scripts, stylesheets, API calls and feeds. */
static char **make_paths(void)
{
    static const char *fixed[] = {"/",      "/favicon.ico", "/robots.txt",   "/index.html",
                                  "/feed/", "/sitemap.xml", "/wp-login.php", "/style.css"};
    char **p = xmalloc(sizeof(char *) * N_PATHS), b[256];
    int nfixed = NELEM(fixed);
    for (int i = 0; i < nfixed; i++)
        p[i] = xstrdup(fixed[i]);
    for (int i = nfixed; i < N_PATHS; i++) {
        /* Draws in a fixed order (argument evaluation order is unspecified). */
        uint32_t k = rndn(100);
        const char *w1 = w(), *w2 = w(), *w3 = w();
        uint32_t x = (uint32_t)rnd(), y = rndn(1000), z = rndn(1000);
        if (k < 30)
            snprintf(b, sizeof b, "/blog/%u/%02u/%s-%s-%s/", 2008 + y % 8, 1 + z % 12, w1, w2, w3);
        else if (k < 55)
            snprintf(b, sizeof b, "/images/%s/%s-%u%s", w1, w2, y, img_ext[z % NELEM(img_ext)]);
        else if (k < 65)
            snprintf(b, sizeof b, "/static/js/%s.%08x.js", w1, x);
        else if (k < 72)
            snprintf(b, sizeof b, "/static/css/%s.%06x.css", w1, x & 0xffffff);
        else if (k < 80)
            snprintf(b, sizeof b, "/api/v1/%s/%u", w1, x % 100000);
        else if (k < 86)
            snprintf(b, sizeof b, "/%s/%s.html", w1, w2);
        else if (k < 92)
            snprintf(b, sizeof b, "/search?q=%s+%s&page=%u", w1, w2, 1 + y % 5);
        else if (k < 96)
            snprintf(b, sizeof b, "/presentations/%s-%u/images/%s.png", w1, 2010 + y % 6, w2);
        else
            snprintf(b, sizeof b, "/downloads/%s-%u.%u.%u.tar.gz", w1, x % 5, y % 20, z % 10);
        p[i] = xstrdup(b);
    }
    return p;
}

/* User agents: browsers over OSes with versions, and about 30 bots/tools. */
static char **make_agents(int *is_bot)
{
    static const char *bots[] = {
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
        "Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot)",
        "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "Mozilla/5.0 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
        "CCBot/2.0 (https://commoncrawl.org/faq/)",
        "Screaming Frog SEO Spider/19.0",
        "Mozilla/5.0 (compatible; archive.org_bot +http://archive.org/details/archive.org_bot)",
        "Mozilla/5.0 (compatible; SeznamBot/4.0; +http://napoveda.seznam.cz/seznambot-intro/)",
        "Applebot/0.1; +http://www.apple.com/go/applebot",
        "Mozilla/5.0 (compatible; Qwantify/2.4w; +https://www.qwant.com/)/2.4w",
        "ia_archiver (+http://www.alexa.com/site/help/webmasters; crawler@alexa.com)",
        "Mozilla/5.0 (compatible; Exabot/3.0; +http://www.exabot.com/go/robot)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "UptimeRobot/2.0; http://www.uptimerobot.com/",
        "curl/7.88.1",
        "curl/7.29.0",
        "Wget/1.21.3",
        "python-requests/2.31.0",
        "Go-http-client/1.1",
        "Java/1.8.0_151",
        "Apache-HttpClient/4.5.13 (Java/11.0.19)",
    };
    static const char *os[] = {
        "Windows NT 10.0; Win64; x64",       "Windows NT 6.1; WOW64",
        "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64",
        "X11; Ubuntu; Linux x86_64",         "iPhone; CPU iPhone OS 16_5 like Mac OS X",
        "Linux; Android 13; SM-G991B",       "iPad; CPU OS 15_7 like Mac OS X",
        "Windows NT 6.3; Win64; x64",
    };
    char **a = xmalloc(sizeof(char *) * N_AGENTS), b[512];
    int nb = NELEM(bots), n = 0;
    /* Bots spread over the ranks so some are frequent (every 9th rank). */
    for (int i = 0; i < N_AGENTS; i++) {
        if (i % 9 == 4 && n < nb) {
            a[i] = xstrdup(bots[n++]);
            is_bot[i] = 1;
            continue;
        }
        const char *o = os[rndn(NELEM(os))];
        uint32_t k = rndn(100), major = 60 + rndn(60), build = rndn(6000), patch = rndn(200);
        uint32_t sv = 10 + rndn(7), sm = rndn(6);
        if (k < 55)
            snprintf(b, sizeof b,
                     "Mozilla/5.0 (%s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%u.0.%u.%u "
                     "Safari/537.36",
                     o, major, build, patch);
        else if (k < 75)
            snprintf(b, sizeof b, "Mozilla/5.0 (%s; rv:%u.0) Gecko/20100101 Firefox/%u.0", o, major,
                     major);
        else if (k < 90)
            snprintf(b, sizeof b,
                     "Mozilla/5.0 (%s) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%u.%u "
                     "Safari/605.1.15",
                     o, sv, sm);
        else
            snprintf(b, sizeof b,
                     "Mozilla/5.0 (%s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%u.0.%u.%u "
                     "Safari/537.36 Edg/%u.0.%u.%u",
                     o, major, build, patch, major, build, patch);
        a[i] = xstrdup(b);
        is_bot[i] = 0;
    }
    return a;
}

/* Referers: own pages, search engines, social sites. */
static char **make_refs(char **paths)
{
    static const char *ext[] = {
        "https://www.google.com/",
        "https://www.bing.com/",
        "https://duckduckgo.com/",
        "https://t.co/",
        "https://news.ycombinator.com/",
        "https://www.reddit.com/r/",
        "https://www.facebook.com/",
        "https://github.com/",
        "https://stackoverflow.com/questions/",
    };
    char **r = xmalloc(sizeof(char *) * N_REFS), b[512];
    for (int i = 0; i < N_REFS; i++) {
        uint32_t k = rndn(100), x = rndn(2000);
        const char *w1 = w(), *w2 = w();
        if (k < 60)
            snprintf(b, sizeof b, "https://www.example.com%s", paths[i < 50 ? x % 50 : x]);
        else if (k < 75)
            snprintf(b, sizeof b, "https://www.google.com/search?q=%s+%s", w1, w2);
        else
            snprintf(b, sizeof b, "%s%s", ext[x % NELEM(ext)], k < 88 ? w1 : "");
        r[i] = xstrdup(b);
    }
    return r;
}

/* IPv4 addresses as text, clustered a little: ranks share a /16 in runs. */
static char **make_ips(void)
{
    char **ip = xmalloc(sizeof(char *) * N_IPS), b[32];
    uint32_t a = 0, c = 0;
    for (int i = 0; i < N_IPS; i++) {
        if (i % 7 == 0) {
            do
                a = 1 + rndn(223);
            while (a == 10 || a == 127);
            c = rndn(256);
        }
        uint32_t h = rndn(256), l = 1 + rndn(254);
        snprintf(b, sizeof b, "%u.%u.%u.%u", a, c, h, l);
        ip[i] = xstrdup(b);
    }
    return ip;
}

/* ---- output ---- */

static char *out, *op;

static inline void put(const char *s, size_t n)
{
    memcpy(op, s, n);
    op += n;
}

static inline void puts0(const char *s)
{
    put(s, strlen(s));
}

/* Lengths of a pool's strings, computed once (every string is under 255 bytes). */
static uint8_t *lengths(char **v, int n)
{
    uint8_t *l = xmalloc((size_t)n);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(v[i]);
        if (len > 255) {
            fprintf(stderr, "gen_log: internal error: pool string over 255 bytes\n");
            exit(1);
        }
        l[i] = (uint8_t)len;
    }
    return l;
}

static inline void put_u(uint64_t v)
{
    char t[24];
    int n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while (v /= 10);
    while (n)
        *op++ = t[--n];
}

static inline char *put2c(char *c, unsigned v)
{
    c[0] = (char)('0' + v / 10);
    c[1] = (char)('0' + v % 10);
    return c + 2;
}

static void flush(void)
{
    if (fwrite(out, 1, (size_t)(op - out), stdout) != (size_t)(op - out)) {
        perror("gen_log: write");
        exit(1);
    }
    op = out;
}

/* Civil date from days since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* "[dd/Mon/yyyy:hh:mm:ss +zzzz] " for UTC second t shown in zone off (minutes). */
static void put_time(int64_t t, int off)
{
    static int64_t last_t = -1;
    static int last_off = 99999;
    static char cache[40];
    static size_t clen;
    if (t != last_t || off != last_off) {
        int64_t l = t + off * 60;
        int64_t days = l >= 0 ? l / 86400 : (l - 86399) / 86400;
        unsigned sec = (unsigned)(l - days * 86400), m, d;
        int y;
        int a = off < 0 ? -off : off;
        civil(days, &y, &m, &d);
        char *c = cache;
        *c++ = '[';
        c = put2c(c, d);
        *c++ = '/';
        memcpy(c, months[m - 1], 3);
        c += 3;
        *c++ = '/';
        c = put2c(c, (unsigned)y / 100);
        c = put2c(c, (unsigned)y % 100);
        *c++ = ':';
        c = put2c(c, sec / 3600);
        *c++ = ':';
        c = put2c(c, sec / 60 % 60);
        *c++ = ':';
        c = put2c(c, sec % 60);
        *c++ = ' ';
        *c++ = off < 0 ? '-' : '+';
        c = put2c(c, (unsigned)a / 60);
        c = put2c(c, (unsigned)a % 60);
        *c++ = ']';
        *c++ = ' ';
        clen = (size_t)(c - cache);
        last_t = t;
        last_off = off;
    }
    put(cache, clen);
}

static const choice_t methods[] = {
    {"GET", 0.950},  {"POST", 0.030},   {"HEAD", 0.015},   {"OPTIONS", 0.002},
    {"PUT", 0.0015}, {"DELETE", 0.001}, {"PATCH", 0.0005},
};

static const choice_t protos[] = {{"HTTP/1.1", 0.86}, {"HTTP/1.0", 0.06}, {"HTTP/2.0", 0.08}};

typedef struct status_t {
    unsigned code;
    double w;
} status_t;

static const status_t statuses[] = {
    {200, 0.880}, {304, 0.050}, {404, 0.030}, {301, 0.012},  {206, 0.008}, {302, 0.006},
    {403, 0.005}, {500, 0.004}, {400, 0.002}, {503, 0.0015}, {401, 0.001}, {416, 0.0005},
};

static unsigned pick_status(void)
{
    double u = rnd01(), acc = 0;
    for (int i = 0; i < NELEM(statuses) - 1; i++)
        if (u < (acc += statuses[i].w))
            return statuses[i].code;
    return statuses[NELEM(statuses) - 1].code;
}

/* Response size, or -1 for "-": log-normal around a few KB for content,
 * small bodies for errors and redirects, nothing for 304 and most HEADs. */
static int64_t pick_bytes(unsigned status, const char *method, int path_rank)
{
    if (status == 304 || (method[0] == 'H' && rndn(10) < 8) || rndn(1000) < 12)
        return -1;
    if (status >= 300) {
        double b = exp(5.6 + 0.5 * rnd_normal());
        return (int64_t)b;
    }
    /* Each path has its own typical size (images and downloads larger). */
    double mu = 7.6 + (double)((uint32_t)(path_rank * 2654435761u) % 1000) / 400.0;
    double v = exp(mu + 1.1 * rnd_normal());
    if (status == 206)
        v *= rnd01();
    return (int64_t)v > 0 ? (int64_t)v : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4 || (argc == 4 && strcmp(argv[3], "unique") != 0)) {
        fprintf(stderr, "usage: %s LINES [SEED [unique]] > access.log\n", argv[0]);
        return 2;
    }
    char *end;
    uint64_t lines = strtoull(argv[1], &end, 10);
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 20150517;
    int unique = argc == 4;
    if (*end || lines == 0) {
        fprintf(stderr, "gen_log: LINES must be a positive number\n");
        return 2;
    }
    for (int i = 0; i < 4; i++)
        s_state[i] = splitmix64(&seed);

    /* Static: the pools live until exit (and stay reachable for leak checkers). */
    static char **paths, **ips, **agents, **refs;
    static uint8_t *plen, *iplen, *alen, *rlen;
    static zipf_t zip, zpath, zagent, zref;
    static uint16_t *ip_agent;
    static int16_t *ip_zone;
    int is_bot[N_AGENTS];
    paths = make_paths();
    ips = make_ips();
    agents = make_agents(is_bot);
    refs = make_refs(paths);
    plen = lengths(paths, N_PATHS);
    iplen = lengths(ips, N_IPS);
    alen = lengths(agents, N_AGENTS);
    rlen = lengths(refs, N_REFS);
    zipf_init(&zip, N_IPS, 0.9);
    zipf_init(&zpath, N_PATHS, 1.0);
    zipf_init(&zagent, N_AGENTS, 1.1);
    zipf_init(&zref, N_REFS, 1.0);
    /* Each client has a usual agent and zone. */
    ip_agent = xmalloc(sizeof(uint16_t) * N_IPS);
    ip_zone = xmalloc(sizeof(int16_t) * N_IPS);
    static const int16_t zones[] = {-420, -300, 60, 120, 330, 540};
    for (int i = 0; i < N_IPS; i++) {
        ip_agent[i] = (uint16_t)zipf_draw(&zagent);
        ip_zone[i] = rndn(100) < 92 ? 0 : zones[rndn(NELEM(zones))];
    }

    out = xmalloc(OUTBUF + 4096);
    op = out;

    /* Time runs over SPAN_DAYS whatever LINES is, faster by day than by
     * night: dt scaled by a daily rhythm whose mean over a day is 1. */
    double span = SPAN_DAYS * 86400.0, base_dt = span / (double)lines, t = 0, dt[24];
    for (int h = 0; h < 24; h++)
        dt[h] = base_dt / (1.0 + 0.5 * cos(6.283185307179586 * (h - 15) / 24.0));
    for (uint64_t n = 0; n < lines; n++, t += dt[(int64_t)(t / 3600.0) % 24]) {
        int ipr = zipf_draw(&zip), pr = zipf_draw(&zpath);
        int ar = rndn(4) ? ip_agent[ipr] : zipf_draw(&zagent);
        const char *method = pick(methods, NELEM(methods));
        unsigned status = pick_status();
        int64_t bytes = pick_bytes(status, method, pr);
        int64_t ts = T0 + (int64_t)t - (rndn(8) == 0 ? (int64_t)rndn(5) : 0);

        put(ips[ipr], iplen[ipr]);
        put(" - - ", 5);
        put_time(ts, ip_zone[ipr]);
        *op++ = '"';
        puts0(method);
        *op++ = ' ';
        put(paths[pr], plen[pr]);
        if (unique) {
            put("/u", 2);
            put_u(n);
        }
        *op++ = ' ';
        puts0(pick(protos, NELEM(protos)));
        put("\" ", 2);
        put_u(status);
        *op++ = ' ';
        if (bytes < 0)
            *op++ = '-';
        else
            put_u((uint64_t)bytes);
        put(" \"", 2);
        if (rndn(100) < 40 || is_bot[ar])
            *op++ = '-';
        else {
            int rr = zipf_draw(&zref);
            put(refs[rr], rlen[rr]);
        }
        put("\" \"", 3);
        put(agents[ar], alen[ar]);
        put("\"\n", 2);
        if ((size_t)(op - out) >= OUTBUF)
            flush();
    }
    flush();
    if (fflush(stdout) != 0) {
        perror("gen_log: write");
        return 1;
    }
    return 0;
}
