/* model.c — pixl_model: a network as one object (architecture, options,
 * parameters, normalisation, class names and colours), saved to and loaded
 * from safetensors checkpoints whose metadata describe it, with cached
 * inference graphs per input size. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>

#include "models_impl.h"

struct pixl_model {
    char arch[64];
    char variant[1024]; /* pixelnet variants list taps and layers */
    char backbone[64];
    pixl_pn_head_opts head; /* pixelnet's typed head, when created with one */
    pixl_crf_opts crf;      /* the PacCRF of o.crf */
    char crf_text[512];     /* o.crf as pixl_crf_format's pairs ("" = no CRF), saved as metadata "crf" */
    pixl_pag_opts pag;      /* the gates of o.pag */
    char pag_text[1024];    /* o.pag as pixl_pag_format's pairs, saved as metadata "pag" */
    pixl_model_opts o;
    pixl_params *P;
    float mean[3], std[3];
    char **names;
    uint8_t *colours;
    int in_h, in_w;
    int threads; /* pixl_model_set_threads; 0 = the process default */
    /* cached inference graph */
    pixl_ctx *ctx;
    int cn, ch, cw;
    pixl_tensor *cx, *clogits;
    float *flipbuf;
};

static void drop_cache(pixl_model *m)
{
    pixl_ctx_free(m->ctx);
    m->ctx = NULL;
    m->cx = m->clogits = NULL;
    free(m->flipbuf);
    m->flipbuf = NULL;
}

void pixl_model_free(pixl_model *m)
{
    if (!m) return;
    drop_cache(m);
    pixl_params_free(m->P);
    for (int i = 0; m->names && i < m->o.n_classes; i++) free(m->names[i]);
    free(m->names);
    free(m->colours);
    free(m);
}

/* Build once (and discard the graph) to create the parameters; aux = 1 adds
 * those of the auxiliary heads, which only training graphs use. */
static int create_params(pixl_model *m, int aux)
{
    pixl_ctx *ctx = pixl_ctx_new(m->P, PIXL_MODE_EVAL);
    int side = pixl__model_min_size(m->arch) > 64 ? pixl__model_min_size(m->arch) : 64;
    int64_t s[4] = {1, m->o.in_channels, side, side};
    pixl_model_opts o = m->o;
    o.aux = aux;
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    pixl_tensor *y = pixl_model_build(ctx, m->arch, x, &o);
    int rc = y ? PIXL_OK : pixl_set_error(PIXL_ERR_ARG, "%s", pixl_ctx_error(ctx));
    pixl_ctx_free(ctx);
    return rc;
}

/* Options that make no sense are errors naming the option, not replaced by
 * the default: 0 means the default, anything else must be in range. */
int pixl__model_opts_check(const char *arch, const pixl_model_opts *o)
{
    const char *a = arch ? arch : "(null)";
    if (!o) return PIXL_OK;
    if (o->n_classes < 0 || o->n_classes > 65536)
        return pixl_set_error(PIXL_ERR_ARG, "model '%s': n_classes %d outside 1..65536 (0 = the default, 11)", a,
                              o->n_classes);
    if (o->in_channels < 0 || o->in_channels > 4096)
        return pixl_set_error(PIXL_ERR_ARG, "model '%s': in_channels %d outside 1..4096 (0 = the default, 3)", a,
                              o->in_channels);
    if (!(o->width >= 0 && o->width <= 64)) /* NaN fails too */
        return pixl_set_error(PIXL_ERR_ARG, "model '%s': width %g outside (0, 64] (0 = the default, 1)", a,
                              (double)o->width);
    if (o->output_stride < 0 || o->output_stride > 64)
        return pixl_set_error(PIXL_ERR_ARG, "model '%s': output_stride %d outside 1..64 (0 = the model's default)", a,
                              o->output_stride);
    return PIXL_OK;
}

