/* optim.c — optimizers over the flat parameter registry: SGD (momentum,
 * dampening, Nesterov, L2 weight decay), Adam (L2 weight decay added to the
 * gradient) and AdamW (decoupled weight decay), each following the
 * single-tensor code paths of torch.optim 1.13 operation by operation
 * (scalars in double, element arithmetic in float), and the save/load of
 * their state as safetensors.
 *
 * State lives in flat arrays with the layout of pixl_params_data_flat()
 * (s1 = momentum_buffer or exp_avg, s2 = exp_avg_sq), so a step is one pass
 * over the flat buffer, cut into one segment per non-frozen parameter for its
 * lr_mult / wd_mult. Parameters added to P after the optimizer was created
 * get state lazily at the next step. Each parameter has its own step count
 * (as torch's state[p]["step"]): a parameter that was frozen or added later
 * starts its bias correction / momentum buffer at its own first step.
 *
 * State file: "<param>.momentum_buffer" (SGD with momentum) or
 * "<param>.exp_avg" and "<param>.exp_avg_sq" (Adam/AdamW), each F32 with the
 * parameter's shape, and "<param>.step" (I64 [1]) for every parameter that
 * has state; metadata "format" = "pixl-optim", "kind" = sgd|adam|adamw,
 * "step" = pixl_optim_steps(), "lr" = current lr (informational only). */
#include <math.h>

#include "pixl_impl.h"

struct pixl_optim {
    pixl_params *P;
    pixl_optim_opts o;
    float lr;
    int64_t steps;
    float *s1, *s2;     /* flat state, n_state floats each (s2: Adam only) */
    int64_t n_state;
    int64_t *estep;     /* per entry of P: updates applied (0 = no state yet) */
    int n_entries;
};

static const char *kind_name(pixl_optim_kind k)
{
    switch (k) {
    case PIXL_OPTIM_SGD: return "sgd";
    case PIXL_OPTIM_ADAM: return "adam";
    case PIXL_OPTIM_ADAMW: return "adamw";
    }
    return "?";
}

static int is_adam(const pixl_optim *opt) { return opt->o.kind != PIXL_OPTIM_SGD; }
static int has_s1(const pixl_optim *opt) { return is_adam(opt) || opt->o.momentum != 0; }

pixl_optim *pixl_optim_new(pixl_params *P, const pixl_optim_opts *o)
{
    if (!P || !o) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_optim_new: NULL %s", P ? "options" : "params");
        return NULL;
    }
    pixl_optim_opts c = *o;
    if (c.kind != PIXL_OPTIM_SGD && c.kind != PIXL_OPTIM_ADAM && c.kind != PIXL_OPTIM_ADAMW) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_optim_new: unknown optimizer kind %d", (int)c.kind);
        return NULL;
    }
    if (c.kind != PIXL_OPTIM_SGD) {
        if (c.beta1 == 0) c.beta1 = 0.9f;
        if (c.beta2 == 0) c.beta2 = 0.999f;
        if (c.eps == 0) c.eps = 1e-8f;
    }
    const char *bad = NULL;
    if (!(c.lr >= 0) || !isfinite(c.lr)) bad = "lr must be >= 0";
    else if (!(c.weight_decay >= 0) || !isfinite(c.weight_decay)) bad = "weight_decay must be >= 0";
    else if (c.kind == PIXL_OPTIM_SGD && !(c.momentum >= 0 && c.momentum <= 1)) bad = "momentum must be in [0, 1]";
    else if (c.kind == PIXL_OPTIM_SGD && !(c.dampening >= 0 && c.dampening <= 1)) bad = "dampening must be in [0, 1]";
    else if (c.kind == PIXL_OPTIM_SGD && c.nesterov && (c.momentum <= 0 || c.dampening != 0))
        bad = "Nesterov momentum requires momentum > 0 and dampening = 0";
    else if (c.kind != PIXL_OPTIM_SGD && !(c.beta1 >= 0 && c.beta1 < 1)) bad = "beta1 must be in [0, 1)";
    else if (c.kind != PIXL_OPTIM_SGD && !(c.beta2 >= 0 && c.beta2 < 1)) bad = "beta2 must be in [0, 1)";
    else if (c.kind != PIXL_OPTIM_SGD && !(c.eps >= 0)) bad = "eps must be >= 0";
    if (bad) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_optim_new (%s): %s", kind_name(c.kind), bad);
        return NULL;
    }
    pixl_optim *opt = pixl__calloc(1, sizeof *opt);
    if (!opt) return NULL;
    opt->P = P;
    opt->o = c;
    opt->lr = c.lr;
    return opt;
}

