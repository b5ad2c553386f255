/* cmd_check.c — `pixl check DIR|FILE...`: the conformance runner for
 * reference cases in the safetensors case format (see tools/check.h and
 * ../shared/golden/README.md). One line per case: op, worst error as a
 * percentage of the case's tolerance (and where), pass/fail; then
 * "N passed, N failed". Exit status 1 when any case fails or cannot run. */
#include <dirent.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"

/* ------------------------------------------------------------ registry */
typedef struct { const char *op; check_build_fn fn; } reg_entry;
static reg_entry g_reg[256];
static int g_nreg;

void check_register(const char *op, check_build_fn fn)
{
    if (g_nreg < (int)(sizeof g_reg / sizeof g_reg[0])) g_reg[g_nreg++] = (reg_entry){op, fn};
}

static check_build_fn find_builder(const char *op)
{
    for (int i = 0; i < g_nreg; i++)
        if (!strcmp(g_reg[i].op, op)) return g_reg[i].fn;
    return NULL;
}

/* ----------------------------------------------------------- params access */
static const cJSON *item(const check_case *c, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}
int check_has(const check_case *c, const char *key) { return item(c, key) != NULL; }

int check_only_keys(const check_case *c, const char *const *keys, char *err, size_t errlen)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, c->params)
    {
        int known = 0;
        for (int i = 0; keys[i]; i++)
            if (!strcmp(it->string, keys[i])) known = 1;
        if (!known) {
            snprintf(err, errlen, "%s: unsupported argument '%s'", c->op, it->string);
            return -1;
        }
    }
    return 0;
}
int check_output(pixl_ctx *ctx, check_case *c, pixl_tensor *y, char *err, size_t errlen)
{
    if (!y) {
        snprintf(err, errlen, "%s", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
        return -1;
    }
    c->outputs[0] = y;
    c->n_outputs = 1;
    return 0;
}

int check_as_int(double d, int *out)
{
    if (!(d > (double)INT_MIN - 1.0 && d < (double)INT_MAX + 1.0)) return -1;
    *out = (int)d;
    return 0;
}

/* a number outside int (or NaN) gives INT_MIN, which every builder's range check refuses */
int check_int(const check_case *c, const char *key, int dflt)
{
    const cJSON *v = item(c, key);
    int r = INT_MIN;
    if (cJSON_IsNumber(v)) return check_as_int(v->valuedouble, &r) ? INT_MIN : r;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) >= 1 && cJSON_IsNumber(cJSON_GetArrayItem(v, 0)))
        return check_as_int(cJSON_GetArrayItem(v, 0)->valuedouble, &r) ? INT_MIN : r;
    return dflt;
}
double check_num(const check_case *c, const char *key, double dflt)
{
    const cJSON *v = item(c, key);
    if (cJSON_IsNumber(v)) return v->valuedouble;
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) >= 1 && cJSON_IsNumber(cJSON_GetArrayItem(v, 0)))
        return cJSON_GetArrayItem(v, 0)->valuedouble;
    return dflt;
}
int check_bool(const check_case *c, const char *key, int dflt)
{
    const cJSON *v = item(c, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;
    return dflt;
}
const char *check_str(const check_case *c, const char *key, const char *dflt)
{
    const cJSON *v = item(c, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}
int check_pair(const check_case *c, const char *key, int out[2], int dflt)
{
    const cJSON *v = item(c, key);
    out[0] = out[1] = dflt;
    if (!v) return 0;
    if (cJSON_IsNumber(v)) {
        if (check_as_int(v->valuedouble, &out[0])) return -1;
        out[1] = out[0];
        return 0;
    }
    if (cJSON_IsArray(v)) {
        int n = cJSON_GetArraySize(v);
        if (n < 1 || n > 2) return -1;
        for (int i = 0; i < n; i++)
            if (!cJSON_IsNumber(cJSON_GetArrayItem(v, i))) return -1;
        if (check_as_int(cJSON_GetArrayItem(v, 0)->valuedouble, &out[0]) ||
            check_as_int(cJSON_GetArrayItem(v, n - 1)->valuedouble, &out[1]))
            return -1;
        return 0;
    }
    return -1;
}

/* ------------------------------------------------------------ comparison */
typedef struct {
    double worst;          /* worst |d| / (atol + rtol |ref|) */
    char where[160];
    double rtol, atol;
    int failed;
    char why[512];
} tally;

static void fail_case(tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_case(tally *t, const char *fmt, ...)
{
    if (t->failed) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->why, sizeof t->why, fmt, ap);
    va_end(ap);
    t->failed = 1;
}

static void compare(tally *t, const char *name, const float *ours, const double *ref, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)ours[i] - ref[i]), lim = t->atol + t->rtol * fabs(ref[i]);
        double r = isnan(d) ? INFINITY : d / lim;
        if (r > t->worst) {
            t->worst = r;
            snprintf(t->where, sizeof t->where, "%s[%lld]", name, (long long)i);
        }
    }
}