pixl_model *pixl_model_create(const char *arch, const pixl_model_opts *o, uint64_t seed)
{
    if (pixl__model_opts_check(arch, o)) return NULL;
    pixl_model *m = pixl__calloc(1, sizeof *m);
    if (!m) return NULL;
    snprintf(m->arch, sizeof m->arch, "%s", arch ? arch : "");
    m->o = o ? *o : (pixl_model_opts){0};
    if (m->o.n_classes <= 0) m->o.n_classes = 11;
    if (m->o.in_channels <= 0) m->o.in_channels = 3;
    if (m->o.width <= 0) m->o.width = 1;
    if (m->o.variant) snprintf(m->variant, sizeof m->variant, "%s", m->o.variant);
    if (m->o.head) { /* a typed head is saved as its variant string, which loads back to the same head */
        m->head = *m->o.head;
        m->o.head = &m->head;
        if (pixl_pn_head_format(&m->head, m->variant, sizeof m->variant)) {
            free(m);
            return NULL;
        }
    }
    m->o.variant = m->variant[0] ? m->variant : NULL;
    if (m->o.crf) { /* saved as its pairs, which load back to the same CRF */
        m->crf = *m->o.crf;
        m->o.crf = &m->crf;
        if (pixl_crf_format(&m->crf, m->crf_text, sizeof m->crf_text)) {
            free(m);
            return NULL;
        }
    } else {
        m->o.crf_frozen = 0;
    }
    if (m->o.pag) { /* saved as its pairs, which load back to the same gates */
        m->pag = *m->o.pag;
        m->o.pag = &m->pag;
        if (pixl_pag_check(&m->pag) || pixl_pag_format(&m->pag, m->pag_text, sizeof m->pag_text)) {
            free(m);
            return NULL;
        }
    }
    if (m->o.backbone) snprintf(m->backbone, sizeof m->backbone, "%s", m->o.backbone);
    m->o.backbone = m->backbone[0] ? m->backbone : NULL;
    m->o.aux = 0; /* auxiliary heads belong to training graphs only */
    for (int c = 0; c < 3; c++) {
        m->mean[c] = 0.5f;
        m->std[c] = 0.25f;
    }
    m->P = pixl_params_new();
    if (!m->P) {
        free(m);
        return NULL;
    }
    pixl_params_seed(m->P, seed);
    if (create_params(m, 0) != PIXL_OK) {
        pixl_model_free(m);
        return NULL;
    }
    return m;
}

pixl_params *pixl_model_params(pixl_model *m) { return m->P; }
const char *pixl_model_arch(const pixl_model *m) { return m->arch; }
const pixl_model_opts *pixl_model_options(const pixl_model *m) { return &m->o; }
int pixl_model_n_classes(const pixl_model *m) { return m->o.n_classes; }
const float *pixl_model_mean(const pixl_model *m) { return m->mean; }
const float *pixl_model_std(const pixl_model *m) { return m->std; }
const uint8_t *pixl_model_colours(const pixl_model *m) { return m->colours; }
const char *pixl_model_class_name(const pixl_model *m, int k)
{
    return m->names && k >= 0 && k < m->o.n_classes ? m->names[k] : NULL;
}

void pixl_model_set_norm(pixl_model *m, const float mean[3], const float std[3])
{
    for (int c = 0; c < 3; c++) {
        m->mean[c] = mean[c];
        m->std[c] = std[c];
    }
}

int pixl_model_set_classes(pixl_model *m, const char *const *names, const uint8_t *colours)
{
    int K = m->o.n_classes;
    if (names) {
        char **nn = pixl__calloc((size_t)K, sizeof *nn);
        if (!nn) return PIXL_ERR_NOMEM;
        for (int i = 0; i < K; i++) nn[i] = strdup(names[i] ? names[i] : "");
        for (int i = 0; m->names && i < K; i++) free(m->names[i]);
        free(m->names);
        m->names = nn;
    }
    if (colours) {
        uint8_t *c = pixl__malloc((size_t)K * 3);
        if (!c) return PIXL_ERR_NOMEM;
        memcpy(c, colours, (size_t)K * 3);
        free(m->colours);
        m->colours = c;
    }
    return PIXL_OK;
}

void pixl_model_set_input_size(pixl_model *m, int h, int w)
{
    if (m->in_h != h || m->in_w != w) drop_cache(m);
    m->in_h = h > 0 ? h : 0;
    m->in_w = w > 0 ? w : 0;
}

void pixl_model_set_threads(pixl_model *m, int n)
{
    if (!m || m->threads == (n > 0 ? n : 0)) return;
    drop_cache(m); /* the cached graph is planned for the old count */
    m->threads = n > 0 ? n : 0;
}