void pixl_optim_free(pixl_optim *opt)
{
    if (!opt) return;
    free(opt->s1);
    free(opt->s2);
    free(opt->estep);
    free(opt);
}

void pixl_optim_set_lr(pixl_optim *opt, float lr)
{
    if (opt) opt->lr = lr;
}
float pixl_optim_lr(const pixl_optim *opt) { return opt ? opt->lr : 0; }
int64_t pixl_optim_steps(const pixl_optim *opt) { return opt ? opt->steps : 0; }

/* grow a float array from n_old to n_new elements, zeroing the tail */
static int grow_f32(float **a, int64_t n_old, int64_t n_new)
{
    size_t bytes;
    if (pixl__mul_overflows((size_t)n_new, sizeof(float), &bytes))
        return pixl_set_error(PIXL_ERR_NOMEM, "optimizer state: size overflow");
    float *na = pixl__malloc(bytes);
    if (!na) return PIXL_ERR_NOMEM;
    if (n_old) memcpy(na, *a, (size_t)n_old * sizeof(float));
    memset(na + n_old, 0, (size_t)(n_new - n_old) * sizeof(float));
    free(*a);
    *a = na;
    return PIXL_OK;
}

/* Size the state for every entry of P (entries may have been added since
 * the last call). Existing state keeps its offsets: P only appends. */
static int ensure_state(pixl_optim *opt)
{
    int64_t n_val;
    pixl_params_data_flat(opt->P, &n_val);
    int n = pixl_params_count(opt->P);
    if (n > opt->n_entries) {
        int64_t *ne = pixl__calloc((size_t)n, sizeof *ne);
        if (!ne) return PIXL_ERR_NOMEM;
        if (opt->n_entries) memcpy(ne, opt->estep, (size_t)opt->n_entries * sizeof *ne);
        free(opt->estep);
        opt->estep = ne;
        opt->n_entries = n;
    }
    if (n_val > opt->n_state && has_s1(opt)) {
        /* allocate both before replacing either so a failure changes nothing */
        float *a = NULL, *b = NULL;
        int rc = grow_f32(&a, 0, n_val);
        if (!rc && is_adam(opt)) rc = grow_f32(&b, 0, n_val);
        if (rc) {
            free(a);
            free(b);
            return rc;
        }
        if (opt->n_state) {
            memcpy(a, opt->s1, (size_t)opt->n_state * sizeof(float));
            if (b) memcpy(b, opt->s2, (size_t)opt->n_state * sizeof(float));
        }
        free(opt->s1);
        free(opt->s2);
        opt->s1 = a;
        opt->s2 = b;
    }
    if (n_val > opt->n_state) opt->n_state = n_val;
    return PIXL_OK;
}

/* One segment of the flat buffer (one parameter) with its scalars. */
typedef struct {
    int64_t off, n;
    float lr, wd;        /* lr * lr_mult, weight_decay * wd_mult (as float, as torch casts alpha) */
    float decay;         /* AdamW: 1 - lr*wd */
    float step_size;     /* Adam: lr / bias_correction1 */
    float bc2_sqrt;      /* Adam: sqrt(bias_correction2) */
    int first;           /* SGD: momentum buffer created at this step */
} segment;

static void sgd_segment(const pixl_optim *opt, const segment *s, float *restrict p, const float *restrict g,
                        float *restrict buf)
{
    const float mom = opt->o.momentum, damp1 = (float)(1.0 - (double)opt->o.dampening), lr = s->lr, wd = s->wd;
    const int nesterov = opt->o.nesterov;
#pragma omp for schedule(static) nowait
    for (int64_t k = 0; k < s->n; k++) {
        float d = g[k];
        if (wd != 0) d = d + wd * p[k];
        if (mom != 0) {
            float b = s->first ? d : buf[k] * mom + damp1 * d;
            buf[k] = b;
            d = nesterov ? d + mom * b : b;
        }
        p[k] = p[k] + (-lr) * d;
    }
}

