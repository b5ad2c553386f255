/* params.c — the parameter registry: every trainable tensor of a model in
 * one flat float array (values) with a twin array (gradients) of the same
 * layout, and non-trainable buffers (running statistics, counters) in a
 * third byte array. Entries are found by their PyTorch state_dict name. */
#include <math.h>

#include "pixl_impl.h"

#define PAD_FLOATS 16 /* each trainable entry starts on a 64-byte boundary */

typedef struct {
    char name[PIXL_NAME_LEN * 2];
    pixl_param_kind kind;
    pixl_dtype dtype;
    int ndim;
    int64_t shape[PIXL_MAX_DIMS];
    int64_t numel;
    int64_t off; /* floats into val/grad (PARAM) or bytes into buf (BUFFER) */
    float lr_mult, wd_mult;
    int frozen;
} entry;

struct pixl_params {
    entry *e;
    int n, cap;
    float *val, *grad;
    int64_t n_val, cap_val;
    unsigned char *buf;
    int64_t n_buf, cap_buf;
    uint64_t rng;
};

pixl_params *pixl_params_new(void)
{
    pixl_params *P = pixl__calloc(1, sizeof *P);
    if (P) P->rng = 0x70697866ULL;
    return P;
}

void pixl_params_free(pixl_params *P)
{
    if (!P) return;
    free(P->e);
    free(P->val);
    free(P->grad);
    free(P->buf);
    free(P);
}

void pixl_params_seed(pixl_params *P, uint64_t seed) { P->rng = seed; }
uint64_t *pixl__params_rng(pixl_params *P) { return &P->rng; }

int pixl_params_find(const pixl_params *P, const char *name)
{
    if (!P || !name) return -1;
    for (int i = 0; i < P->n; i++)
        if (!strcmp(P->e[i].name, name)) return i;
    return -1;
}

static int64_t fan_in(const entry *e)
{
    if (e->ndim < 2) return e->numel;
    return e->numel / e->shape[0];
}
static int64_t fan_out(const entry *e)
{
    if (e->ndim < 2) return e->numel;
    int64_t rf = 1;
    for (int i = 2; i < e->ndim; i++) rf *= e->shape[i];
    return e->shape[0] * rf;
}

static void init_values(pixl_params *P, entry *e, float *v, pixl_init_spec in)
{
    int64_t n = e->numel;
    uint64_t *r = &P->rng;
    switch (in.kind) {
    case PIXL_INIT_ZEROS:
        for (int64_t i = 0; i < n; i++) v[i] = 0;
        break;
    case PIXL_INIT_ONES:
        for (int64_t i = 0; i < n; i++) v[i] = 1;
        break;
    case PIXL_INIT_CONST:
        for (int64_t i = 0; i < n; i++) v[i] = in.a;
        break;
    case PIXL_INIT_UNIFORM:
        for (int64_t i = 0; i < n; i++) v[i] = (float)(in.a + (in.b - in.a) * pixl__rng_uniform(r));
        break;
    case PIXL_INIT_NORMAL:
        for (int64_t i = 0; i < n; i++) v[i] = (float)(in.a + in.b * pixl__rng_normal(r));
        break;
    case PIXL_INIT_KAIMING_UNIFORM: {
        double bound = sqrt(6.0 / ((1.0 + (double)in.a * in.a) * (double)fan_in(e)));
        for (int64_t i = 0; i < n; i++) v[i] = (float)(bound * (2.0 * pixl__rng_uniform(r) - 1.0));
        break;
    }
    case PIXL_INIT_KAIMING_NORMAL: {
        double fan = in.b != 0 ? (double)fan_out(e) : (double)fan_in(e);
        double std = sqrt(2.0 / ((1.0 + (double)in.a * in.a) * fan));
        for (int64_t i = 0; i < n; i++) v[i] = (float)(std * pixl__rng_normal(r));
        break;
    }
    case PIXL_INIT_XAVIER_UNIFORM: {
        double bound = sqrt(6.0 / (double)(fan_in(e) + fan_out(e)));
        for (int64_t i = 0; i < n; i++) v[i] = (float)(bound * (2.0 * pixl__rng_uniform(r) - 1.0));
        break;
    }
    case PIXL_INIT_FAN_IN_UNIFORM: {
        double bound = in.a > 0 ? 1.0 / sqrt((double)in.a) : 0.0;
        for (int64_t i = 0; i < n; i++) v[i] = (float)(bound * (2.0 * pixl__rng_uniform(r) - 1.0));
        break;
    }
    case PIXL_INIT_BILINEAR: {
        /* (IC, OC, K, K): identity over matching channels, bilinear kernel */
        for (int64_t i = 0; i < n; i++) v[i] = 0;
        if (e->ndim != 4) break;
        int64_t kh = e->shape[2], kw = e->shape[3];
        double fh = (double)((kh + 1) / 2), fw = (double)((kw + 1) / 2);
        double ch = kh % 2 == 1 ? fh - 1 : fh - 0.5, cw = kw % 2 == 1 ? fw - 1 : fw - 0.5;
        int64_t m = e->shape[0] < e->shape[1] ? e->shape[0] : e->shape[1];
        for (int64_t c = 0; c < m; c++)
            for (int64_t y = 0; y < kh; y++)
                for (int64_t x = 0; x < kw; x++)
                    v[((c * e->shape[1] + c) * kh + y) * kw + x] =
                        (float)((1 - fabs(y - ch) / fh) * (1 - fabs(x - cw) / fw));
        break;
    }
    }
}