/* ------------------------------------------------------------------ files */
int pixl_model_save(pixl_model *m, const char *path, int n_meta, const char *const *keys, const char *const *values)
{
    char buf[8][64];
    /* class names and colours as compact JSON arrays (["sky","road"], [128,128,128,...]) */
    pixl_json jn = {0}, jc = {0};
    pixl_json_set_layout(&jn, PIXL_JSON_COMPACT);
    pixl_json_set_layout(&jc, PIXL_JSON_COMPACT);
    pixl_json_begin_array(&jn, NULL);
    pixl_json_begin_array(&jc, NULL);
    for (int k = 0; k < m->o.n_classes; k++) {
        pixl_json_str(&jn, NULL, m->names ? m->names[k] : "");
        if (m->colours)
            for (int c = 0; c < 3; c++) pixl_json_int(&jc, NULL, m->colours[3 * k + c]);
    }
    pixl_json_end_array(&jn);
    pixl_json_end_array(&jc);
    char *js_names = pixl_json_finish(&jn, path), *js_cols = pixl_json_finish(&jc, path);
    if (!js_names || !js_cols) {
        free(js_names);
        free(js_cols);
        return pixl_set_error(PIXL_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(buf[0], 64, "%d", m->o.n_classes);
    snprintf(buf[1], 64, "%d", m->o.in_channels);
    snprintf(buf[2], 64, "%.9g", m->o.width);
    snprintf(buf[3], 64, "%.9g,%.9g,%.9g", m->mean[0], m->mean[1], m->mean[2]);
    snprintf(buf[4], 64, "%.9g,%.9g,%.9g", m->std[0], m->std[1], m->std[2]);
    snprintf(buf[5], 64, "%d,%d", m->in_h, m->in_w);
    snprintf(buf[6], 64, "%d", m->o.output_stride);
    snprintf(buf[7], 64, "%d", m->o.crf_frozen);
    /* a CRF of the options: "crf" holds its keys (absent or "" = none); a CRF
     * chosen by the compact name is in "arch" */
    const char *k0[] = {"arch", "variant", "n_classes", "in_channels", "width", "mean", "std", "input_size",
                        "class_names", "class_colours", "backbone", "output_stride", "crf", "crf_frozen", "pag"};
    const char *v0[] = {m->arch, m->variant, buf[0], buf[1], buf[2], buf[3], buf[4], buf[5],
                        js_names, js_cols, m->backbone, buf[6], m->crf_text, buf[7], m->pag_text};
    int nk = (int)(sizeof k0 / sizeof k0[0]);
    if (!m->o.pag) nk -= 1; /* PAG options: "pag" holds the keys that differ from the defaults */
    if (!m->o.crf) { /* checkpoints without a typed CRF keep their metadata */
        k0[12] = k0[nk - 1], v0[12] = v0[nk - 1];
        nk -= 2;
    }
    const char **K = pixl__calloc((size_t)(nk + n_meta), sizeof *K), **V = pixl__calloc((size_t)(nk + n_meta), sizeof *V);
    int rc = PIXL_ERR_NOMEM;
    if (K && V) {
        for (int i = 0; i < n_meta; i++) {
            K[i] = keys[i];
            V[i] = values[i];
        }
        for (int i = 0; i < nk; i++) { /* the model's own keys win */
            K[n_meta + i] = k0[i];
            V[n_meta + i] = v0[i];
        }
        rc = pixl_checkpoint_save(m->P, path, nk + n_meta, K, V);
    }
    free(K);
    free(V);
    free(js_names);
    free(js_cols);
    return rc;
}

static int parse3(const char *s, float out[3])
{
    return s && sscanf(s, "%f,%f,%f", &out[0], &out[1], &out[2]) == 3 ? 0 : -1;
}

/* a metadata value that does not parse: the error names the file and the key; closes f */
static pixl_model *meta_fail(pixl_st_file *f, const char *path, const char *key)
{
    char why[512];
    snprintf(why, sizeof why, "%s", pixl_last_error());
    pixl_set_error(PIXL_ERR_FORMAT, "%s: metadata '%s': %s", path, key, why);
    pixl_st_close(f);
    return NULL;
}

/* integer metadata `key` (absent: *out unchanged) in [lo, hi], else an error */
static int meta_int(pixl_st_file *f, const char *key, int lo, int hi, int *out)
{
    const char *v = pixl_st_meta(f, key);
    if (!v) return PIXL_OK;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi)
        return pixl_set_error(PIXL_ERR_FORMAT, "'%.40s' is not an integer in %d..%d", v, lo, hi);
    *out = (int)x;
    return PIXL_OK;
}

pixl_model *pixl_model_load(const char *path) { return pixl_model_load_ex(path, 0); }

pixl_model *pixl_model_load_ex(const char *path, unsigned flags)
{
    pixl_st_file *f = pixl_st_open(path);
    if (!f) return NULL;
    const char *arch = pixl_st_meta(f, "arch"), *nc = pixl_st_meta(f, "n_classes");
    if (!arch || !nc) {
        pixl_set_error(PIXL_ERR_FORMAT, "%s: not a pixl model checkpoint (no 'arch'/'n_classes' metadata)", path);
        pixl_st_close(f);
        return NULL;
    }
    pixl_model_opts o = {0};
    if (meta_int(f, "n_classes", 1, 65536, &o.n_classes)) return meta_fail(f, path, "n_classes");
    if (meta_int(f, "in_channels", 1, 4096, &o.in_channels)) return meta_fail(f, path, "in_channels");
    if (meta_int(f, "output_stride", 0, 64, &o.output_stride)) return meta_fail(f, path, "output_stride");
    if (pixl_st_meta(f, "width")) {
        char *end;
        const char *w = pixl_st_meta(f, "width");
        o.width = strtof(w, &end);
        if (end == w || *end || !(o.width > 0 && o.width <= 64)) {
            pixl_set_error(PIXL_ERR_FORMAT, "'%.40s' is not a width in (0, 64]", w);
            return meta_fail(f, path, "width");
        }
    }
    const char *variant = pixl_st_meta(f, "variant");
    o.variant = variant && variant[0] ? variant : NULL;
    const char *backbone = pixl_st_meta(f, "backbone");
    o.backbone = backbone && backbone[0] ? backbone : NULL;
    pixl_crf_opts crf;
    const char *crf_text = pixl_st_meta(f, "crf");
    if (crf_text && crf_text[0]) {
        if (pixl_crf_parse_pairs(crf_text, &crf)) return meta_fail(f, path, "crf");
        o.crf = &crf;
        o.crf_frozen = pixl_st_meta(f, "crf_frozen") && atoi(pixl_st_meta(f, "crf_frozen"));
    }
    pixl_pag_opts pag;
    const char *pag_text = pixl_st_meta(f, "pag");
    if (pag_text) {
        if (pixl_pag_parse_pairs(pag_text, &pag)) return meta_fail(f, path, "pag");
        o.pag = &pag;
    }
    pixl_model *m = pixl_model_create(arch, &o, 0);
    if (!m) {
        pixl_st_close(f);
        return NULL;
    }
    float mean[3], std[3];
    if (!parse3(pixl_st_meta(f, "mean"), mean) && !parse3(pixl_st_meta(f, "std"), std)) pixl_model_set_norm(m, mean, std);
    int ih = 0, iw = 0;
    if (pixl_st_meta(f, "input_size") && sscanf(pixl_st_meta(f, "input_size"), "%d,%d", &ih, &iw) == 2)
        pixl_model_set_input_size(m, ih, iw);
    cJSON *names = pixl_st_meta(f, "class_names") ? cJSON_Parse(pixl_st_meta(f, "class_names")) : NULL;
    cJSON *cols = pixl_st_meta(f, "class_colours") ? cJSON_Parse(pixl_st_meta(f, "class_colours")) : NULL;
    int K = m->o.n_classes;
    if (cJSON_GetArraySize(names) == K) {
        const char **nn = calloc((size_t)K, sizeof *nn);
        for (int k = 0; nn && k < K; k++) {
            cJSON *it = cJSON_GetArrayItem(names, k);
            nn[k] = cJSON_IsString(it) ? it->valuestring : "";
        }
        if (nn) pixl_model_set_classes(m, nn, NULL);
        free(nn);
    }
    if (cJSON_GetArraySize(cols) == 3 * K) {
        uint8_t *cc = malloc((size_t)K * 3);
        int ok = cc != NULL; /* colours other than numbers 0..255 are ignored, as a list of another length */
        for (int k = 0; ok && k < 3 * K; k++) {
            const cJSON *it = cJSON_GetArrayItem(cols, k);
            ok = cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble <= 255;
            if (ok) cc[k] = (uint8_t)it->valuedouble;
        }
        if (ok) pixl_model_set_classes(m, NULL, cc);
        free(cc);
    }
    cJSON_Delete(names);
    cJSON_Delete(cols);
    /* a checkpoint written by training also holds the parameters of the
     * auxiliary heads (opts.aux): create them too, so that they load (and are
     * saved again); inference graphs do not use them */
    int extra = 0;
    for (int i = 0; i < pixl_st_count(f) && !extra; i++) extra = pixl_params_find(m->P, pixl_st_name(f, i)) < 0;
    pixl_st_close(f);
    if (extra && create_params(m, 1) != PIXL_OK) {
        pixl_model_free(m);
        return NULL;
    }
    if (pixl_checkpoint_load_ex(m->P, path, flags & PIXL_LOAD_ALLOW_NONFINITE)) {
        pixl_model_free(m);
        return NULL;
    }
    return m;
}

/* -------------------------------------------------------------- inference */
static int ensure_graph(pixl_model *m, int n, int h, int w)
{
    if (m->ctx && m->cn == n && m->ch == h && m->cw == w) return PIXL_OK;
    drop_cache(m);
    pixl_ctx *ctx = pixl_ctx_new(m->P, PIXL_MODE_EVAL);
    if (ctx) pixl_ctx_set_threads(ctx, m->threads);
    int64_t s[4] = {n, m->o.in_channels, h, w};
    pixl_tensor *x = pixl_input(ctx, "images", PIXL_F32, 4, s), *xi = x;
    int ih = m->in_h ? m->in_h : h, iw = m->in_w ? m->in_w : w;
    if (ih != h || iw != w) xi = pixl_resize(ctx, x, ih, iw, PIXL_RESIZE_BILINEAR, 0, 0, 0);
    pixl_tensor *y = pixl_model_build(ctx, m->arch, xi, &m->o);
    if (y && (y->shape[2] != h || y->shape[3] != w)) y = pixl_resize(ctx, y, h, w, PIXL_RESIZE_BILINEAR, 0, 0, 0);
    pixl_keep(y);
    if (!y || pixl_ctx_plan(ctx)) {
        int rc = pixl_set_error(pixl_ctx_error(ctx) ? PIXL_ERR_SHAPE : pixl_last_status(), "model %s on %dx%d: %s",
                                m->arch, h, w, pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
        pixl_ctx_free(ctx);
        return rc;
    }
    m->ctx = ctx;
    m->cx = x;
    m->clogits = y;
    m->cn = n;
    m->ch = h;
    m->cw = w;
    return PIXL_OK;
}

static void flip_w(float *dst, const float *src, int64_t planes, int h, int w)
{
    for (int64_t p = 0; p < planes * h; p++)
        for (int x = 0; x < w; x++) dst[p * w + x] = src[p * w + (w - 1 - x)];
}

int pixl_model_predict(pixl_model *m, const float *images, int n, int h, int w, int flip, float *logits,
                       int32_t *labels)
{
    if (!m || !images || n <= 0 || h <= 0 || w <= 0)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_model_predict: invalid arguments");
    int rc = ensure_graph(m, n, h, w);
    if (rc) return rc;
    int K = m->o.n_classes, C = m->o.in_channels;
    size_t in_n = (size_t)n * C * h * w, out_n = (size_t)n * K * h * w;
    float *x = pixl_tensor_data(m->cx), *y = pixl_tensor_data(m->clogits);
    memcpy(x, images, in_n * sizeof(float));
    if ((rc = pixl_forward(m->ctx))) return rc;
    float *acc = logits;
    float *tmp = NULL;
    if (!acc) {
        tmp = pixl__malloc(out_n * sizeof(float));
        if (!tmp) return PIXL_ERR_NOMEM;
        acc = tmp;
    }
    memcpy(acc, y, out_n * sizeof(float));
    if (flip) {
        flip_w(x, images, (int64_t)n * C, h, w);
        if ((rc = pixl_forward(m->ctx))) {
            free(tmp);
            return rc;
        }
        for (int64_t p = 0; p < (int64_t)n * K * h; p++)
            for (int xx = 0; xx < w; xx++) acc[p * w + xx] = 0.5f * (acc[p * w + xx] + y[p * w + (w - 1 - xx)]);
    }
    if (labels) rc = pixl_argmax_channels(acc, n, K, h, w, labels);
    free(tmp);
    return rc;
}
