/* json_parse — a small but complete JSON parser as an allocation workload. A few
 * distinct documents (objects, arrays, strings with escapes, numbers, literals) are
 * generated up front; then each iteration parses one into a tree of malloc'd nodes
 * (arrays and objects grow with realloc, strings are unescaped into their own
 * blocks), walks the tree into a checksum and frees it. One op = one document.
 * usage: json_parse [PARSES=2000] [DOC_BYTES=65536] [SEED=42] [DISTINCT=8] */
#include "bench_common.h"

/* ---- generated input ---------------------------------------------------- */

typedef struct { char *p; size_t n, cap; } buf_t;

static void buf_put(buf_t *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            exit(3);
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void buf_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

static void gen_string(buf_t *b, bench_rng *r)
{
    static const char *pieces[] = {"a", "e", "ka", "mo", "ri", "su", " ", "\\\"",
                                   "\\\\", "\\n", "\\t", "\\u00e9", "\\u3042", "\\/", "z", "x"};
    size_t n = bench_rng_range(r, 0, 24);
    buf_puts(b, "\"");
    for (size_t i = 0; i < n; i++)
        buf_puts(b, pieces[bench_rng_next(r) % 16]);
    buf_puts(b, "\"");
}

static void gen_value(buf_t *b, bench_rng *r, int depth)
{
    char tmp[64];
    unsigned kind = (unsigned)(bench_rng_next(r) % (depth >= 6 ? 6 : 9));
    switch (kind) {
    case 0: case 1:
        snprintf(tmp, sizeof tmp, "%lld", (long long)(bench_rng_next(r) % 2000001) - 1000000);
        buf_puts(b, tmp);
        break;
    case 2:
        snprintf(tmp, sizeof tmp, "%.3f",
                 (double)(bench_rng_next(r) % 1000000) / 7.0 - 50000.0);
        buf_puts(b, tmp);
        break;
    case 3: case 4:
        gen_string(b, r);
        break;
    case 5:
        buf_puts(b, (const char *[]){"true", "false", "null"}[bench_rng_next(r) % 3]);
        break;
    case 6: case 7: {
        size_t n = bench_rng_range(r, 0, 8);
        buf_puts(b, "{");
        for (size_t i = 0; i < n; i++) {
            snprintf(tmp, sizeof tmp, "%s\"key%llu\": ", i ? ", " : "",
                     (unsigned long long)(bench_rng_next(r) % 64));
            buf_puts(b, tmp);
            gen_value(b, r, depth + 1);
        }
        buf_puts(b, "}");
        break;
    }
    default: {
        size_t n = bench_rng_range(r, 0, 12);
        buf_puts(b, "[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                buf_puts(b, ",");
            gen_value(b, r, depth + 1);
        }
        buf_puts(b, "]");
    }
    }
}

static char *gen_document(uint64_t seed, size_t bytes, size_t *len)
{
    buf_t b = {0};
    bench_rng r;
    bench_rng_seed(&r, seed);
    buf_puts(&b, "{\"items\": [\n");
    for (int first = 1; b.n < bytes; first = 0) {
        if (!first)
            buf_puts(&b, ",\n");
        buf_puts(&b, "  {\"id\": ");
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%zu", b.n);
        buf_puts(&b, tmp);
        buf_puts(&b, ", \"body\": ");
        gen_value(&b, &r, 1);
        buf_puts(&b, "}");
    }
    buf_puts(&b, "\n], \"ok\": true}\n");
    *len = b.n;
    return b.p;
}

/* ---- the parser ------------------------------------------------------------ */

enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jnode jnode;
struct jnode {
    int type;
    union {
        double num;
        struct { char *s; size_t len; } str;
        struct { jnode **val; char **key; size_t n, cap; } c; /* key NULL for arrays */
    } u;
};

typedef struct { const char *p, *end; int err; } parser;

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r'))
        ps->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses a string literal at ps->p (on the opening quote) into a new block. */
static char *parse_string(parser *ps, size_t *out_len)
{
    const char *s = ++ps->p, *q = s;
    while (q < ps->end && *q != '"') /* find the closing quote to size the block */
        q += (*q == '\\') ? 2 : 1;
    if (q >= ps->end) {
        ps->err = 1;
        return NULL;
    }
    char *out = bench_xmalloc((size_t)(q - s) + 1), *o = out;
    while (ps->p < q) {
        char c = *ps->p++;
        if (c != '\\') {
            *o++ = c;
            continue;
        }
        c = *ps->p++;
        switch (c) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned cp = 0;
            for (int i = 0; i < 4; i++) {
                int h = ps->p < q ? hexval(*ps->p++) : -1;
                if (h < 0) {
                    ps->err = 1;
                    free(out);
                    return NULL;
                }
                cp = cp * 16 + (unsigned)h;
            }
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xc0 | (cp >> 6));
                *o++ = (char)(0x80 | (cp & 0x3f));
            } else {
                *o++ = (char)(0xe0 | (cp >> 12));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *o++ = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default: *o++ = c; /* \" \\ \/ */
        }
    }
    ps->p = q + 1;
    *o = '\0';
    *out_len = (size_t)(o - out);
    return out;
}

static jnode *parse_value(parser *ps, int depth);

static void node_free(jnode *n)
{
    if (!n)
        return;
    if (n->type == J_STR) {
        free(n->u.str.s);
    } else if (n->type == J_ARR || n->type == J_OBJ) {
        for (size_t i = 0; i < n->u.c.n; i++) {
            node_free(n->u.c.val[i]);
            if (n->u.c.key)
                free(n->u.c.key[i]);
        }
        free(n->u.c.val);
        free(n->u.c.key);
    }
    free(n);
}