/* compare file tensor `name` with our float data of `n` elements */
static void compare_named(tally *t, pixl_st_file *f, const char *name, const float *ours, int64_t n)
{
    int i = pixl_st_find(f, name);
    if (i < 0) return;
    if (pixl_st_numel(f, i) != n) {
        fail_case(t, "%s: %lld elements in the case, %lld computed", name, (long long)pixl_st_numel(f, i),
                  (long long)n);
        return;
    }
    double *ref = malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!ref) {
        fail_case(t, "%s: out of memory for %lld reference values", name, (long long)n);
        return;
    }
    pixl_st_read_f64(f, i, ref);
    compare(t, name, ours, ref, n);
    free(ref);
}

static void compare_ints(tally *t, pixl_st_file *f, const char *name, const int64_t *ours, int64_t n)
{
    int i = pixl_st_find(f, name);
    if (pixl_st_numel(f, i) != n) {
        fail_case(t, "%s: %lld elements in the case, %lld computed", name, (long long)pixl_st_numel(f, i),
                  (long long)n);
        return;
    }
    int64_t *ref = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!ref) {
        fail_case(t, "%s: out of memory for %lld reference values", name, (long long)n);
    } else if (pixl_st_read_i64(f, i, ref)) {
        fail_case(t, "%s", pixl_last_error());
    } else {
        for (int64_t k = 0; k < n; k++)
            if (ref[k] != ours[k]) {
                fail_case(t, "%s[%lld]: %lld, expected %lld", name, (long long)k, (long long)ours[k],
                          (long long)ref[k]);
                break;
            }
    }
    free(ref);
}

static void tensor_as_i64(pixl_tensor *x, int64_t *out)
{
    int64_t n = pixl_tensor_numel(x);
    void *d = pixl_tensor_data(x);
    for (int64_t k = 0; k < n; k++) {
        switch (pixl_tensor_dtype(x)) {
        case PIXL_I32: out[k] = ((int32_t *)d)[k]; break;
        case PIXL_I64: out[k] = ((int64_t *)d)[k]; break;
        case PIXL_U8: out[k] = ((uint8_t *)d)[k]; break;
        default: { /* a float output compared as integers: NaN or out of range can match no index */
            const float v = ((float *)d)[k];
            out[k] = v >= -9.2e18f && v <= 9.2e18f ? (int64_t)v : INT64_MIN;
            break;
        }
        }
    }
}

static int is_float_dtype(const char *d) { return d[0] == 'F' || !strcmp(d, "BF16"); }

/* ------------------------------------------------------- values of a case */

/* metadata tolerance `key` (absent: *out unchanged): a finite number >= 0,
 * else the case fails naming the key (a NaN tolerance would pass anything) */