static void adam_segment(const pixl_optim *opt, const segment *s, float *restrict p, const float *restrict g,
                         float *restrict m, float *restrict v)
{
    const float b1 = opt->o.beta1, b2 = opt->o.beta2, omb1 = (float)(1.0 - (double)b1),
                omb2 = (float)(1.0 - (double)b2), eps = opt->o.eps, wd = s->wd, decay = s->decay,
                neg_step = -s->step_size, bc2 = s->bc2_sqrt;
    const int adamw = opt->o.kind == PIXL_OPTIM_ADAMW;
#pragma omp for schedule(static) nowait
    for (int64_t k = 0; k < s->n; k++) {
        float gr = g[k], pk = p[k];
        if (adamw) pk = pk * decay;
        else if (wd != 0) gr = gr + wd * pk;
        float mk = m[k] * b1 + omb1 * gr;
        float vk = v[k] * b2 + omb2 * (gr * gr);
        m[k] = mk;
        v[k] = vk;
        float denom = sqrtf(vk) / bc2 + eps;
        p[k] = pk + neg_step * (mk / denom);
    }
}

int pixl_optim_step(pixl_optim *opt)
{
    if (!opt) return pixl_set_error(PIXL_ERR_ARG, "pixl_optim_step: NULL optimizer");
    int rc = ensure_state(opt);
    if (rc) return rc;
    pixl_params *P = opt->P;
    int n = pixl_params_count(P);
    segment *seg = pixl__calloc((size_t)(n ? n : 1), sizeof *seg);
    if (!seg) return PIXL_ERR_NOMEM;
    float *val = pixl_params_data_flat(P, NULL), *grad = pixl_params_grad_flat(P, NULL);
    int ns = 0;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (pixl_params_kind(P, i) != PIXL_PARAM || pixl_params_frozen(P, i)) continue;
        segment *s = &seg[ns++];
        s->off = (float *)pixl_params_data(P, i) - val;
        s->n = pixl_params_numel(P, i);
        double lr = (double)opt->lr * pixl_params_lr_mult(P, i);
        double wd = (double)opt->o.weight_decay * pixl_params_wd_mult(P, i);
        s->lr = (float)lr;
        s->wd = (float)wd;
        int64_t t = ++opt->estep[i];
        s->first = t == 1;
        if (is_adam(opt)) {
            s->decay = (float)(1.0 - lr * wd);
            double bc1 = 1.0 - pow((double)opt->o.beta1, (double)t), bc2 = 1.0 - pow((double)opt->o.beta2, (double)t);
            s->step_size = (float)(lr / bc1);
            s->bc2_sqrt = (float)sqrt(bc2);
        }
        total += s->n;
    }
    const pixl_optim *co = opt;
    const int nt = opt->o.threads > 0 ? opt->o.threads : pixl_num_threads();
#pragma omp parallel num_threads(nt) if (total >= 32768)
    for (int j = 0; j < ns; j++) {
        const segment *s = &seg[j];
        float *p = val + s->off;
        const float *g = grad + s->off;
        if (is_adam(co)) adam_segment(co, s, p, g, co->s1 + s->off, co->s2 + s->off);
        else sgd_segment(co, s, p, g, co->s1 ? co->s1 + s->off : NULL);
    }
    free(seg);
    opt->steps++;
    return PIXL_OK;
}

/* ------------------------------------------------------------ save / load */

static const char *const SUFFIX_SGD[] = {"momentum_buffer"};
static const char *const SUFFIX_ADAM[] = {"exp_avg", "exp_avg_sq"};