int pixl_params_add(pixl_params *P, const char *name, pixl_param_kind kind, pixl_dtype dtype, int ndim,
                    const int64_t *shape, pixl_init_spec init)
{
    if (!P || !name || !name[0]) return pixl_set_error(PIXL_ERR_ARG, "pixl_params_add: NULL params or empty name");
    if (strlen(name) >= sizeof(((entry *)0)->name))
        return pixl_set_error(PIXL_ERR_ARG, "pixl_params_add: name too long: %s", name);
    if (ndim < 0 || ndim > PIXL_MAX_DIMS) return pixl_set_error(PIXL_ERR_SHAPE, "parameter '%s': %d dims", name, ndim);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) {
            char sh[128];
            return pixl_set_error(PIXL_ERR_SHAPE, "parameter '%s': invalid shape %s", name,
                                  pixl_shape_str(ndim, shape, sh, sizeof sh));
        }
        numel *= shape[i];
    }
    if (kind == PIXL_PARAM && dtype != PIXL_F32)
        return pixl_set_error(PIXL_ERR_ARG, "parameter '%s': trainable parameters are f32", name);
    int i = pixl_params_find(P, name);
    if (i >= 0) {
        entry *e = &P->e[i];
        bool same = e->ndim == ndim && e->kind == kind && e->dtype == dtype;
        for (int d = 0; same && d < ndim; d++) same = e->shape[d] == shape[d];
        if (!same) {
            char a[128], b[128];
            return pixl_set_error(PIXL_ERR_SHAPE, "parameter '%s' exists with shape %s %s, requested %s %s", name,
                                  pixl_shape_str(e->ndim, e->shape, a, sizeof a), pixl_dtype_name(e->dtype),
                                  pixl_shape_str(ndim, shape, b, sizeof b), pixl_dtype_name(dtype));
        }
        return i;
    }
    if (P->n == P->cap) {
        int cap = P->cap ? 2 * P->cap : 64;
        entry *ne = realloc(P->e, (size_t)cap * sizeof *ne);
        if (!ne) return pixl_set_error(PIXL_ERR_NOMEM, "parameter '%s': out of memory", name);
        P->e = ne;
        P->cap = cap;
    }
    entry e = {0};
    snprintf(e.name, sizeof e.name, "%s", name);
    e.kind = kind;
    e.dtype = dtype;
    e.ndim = ndim;
    for (int d = 0; d < ndim; d++) e.shape[d] = shape[d];
    e.numel = numel;
    e.lr_mult = 1;
    e.wd_mult = 1;
    if (kind == PIXL_PARAM) {
        int64_t need = P->n_val + (numel + PAD_FLOATS - 1) / PAD_FLOATS * PAD_FLOATS;
        if (need > P->cap_val) {
            int64_t cap = P->cap_val ? P->cap_val : 4096;
            while (cap < need) cap *= 2;
            float *nv = NULL, *ng = NULL;
            if (posix_memalign((void **)&nv, 64, (size_t)cap * 4) || posix_memalign((void **)&ng, 64, (size_t)cap * 4)) {
                free(nv);
                return pixl_set_error(PIXL_ERR_NOMEM, "parameter '%s': out of memory", name);
            }
            memset(nv, 0, (size_t)cap * 4);
            memset(ng, 0, (size_t)cap * 4);
            if (P->n_val) {
                memcpy(nv, P->val, (size_t)P->n_val * 4);
                memcpy(ng, P->grad, (size_t)P->n_val * 4);
            }
            free(P->val);
            free(P->grad);
            P->val = nv;
            P->grad = ng;
            P->cap_val = cap;
        }
        e.off = P->n_val;
        P->n_val = need;
        init_values(P, &e, P->val + e.off, init);
    } else {
        int64_t bytes = numel * (int64_t)pixl_dtype_size(dtype);
        int64_t need = P->n_buf + (bytes + 63) / 64 * 64;
        if (need > P->cap_buf) {
            int64_t cap = P->cap_buf ? P->cap_buf : 4096;
            while (cap < need) cap *= 2;
            unsigned char *nb = NULL;
            if (posix_memalign((void **)&nb, 64, (size_t)cap))
                return pixl_set_error(PIXL_ERR_NOMEM, "buffer '%s': out of memory", name);
            memset(nb, 0, (size_t)cap);
            if (P->n_buf) memcpy(nb, P->buf, (size_t)P->n_buf);
            free(P->buf);
            P->buf = nb;
            P->cap_buf = cap;
        }
        e.off = P->n_buf;
        P->n_buf = need;
        if (dtype == PIXL_F32) init_values(P, &e, (float *)(P->buf + e.off), init);
        else if (dtype == PIXL_I64 && init.kind == PIXL_INIT_CONST)
            for (int64_t k = 0; k < numel; k++) ((int64_t *)(P->buf + e.off))[k] = (int64_t)init.a;
    }
    P->e[P->n] = e;
    return P->n++;
}