static int tolerance(tally *t, pixl_st_file *f, const char *key, double *out)
{
    const char *v = pixl_st_meta(f, key);
    if (!v) return 0;
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x) || x < 0) {
        fail_case(t, "metadata '%s': '%.40s' is not a finite number >= 0", key, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* The op parameters read as integers: whole numbers in int range; sizes,
 * strides, dilations and group counts >= 1, paddings >= 0. A value that
 * makes no sense fails the case naming the key instead of being read as the
 * default (0 -> 1) or wrapped by the conversion to int. */
int check_params_ranges(const cJSON *params, char *err, size_t errlen)
{
    /* geometry (a kernel, its reach and step) up to 65536 pixels: far above
     * any real layer and far below where k x k x H x W index arithmetic wraps */
    static const struct {
        const char *key;
        int lo, hi;
    } keys[] = {{"stride", 1, 65536},         {"dilation", 1, 65536},     {"kernel_size", 1, 65536},
                {"groups", 1, 1 << 24},       {"num_groups", 1, 1 << 24}, {"num_steps", 1, 1 << 20},
                {"num_channels", 1, 1 << 24}, {"num_features", 1, 1 << 24}, {"in_channels", 1, 1 << 24},
                {"out_channels", 1, 1 << 24}, {"in_features", 1, 1 << 24}, {"out_features", 1, 1 << 24},
                {"padding", 0, 65536},        {"output_padding", 0, 65536}, {"top", 0, 1 << 24},
                {"left", 0, 1 << 24},         {"height", 0, 1 << 24},     {"width", 0, 1 << 24}};
    const cJSON *it;
    cJSON_ArrayForEach(it, params)
    {
        int ki = -1;
        for (int i = 0; i < (int)(sizeof keys / sizeof keys[0]); i++)
            if (!strcmp(it->string, keys[i].key)) ki = i;
        if (ki < 0 || cJSON_IsNull(it)) continue;
        const cJSON *v = it;
        int n = cJSON_IsArray(it) ? cJSON_GetArraySize(it) : 1;
        for (int k = 0; k < n; k++) {
            if (cJSON_IsArray(it)) v = cJSON_GetArrayItem(it, k);
            if (!cJSON_IsNumber(v)) continue; /* the builder reports other kinds */
            double x = v->valuedouble;
            if (!isfinite(x) || x != floor(x) || x < keys[ki].lo || x > keys[ki].hi) {
                snprintf(err, errlen, "params '%s': %.17g (must be a whole number in %d..%d)", it->string, x,
                         keys[ki].lo, keys[ki].hi);
                return -1;
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- one case */
static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int check_run_file(const char *path, int verbose)
{
    tally t = {0};
    t.rtol = t.atol = 1e-4;
    const char *op = "?";
    char opbuf[128] = "?";
    pixl_st_file *f = pixl_st_open(path);
    cJSON *params = NULL, *inputs = NULL;
    pixl_params *P = NULL;
    pixl_ctx *ctx = NULL;
    check_case c = {0};
    float *gout = NULL;
    if (!f) {
        fail_case(&t, "cannot read: %s", pixl_last_error());
        goto report;
    }
    const char *mop = pixl_st_meta(f, "op");
    if (!mop) {
        fail_case(&t, "no 'op' in __metadata__");
        goto report;
    }
    snprintf(opbuf, sizeof opbuf, "%s", mop);
    op = opbuf;
    const char *mp = pixl_st_meta(f, "params"), *mi = pixl_st_meta(f, "inputs");
    params = mp ? cJSON_Parse(mp) : cJSON_CreateObject();
    inputs = mi ? cJSON_Parse(mi) : NULL;
    if (!params || !cJSON_IsObject(params) || !inputs || !cJSON_IsArray(inputs)) {
        fail_case(&t, "metadata 'params' must be a JSON object and 'inputs' a JSON list");
        goto report;
    }
    if (tolerance(&t, f, "rtol_f32", &t.rtol) || tolerance(&t, f, "atol_f32", &t.atol)) goto report;
    {
        char perr[256];
        if (check_params_ranges(params, perr, sizeof perr)) {
            fail_case(&t, "%s", perr);
            goto report;
        }
    }
    check_build_fn fn = find_builder(op);
    if (!fn) {
        fail_case(&t, "cannot run: no builder for op '%s'", op);
        goto report;
    }
    const char *mode = pixl_st_meta(f, "mode");
    c.path = path;
    c.op = op;
    c.params = params;
    c.mode = mode ? mode : "";
    c.file = f;
    P = pixl_params_new();
    /* "eval": evaluation behaviour with gradients; "infer": pixl's inference
     * graph (PIXL_MODE_EVAL, no backward: such cases carry no grad_output) */
    ctx = pixl_ctx_new(P, mode && !strcmp(mode, "eval")    ? PIXL_MODE_EVAL_GRAD
                          : mode && !strcmp(mode, "infer") ? PIXL_MODE_EVAL
                                                           : PIXL_MODE_TRAIN);
    c.n_inputs = cJSON_GetArraySize(inputs);
    if (c.n_inputs > CHECK_MAX_IO) {
        fail_case(&t, "%d inputs (at most %d)", c.n_inputs, CHECK_MAX_IO);
        goto report;
    }
    for (int i = 0; i < c.n_inputs; i++) {
        cJSON *nm = cJSON_GetArrayItem(inputs, i);
        if (!cJSON_IsString(nm)) {
            fail_case(&t, "'inputs' must list tensor names");
            goto report;
        }
        c.input_names[i] = nm->valuestring;
        int k = pixl_st_find(f, nm->valuestring);
        if (k < 0) {
            fail_case(&t, "input '%s' is not in the file", nm->valuestring);
            goto report;
        }
        if (pixl_st_ndim(f, k) > PIXL_MAX_DIMS) {
            fail_case(&t, "input '%s' has %d dims", nm->valuestring, pixl_st_ndim(f, k));
            goto report;
        }
        /* the file's size bounds a tensor's elements, not the sizes of an
         * empty one ([0, 3, 10^6, 10^6]): those would reach the op's
         * workspace arithmetic */
        if (pixl_st_numel(f, k) == 0) {
            double volume = 1;
            for (int d = 0; d < pixl_st_ndim(f, k); d++)
                if (pixl_st_shape(f, k)[d]) volume *= (double)pixl_st_shape(f, k)[d];
            if (volume > (double)(1 << 24)) {
                fail_case(&t, "input '%s': an empty tensor with sizes of %.0f elements besides its 0", nm->valuestring,
                          volume);
                goto report;
            }
        }
        char gname[256];
        snprintf(gname, sizeof gname, "grad.%s", nm->valuestring);
        if (!is_float_dtype(pixl_st_dtype(f, k)))
            c.inputs[i] = pixl_input(ctx, nm->valuestring, PIXL_I32, pixl_st_ndim(f, k), pixl_st_shape(f, k));
        else if (pixl_st_find(f, gname) >= 0)
            c.inputs[i] = pixl_input_grad(ctx, nm->valuestring, pixl_st_ndim(f, k), pixl_st_shape(f, k));
        else
            c.inputs[i] = pixl_input(ctx, nm->valuestring, PIXL_F32, pixl_st_ndim(f, k), pixl_st_shape(f, k));
    }
    char err[512] = "";
    if (fn(ctx, &c, err, sizeof err) || c.n_outputs < 1) {
        fail_case(&t, "cannot build: %s", err[0] ? err : pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
        goto report;
    }
    for (int i = 0; i < c.n_outputs; i++)
        if (!c.outputs[i]) {
            fail_case(&t, "cannot build: %s", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : "NULL output");
            goto report;
        }
    for (int i = 0; i < c.n_outputs; i++) pixl_keep(c.outputs[i]);
    if (pixl_ctx_plan(ctx)) {
        fail_case(&t, "cannot plan: %s", pixl_last_error());
        goto report;
    }
    /* parameters and buffers from the file */
    for (int i = 0; i < pixl_params_count(P); i++) {
        const char *nm = pixl_params_name(P, i);
        int k = pixl_st_find(f, nm);
        if (k < 0) {
            fail_case(&t, "parameter '%s' built by pixl is not in the case", nm);
            goto report;
        }
        if (pixl_st_numel(f, k) != pixl_params_numel(P, i)) {
            fail_case(&t, "parameter '%s': %lld elements in the case, %lld in pixl", nm,
                      (long long)pixl_st_numel(f, k), (long long)pixl_params_numel(P, i));
            goto report;
        }
        int rc = pixl_params_dtype(P, i) == PIXL_F32 ? pixl_st_read_f32(f, k, pixl_params_data(P, i))
                 : pixl_params_dtype(P, i) == PIXL_I64 ? pixl_st_read_i64(f, k, pixl_params_data(P, i))
                                                       : pixl_st_read_i32(f, k, pixl_params_data(P, i));
        if (rc) {
            fail_case(&t, "%s", pixl_last_error());
            goto report;
        }
    }
    for (int i = 0; i < c.n_inputs; i++) {
        int k = pixl_st_find(f, c.input_names[i]);
        int rc = pixl_tensor_dtype(c.inputs[i]) == PIXL_F32 ? pixl_st_read_f32(f, k, pixl_tensor_data(c.inputs[i]))
                                                           : pixl_st_read_i32(f, k, pixl_tensor_data(c.inputs[i]));
        if (rc) {
            fail_case(&t, "%s", pixl_last_error());
            goto report;
        }
    }
    if (pixl_forward(ctx)) {
        fail_case(&t, "forward failed: %s", pixl_last_error());
        goto report;
    }
    /* outputs */
    int grad_out = -1;
    for (int i = 0; i < c.n_outputs; i++) {
        char on[64], gn[64];
        if (c.n_outputs == 1 && pixl_st_find(f, "output") >= 0) {
            snprintf(on, sizeof on, "output");
            snprintf(gn, sizeof gn, "grad_output");
        } else {
            snprintf(on, sizeof on, "output.%d", i);
            snprintf(gn, sizeof gn, "grad_output.%d", i);
        }
        int k = pixl_st_find(f, on);
        if (k < 0) {
            fail_case(&t, "pixl built %d outputs; '%s' is not in the case", c.n_outputs, on);
            goto report;
        }
        pixl_tensor *o = c.outputs[i];
        if (is_float_dtype(pixl_st_dtype(f, k))) {
            if (pixl_tensor_dtype(o) != PIXL_F32) {
                fail_case(&t, "%s: pixl output is %s, the case has floats", on, pixl_dtype_name(pixl_tensor_dtype(o)));
                goto report;
            }
            compare_named(&t, f, on, pixl_tensor_data(o), pixl_tensor_numel(o));
        } else {
            int64_t *iv = malloc(sizeof(int64_t) * (size_t)(pixl_tensor_numel(o) ? pixl_tensor_numel(o) : 1));
            if (!iv) {
                fail_case(&t, "%s: out of memory", on);
                goto report;
            }
            tensor_as_i64(o, iv);
            int64_t nv = pixl_tensor_numel(o);
            if (c.padded[i]) /* a data-dependent length: the entries before the -1 padding */
                for (int64_t e = 0; e < nv; e++)
                    if (iv[e] < 0) {
                        nv = e;
                        break;
                    }
            compare_ints(&t, f, on, iv, nv);
            free(iv);
        }
        if (pixl_st_find(f, gn) >= 0) {
            if (grad_out >= 0) {
                fail_case(&t, "several outputs carry grad_output; not supported");
                goto report;
            }
            grad_out = i;
            int g = pixl_st_find(f, gn);
            if (pixl_st_numel(f, g) != pixl_tensor_numel(o)) {
                fail_case(&t, "%s: size differs from the output", gn);
                goto report;
            }
            gout = malloc(sizeof(float) * (size_t)(pixl_tensor_numel(o) ? pixl_tensor_numel(o) : 1));
            if (!gout) {
                fail_case(&t, "%s: out of memory", gn);
                goto report;
            }
            pixl_st_read_f32(f, g, gout);
        }
    }
    {
        char on[64];
        snprintf(on, sizeof on, "output.%d", c.n_outputs);
        if (pixl_st_find(f, on) >= 0) {
            fail_case(&t, "the case has '%s' but pixl built %d outputs", on, c.n_outputs);
            goto report;
        }
    }
    /* buffers changed by forward */
    for (int k = 0; k < pixl_st_count(f); k++) {
        const char *nm = pixl_st_name(f, k);
        if (strncmp(nm, "after.", 6)) continue;
        int i = pixl_params_find(P, nm + 6);
        if (i < 0) {
            fail_case(&t, "'%s': pixl has no buffer '%s'", nm, nm + 6);
            goto report;
        }
        if (pixl_params_dtype(P, i) == PIXL_F32)
            compare_named(&t, f, nm, pixl_params_data(P, i), pixl_params_numel(P, i));
        else {
            int64_t *iv = malloc(sizeof(int64_t) * (size_t)(pixl_params_numel(P, i) ? pixl_params_numel(P, i) : 1));
            if (!iv) {
                fail_case(&t, "%s: out of memory", nm);
                goto report;
            }
            for (int64_t e = 0; e < pixl_params_numel(P, i); e++)
                iv[e] = pixl_params_dtype(P, i) == PIXL_I64 ? ((int64_t *)pixl_params_data(P, i))[e]
                                                            : ((int32_t *)pixl_params_data(P, i))[e];
            compare_ints(&t, f, nm, iv, pixl_params_numel(P, i));
            free(iv);
        }
    }
    /* backward */
    if (grad_out >= 0) {
        pixl_params_zero_grad(P);
        if (pixl_backward_from(ctx, c.outputs[grad_out], gout)) {
            fail_case(&t, "backward failed: %s", pixl_last_error());
            goto report;
        }
        for (int k = 0; k < pixl_st_count(f); k++) {
            const char *nm = pixl_st_name(f, k);
            if (strncmp(nm, "grad.", 5)) continue;
            const char *target = nm + 5;
            const float *ours = NULL;
            int64_t n = 0;
            for (int i = 0; i < c.n_inputs; i++)
                if (!strcmp(c.input_names[i], target)) {
                    ours = pixl_tensor_grad(c.inputs[i]);
                    n = pixl_tensor_numel(c.inputs[i]);
                }
            int pi = pixl_params_find(P, target);
            if (!ours && pi >= 0) {
                ours = pixl_params_grad(P, pi);
                n = pixl_params_numel(P, pi);
            }
            if (!ours) {
                fail_case(&t, "'%s': pixl computes no gradient for '%s'", nm, target);
                goto report;
            }
            compare_named(&t, f, nm, ours, n);
        }
        /* where the case has no gradient, nothing may flow (unless the case says it
         * stores no parameter gradients: metadata param_grads = "omitted", pixl's own
         * large-model cases, to keep the files small) */
        const char *pg = pixl_st_meta(f, "param_grads");
        for (int i = 0; i < pixl_params_count(P) && !(pg && !strcmp(pg, "omitted")); i++) {
            char gn[300];
            snprintf(gn, sizeof gn, "grad.%s", pixl_params_name(P, i));
            const float *g = pixl_params_grad(P, i);
            if (!g || pixl_st_find(f, gn) >= 0) continue;
            for (int64_t e = 0; e < pixl_params_numel(P, i); e++)
                if (fabs(g[e]) > t.atol) {
                    fail_case(&t, "pixl gives '%s' a gradient (%g) where the case has none", pixl_params_name(P, i),
                              g[e]);
                    break;
                }
        }
    }
report:
    if (!t.failed && t.worst > 1.0)
        fail_case(&t, "worst error %.3g x tolerance at %s", t.worst, t.where);
    printf("%-4s %-40s %-22s worst %7.2f%% of tol  %s%s%s\n", t.failed ? "FAIL" : "ok", base_name(path), op,
           100 * t.worst, t.where[0] ? t.where : "-", t.failed ? "  -- " : "", t.failed ? t.why : "");
    if (verbose && !t.failed) fflush(stdout);
    fflush(stdout);
    free(gout);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    cJSON_Delete(params);
    cJSON_Delete(inputs);
    pixl_st_close(f);
    return !t.failed;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int check_run_dir(const char *dir, int verbose)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "pixl check: cannot open directory %s\n", dir);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 12 || strcmp(de->d_name + l - 12, ".safetensors")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, sizeof(char *) * (size_t)cap);
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), cmp_str);
    int passed = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (check_run_file(path, verbose)) passed++;
        else failed++;
        free(names[i]);
    }
    free(names);
    if (!n) {
        fprintf(stderr, "pixl check: no .safetensors cases in %s\n", dir);
        failed = 1;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed;
}