int pixl_optim_save(pixl_optim *opt, const char *path)
{
    if (!opt || !path) return pixl_set_error(PIXL_ERR_ARG, "pixl_optim_save: NULL argument");
    int rc = ensure_state(opt);
    if (rc) return rc;
    pixl_params *P = opt->P;
    pixl_st_writer *w = pixl_st_writer_new();
    if (!w) return PIXL_ERR_NOMEM;
    float *val = pixl_params_data_flat(P, NULL);
    char name[PIXL_NAME_LEN * 2 + 32], num[32];
    int n = pixl_params_count(P);
    for (int i = 0; i < n && !rc; i++) {
        if (pixl_params_kind(P, i) != PIXL_PARAM || opt->estep[i] == 0) continue;
        const char *pn = pixl_params_name(P, i);
        int64_t off = (float *)pixl_params_data(P, i) - val, one = 1;
        if (has_s1(opt)) {
            snprintf(name, sizeof name, "%s.%s", pn, is_adam(opt) ? "exp_avg" : "momentum_buffer");
            rc = pixl_st_writer_add(w, name, PIXL_F32, pixl_params_ndim(P, i), pixl_params_shape(P, i), opt->s1 + off);
        }
        if (!rc && is_adam(opt)) {
            snprintf(name, sizeof name, "%s.exp_avg_sq", pn);
            rc = pixl_st_writer_add(w, name, PIXL_F32, pixl_params_ndim(P, i), pixl_params_shape(P, i), opt->s2 + off);
        }
        if (!rc) {
            snprintf(name, sizeof name, "%s.step", pn);
            rc = pixl_st_writer_add(w, name, PIXL_I64, 1, &one, &opt->estep[i]);
        }
    }
    snprintf(num, sizeof num, "%lld", (long long)opt->steps);
    if (!rc) rc = pixl_st_writer_meta(w, "format", "pixl-optim");
    if (!rc) rc = pixl_st_writer_meta(w, "kind", kind_name(opt->o.kind));
    if (!rc) rc = pixl_st_writer_meta(w, "step", num);
    snprintf(num, sizeof num, "%.9g", (double)opt->lr);
    if (!rc) rc = pixl_st_writer_meta(w, "lr", num);
    if (!rc) rc = pixl_st_writer_save(w, path);
    pixl_st_writer_free(w);
    return rc;
}

static int is_float_dtype(const char *d)
{
    return !strcmp(d, "F32") || !strcmp(d, "F64") || !strcmp(d, "F16") || !strcmp(d, "BF16");
}

static int parse_count(const char *s, int64_t *out)
{
    if (!s || !*s) return 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 0) return 0;
    *out = v;
    return 1;
}

/* Every check (names, shapes, dtypes, kind, step values) happens before the
 * optimizer's state is touched: on failure the state is unchanged. */
int pixl_optim_load(pixl_optim *opt, const char *path) { return pixl_optim_load_ex(opt, path, 0); }