int pixl_params_count(const pixl_params *P) { return P ? P->n : 0; }
const char *pixl_params_name(const pixl_params *P, int i) { return P->e[i].name; }
pixl_param_kind pixl_params_kind(const pixl_params *P, int i) { return P->e[i].kind; }
pixl_dtype pixl_params_dtype(const pixl_params *P, int i) { return P->e[i].dtype; }
int pixl_params_ndim(const pixl_params *P, int i) { return P->e[i].ndim; }
const int64_t *pixl_params_shape(const pixl_params *P, int i) { return P->e[i].shape; }
int64_t pixl_params_numel(const pixl_params *P, int i) { return P->e[i].numel; }

void *pixl__params_entry_data(pixl_params *P, int i)
{
    entry *e = &P->e[i];
    return e->kind == PIXL_PARAM ? (void *)(P->val + e->off) : (void *)(P->buf + e->off);
}
float *pixl__params_entry_grad(pixl_params *P, int i)
{
    entry *e = &P->e[i];
    return e->kind == PIXL_PARAM ? P->grad + e->off : NULL;
}
void *pixl_params_data(pixl_params *P, int i) { return pixl__params_entry_data(P, i); }
float *pixl_params_grad(pixl_params *P, int i) { return pixl__params_entry_grad(P, i); }

float *pixl_params_data_flat(pixl_params *P, int64_t *n)
{
    if (n) *n = P->n_val;
    return P->val;
}
float *pixl_params_grad_flat(pixl_params *P, int64_t *n)
{
    if (n) *n = P->n_val;
    return P->grad;
}

int64_t pixl_params_total(const pixl_params *P)
{
    int64_t s = 0;
    for (int i = 0; P && i < P->n; i++)
        if (P->e[i].kind == PIXL_PARAM) s += P->e[i].numel;
    return s;
}

void pixl_params_zero_grad(pixl_params *P)
{
    if (P && P->n_val) memset(P->grad, 0, (size_t)P->n_val * 4);
}

static bool has_prefix(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

int pixl_params_set_lr_mult(pixl_params *P, const char *prefix, float lr_mult, float wd_mult)
{
    int k = 0;
    for (int i = 0; i < P->n; i++)
        if (has_prefix(P->e[i].name, prefix ? prefix : "")) {
            P->e[i].lr_mult = lr_mult;
            P->e[i].wd_mult = wd_mult;
            k++;
        }
    return k;
}

int pixl_params_set_frozen(pixl_params *P, const char *prefix, int frozen)
{
    int k = 0;
    for (int i = 0; i < P->n; i++)
        if (has_prefix(P->e[i].name, prefix ? prefix : "")) {
            P->e[i].frozen = frozen;
            k++;
        }
    return k;
}

float pixl_params_lr_mult(const pixl_params *P, int i) { return P->e[i].lr_mult; }
float pixl_params_wd_mult(const pixl_params *P, int i) { return P->e[i].wd_mult; }
int pixl_params_frozen(const pixl_params *P, int i) { return P->e[i].frozen; }