static int container_push(jnode *n, char *key, jnode *v)
{
    if (n->u.c.n == n->u.c.cap) {
        size_t cap = n->u.c.cap ? n->u.c.cap * 2 : 4;
        jnode **val = realloc(n->u.c.val, cap * sizeof *val);
        if (!val)
            return -1;
        n->u.c.val = val;
        if (n->type == J_OBJ) {
            char **k = realloc(n->u.c.key, cap * sizeof *k);
            if (!k)
                return -1;
            n->u.c.key = k;
        }
        n->u.c.cap = cap;
    }
    n->u.c.val[n->u.c.n] = v;
    if (n->type == J_OBJ)
        n->u.c.key[n->u.c.n] = key;
    n->u.c.n++;
    return 0;
}

static jnode *parse_container(parser *ps, int type, int depth)
{
    char close = type == J_OBJ ? '}' : ']';
    jnode *n = bench_xmalloc(sizeof *n);
    n->type = type;
    n->u.c.val = NULL;
    n->u.c.key = NULL;
    n->u.c.n = n->u.c.cap = 0;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return n;
    }
    for (;;) {
        char *key = NULL;
        if (type == J_OBJ) {
            size_t klen;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"' || !(key = parse_string(ps, &klen)))
                goto fail;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p++ != ':') {
                free(key);
                goto fail;
            }
        }
        jnode *v = parse_value(ps, depth + 1);
        if (!v || container_push(n, key, v) != 0) {
            free(key);
            node_free(v);
            goto fail;
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return n;
        }
        goto fail;
    }
fail:
    ps->err = 1;
    node_free(n);
    return NULL;
}

static jnode *parse_value(parser *ps, int depth)
{
    skip_ws(ps);
    if (ps->p >= ps->end || depth > 512) {
        ps->err = 1;
        return NULL;
    }
    char c = *ps->p;
    if (c == '{')
        return parse_container(ps, J_OBJ, depth);
    if (c == '[')
        return parse_container(ps, J_ARR, depth);
    jnode *n = bench_xmalloc(sizeof *n);
    if (c == '"') {
        n->type = J_STR;
        if (!(n->u.str.s = parse_string(ps, &n->u.str.len))) {
            free(n);
            return NULL;
        }
        return n;
    }
    static const struct { const char *lit; int type; } lits[] = {
        {"null", J_NULL}, {"false", J_FALSE}, {"true", J_TRUE}};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(lits[i].lit);
        if ((size_t)(ps->end - ps->p) >= l && memcmp(ps->p, lits[i].lit, l) == 0) {
            ps->p += l;
            n->type = lits[i].type;
            return n;
        }
    }
    char *end;
    n->type = J_NUM;
    n->u.num = strtod(ps->p, &end);
    if (end == ps->p) {
        ps->err = 1;
        free(n);
        return NULL;
    }
    ps->p = end;
    return n;
}

static jnode *json_parse(const char *text, size_t len)
{
    parser ps = {text, text + len, 0};
    jnode *root = parse_value(&ps, 0);
    skip_ws(&ps);
    if (ps.err || ps.p != ps.end) {
        node_free(root);
        return NULL;
    }
    return root;
}

/* ---- walking ---------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t walk(const jnode *n, uint64_t *nodes)
{
    (*nodes)++;
    switch (n->type) {
    case J_NUM: return (uint64_t)(int64_t)(n->u.num * 1000.0);
    case J_STR: return fnv(0xcbf29ce484222325ULL, n->u.str.s, n->u.str.len);
    case J_ARR: case J_OBJ: {
        uint64_t h = (uint64_t)n->type * 31 + n->u.c.n;
        for (size_t i = 0; i < n->u.c.n; i++) {
            h = h * 1099511628211ULL + walk(n->u.c.val[i], nodes);
            if (n->u.c.key)
                h ^= fnv(h, n->u.c.key[i], strlen(n->u.c.key[i]));
        }
        return h;
    }
    default: return (uint64_t)n->type;
    }
}

int main(int argc, char **argv)
{
    uint64_t parses = bench_arg(argc, argv, 1, 2000);
    uint64_t bytes = bench_arg(argc, argv, 2, 65536);
    uint64_t seed = bench_arg(argc, argv, 3, 42);
    uint64_t distinct = bench_arg(argc, argv, 4, 8);
    if (distinct == 0)
        distinct = 1;
    char **doc = bench_xmalloc(distinct * sizeof *doc);
    size_t *len = bench_xmalloc(distinct * sizeof *len);
    for (uint64_t i = 0; i < distinct; i++)
        doc[i] = gen_document(seed + i, bytes, &len[i]);
    uint64_t sum = 0, nodes = 0;
    double t0 = bench_start();
    for (uint64_t i = 0; i < parses; i++) {
        uint64_t k = i % distinct;
        jnode *root = json_parse(doc[k], len[k]);
        if (!root) {
            fprintf(stderr, "json_parse: document %llu did not parse\n", (unsigned long long)k);
            return 5;
        }
        sum += walk(root, &nodes);
        node_free(root);
    }
    double secs = bench_stop(t0);
    for (uint64_t i = 0; i < distinct; i++)
        free(doc[i]);
    free(doc);
    free(len);
    char extra[96];
    snprintf(extra, sizeof extra, "doc_bytes=%llu nodes=%llu", (unsigned long long)bytes,
             (unsigned long long)nodes);
    bench_result("json_parse", parses, secs, sum, extra);
    return 0;
}