int pixl_optim_load_ex(pixl_optim *opt, const char *path, unsigned flags)
{
    if (!opt || !path) return pixl_set_error(PIXL_ERR_ARG, "pixl_optim_load: NULL argument");
    float *scratch = NULL; /* one state tensor's values, scanned for NaN/Inf */
    int64_t scratch_cap = 0;
    int rc = ensure_state(opt);
    if (rc) return rc;
    pixl_st_file *f = pixl_st_open(path);
    if (!f) return pixl_last_status() ? pixl_last_status() : PIXL_ERR_IO;
    pixl_params *P = opt->P;
    int n = pixl_params_count(P), nf = pixl_st_count(f);
    const char *const *suf = is_adam(opt) ? SUFFIX_ADAM : SUFFIX_SGD;
    int nsuf = is_adam(opt) ? 2 : (has_s1(opt) ? 1 : 0);
    char *used = pixl__calloc((size_t)(nf ? nf : 1), 1);
    int64_t *newstep = pixl__calloc((size_t)(n ? n : 1), sizeof *newstep);
    int *idx = pixl__calloc((size_t)(n ? n : 1) * 2, sizeof *idx); /* file index of s1/s2 per entry, -1 */
    char name[PIXL_NAME_LEN * 2 + 32], a[128], b[128];
    int64_t gstep = 0;
    if (!used || !newstep || !idx) {
        rc = PIXL_ERR_NOMEM;
        goto done;
    }
    const char *kind = pixl_st_meta(f, "kind");
    if (kind && strcmp(kind, kind_name(opt->o.kind))) {
        rc = pixl_set_error(PIXL_ERR_FORMAT, "%s: optimizer state of kind '%s', this optimizer is '%s'", path, kind,
                            kind_name(opt->o.kind));
        goto done;
    }
    if (!parse_count(pixl_st_meta(f, "step"), &gstep)) {
        rc = pixl_set_error(PIXL_ERR_FORMAT, "%s: no valid \"step\" metadata (not an optimizer state file?)", path);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        idx[2 * i] = idx[2 * i + 1] = -1;
        if (pixl_params_kind(P, i) != PIXL_PARAM) continue;
        const char *pn = pixl_params_name(P, i);
        int nd = pixl_params_ndim(P, i);
        const int64_t *sh = pixl_params_shape(P, i);
        int found = 0;
        for (int s = 0; s < nsuf; s++) {
            snprintf(name, sizeof name, "%s.%s", pn, suf[s]);
            int j = pixl_st_find(f, name);
            if (j < 0) continue;
            used[j] = 1;
            found++;
            idx[2 * i + s] = j;
            int same = pixl_st_ndim(f, j) == nd;
            for (int d = 0; same && d < nd; d++) same = pixl_st_shape(f, j)[d] == sh[d];
            if (!same) {
                rc = pixl_set_error(PIXL_ERR_SHAPE, "%s: tensor '%s' has shape %s, parameter '%s' has shape %s", path,
                                    name, pixl_shape_str(pixl_st_ndim(f, j), pixl_st_shape(f, j), a, sizeof a), pn,
                                    pixl_shape_str(nd, sh, b, sizeof b));
                goto done;
            }
            if (!is_float_dtype(pixl_st_dtype(f, j))) {
                rc = pixl_set_error(PIXL_ERR_FORMAT, "%s: tensor '%s' has dtype %s, expected a float type", path, name,
                                    pixl_st_dtype(f, j));
                goto done;
            }
            if (!(flags & PIXL_LOAD_ALLOW_NONFINITE) &&
                (rc = pixl__st_check_finite(f, j, "optimizer state", path, name, pixl_st_numel(f, j), &scratch,
                                            &scratch_cap,
                                            "the run diverged before this checkpoint: resume from an earlier one, "
                                            "or with training.resume_allow_nonfinite")))
                goto done;
        }
        if (found && found != nsuf) {
            rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "%s: parameter '%s' has '%s.%s' but not '%s.%s'", path, pn, pn,
                                idx[2 * i] >= 0 ? suf[0] : suf[1], pn, idx[2 * i] >= 0 ? suf[1] : suf[0]);
            goto done;
        }
        snprintf(name, sizeof name, "%s.step", pn);
        int j = pixl_st_find(f, name);
        if (j >= 0) {
            used[j] = 1;
            int64_t st = -1;
            if (pixl_st_numel(f, j) != 1 || pixl_st_read_i64(f, j, &st) || st < 0) {
                rc = pixl_set_error(PIXL_ERR_FORMAT, "%s: tensor '%s' must be one non-negative integer", path, name);
                goto done;
            }
            if (nsuf && !found && st > 0) {
                rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "%s: '%s' = %lld but the state tensors of '%s' are missing",
                                    path, name, (long long)st, pn);
                goto done;
            }
            newstep[i] = st;
        } else if (found) {
            newstep[i] = gstep > 0 ? gstep : 1; /* files without per-parameter steps */
        }
    }
    for (int j = 0; j < nf; j++)
        if (!used[j]) {
            rc = pixl_set_error(PIXL_ERR_NOT_FOUND,
                                "%s: tensor '%s' matches no %s state of a trainable parameter of the model", path,
                                pixl_st_name(f, j), kind_name(opt->o.kind));
            goto done;
        }
    /* all checks passed: replace the state (float reads cannot fail now) */
    if (opt->s1) memset(opt->s1, 0, (size_t)opt->n_state * sizeof(float));
    if (opt->s2) memset(opt->s2, 0, (size_t)opt->n_state * sizeof(float));
    float *val = pixl_params_data_flat(P, NULL);
    for (int i = 0; i < n; i++) {
        opt->estep[i] = newstep[i];
        if (pixl_params_kind(P, i) != PIXL_PARAM) continue;
        int64_t off = (float *)pixl_params_data(P, i) - val;
        if (idx[2 * i] >= 0) pixl_st_read_f32(f, idx[2 * i], opt->s1 + off);
        if (idx[2 * i + 1] >= 0) pixl_st_read_f32(f, idx[2 * i + 1], opt->s2 + off);
    }
    opt->steps = gstep;
done:
    free(scratch);
    free(used);
    free(newstep);
    free(idx);
    pixl_st_close(f);
    return rc;
}
