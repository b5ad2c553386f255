/* safetensors.c — read and write the safetensors format: an 8-byte
 * little-endian header length, a JSON header {name: {dtype, shape,
 * data_offsets}, "__metadata__": {str: str}}, then raw little-endian data.
 * The reader validates everything (header size, JSON, dtypes, shapes,
 * offsets inside the data and not overlapping) before handing out a tensor;
 * the writer writes through pixl_atomic_begin()/pixl_atomic_commit(). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pixl_impl.h"

typedef struct {
    char *name;
    char dtype[8];
    int esize;
    int ndim;
    int64_t shape[8];
    int64_t numel;
    int64_t begin, end;
} st_entry;

struct pixl_st_file {
    char *path;
    unsigned char *bytes; /* the whole file, mapped read-only */
    size_t size;
    const unsigned char *data; /* start of the data region */
    size_t data_size;
    st_entry *e;
    int n;
    char **meta_k, **meta_v;
    int n_meta;
};

static int dtype_esize(const char *d)
{
    if (!strcmp(d, "F64") || !strcmp(d, "I64") || !strcmp(d, "U64")) return 8;
    if (!strcmp(d, "F32") || !strcmp(d, "I32") || !strcmp(d, "U32")) return 4;
    if (!strcmp(d, "F16") || !strcmp(d, "BF16") || !strcmp(d, "I16") || !strcmp(d, "U16")) return 2;
    if (!strcmp(d, "I8") || !strcmp(d, "U8") || !strcmp(d, "BOOL")) return 1;
    return 0;
}

static int cmp_begin(const void *a, const void *b)
{
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

void pixl_st_close(pixl_st_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->e[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_k[i]);
        free(f->meta_v[i]);
    }
    free(f->meta_k);
    free(f->meta_v);
    free(f->e);
    if (f->bytes) munmap(f->bytes, f->size);
    free(f->path);
    free(f);
}

static pixl_st_file *fail(pixl_st_file *f, cJSON *j, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static pixl_st_file *fail(pixl_st_file *f, cJSON *j, int code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pixl_set_error(code, "%s: %s", f && f->path ? f->path : "safetensors", buf);
    cJSON_Delete(j);
    pixl_st_close(f);
    return NULL;
}

pixl_st_file *pixl_st_open(const char *path)
{
    if (!path) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_st_open: NULL path");
        return NULL;
    }
    pixl_st_file *f = pixl__calloc(1, sizeof *f);
    if (!f) return NULL;
    f->path = strdup(path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fail(f, NULL, PIXL_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(f, NULL, PIXL_ERR_IO, "not a regular file");
    }
    f->size = (size_t)st.st_size;
    /* the file is mapped, not read: opening a large checkpoint for its
     * metadata touches only the header pages */
    if (f->size) {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            return fail(f, NULL, PIXL_ERR_IO, "cannot map %zu bytes: %s", f->size, strerror(errno));
        }
        f->bytes = m;
    }
    close(fd);
    if (f->size < 8) return fail(f, NULL, PIXL_ERR_FORMAT, "truncated: %zu bytes, no header length", f->size);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | f->bytes[i];
    if (hl > f->size - 8)
        return fail(f, NULL, PIXL_ERR_FORMAT, "truncated or corrupt: header length %llu but file has %zu bytes",
                    (unsigned long long)hl, f->size);
    f->data = f->bytes + 8 + hl;
    f->data_size = f->size - 8 - (size_t)hl;
    cJSON *j = cJSON_ParseWithLength((const char *)f->bytes + 8, (size_t)hl);
    if (!j || !cJSON_IsObject(j)) return fail(f, j, PIXL_ERR_FORMAT, "corrupt header: not a JSON object");
    int count = cJSON_GetArraySize(j);
    f->e = pixl__calloc((size_t)(count ? count : 1), sizeof *f->e);
    if (!f->e) return fail(f, j, PIXL_ERR_NOMEM, "out of memory");
    for (cJSON *it = j->child; it; it = it->next) {
        if (!it->string) return fail(f, j, PIXL_ERR_FORMAT, "corrupt header: unnamed entry");
        if (!strcmp(it->string, "__metadata__")) {
            if (!cJSON_IsObject(it)) return fail(f, j, PIXL_ERR_FORMAT, "__metadata__ is not an object");
            if (f->meta_k) return fail(f, j, PIXL_ERR_FORMAT, "__metadata__ appears twice in the header");
            int m = cJSON_GetArraySize(it);
            f->meta_k = pixl__calloc((size_t)(m ? m : 1), sizeof(char *));
            f->meta_v = pixl__calloc((size_t)(m ? m : 1), sizeof(char *));
            if (!f->meta_k || !f->meta_v) return fail(f, j, PIXL_ERR_NOMEM, "out of memory");
            for (cJSON *kv = it->child; kv; kv = kv->next) {
                if (!cJSON_IsString(kv))
                    return fail(f, j, PIXL_ERR_FORMAT, "metadata '%s' is not a string", kv->string);
                f->meta_k[f->n_meta] = strdup(kv->string);
                f->meta_v[f->n_meta] = strdup(kv->valuestring);
                f->n_meta++;
            }
            continue;
        }
        for (int k = 0; k < f->n; k++)
            if (!strcmp(f->e[k].name, it->string))
                return fail(f, j, PIXL_ERR_FORMAT, "tensor '%s' appears twice in the header", it->string);
        st_entry *e = &f->e[f->n];
        e->name = strdup(it->string);
        f->n++;
        cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        cJSON *of = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2)
            return fail(f, j, PIXL_ERR_FORMAT, "tensor '%s': header entry lacks dtype/shape/data_offsets", e->name);
        e->esize = dtype_esize(dt->valuestring);
        if (!e->esize) return fail(f, j, PIXL_ERR_FORMAT, "tensor '%s': unknown dtype '%s'", e->name, dt->valuestring);
        snprintf(e->dtype, sizeof e->dtype, "%s", dt->valuestring);
        e->ndim = cJSON_GetArraySize(sh);
        if (e->ndim > 8) return fail(f, j, PIXL_ERR_FORMAT, "tensor '%s': %d dimensions", e->name, e->ndim);
        /* the element count, overflow-checked; the product of the non-zero
         * sizes too, so that an empty tensor can not carry sizes like
         * [0, 2^40, 2^40] into the shape arithmetic of its users */
        e->numel = 1;
        int64_t volume = 1;
        int d = 0;
        char shape_txt[160];
        size_t so = (size_t)snprintf(shape_txt, sizeof shape_txt, "[");
        for (cJSON *s = sh->child; s; s = s->next, d++) {
            if (!cJSON_IsNumber(s) || s->valuedouble < 0 || s->valuedouble > 1e15 ||
                s->valuedouble != floor(s->valuedouble))
                return fail(f, j, PIXL_ERR_FORMAT, "tensor '%s': invalid shape entry", e->name);
            e->shape[d] = (int64_t)s->valuedouble;
            if (so < sizeof shape_txt)
                so += (size_t)snprintf(shape_txt + so, sizeof shape_txt - so, "%s%lld", d ? ", " : "",
                                       (long long)e->shape[d]);
            if (e->shape[d] && volume > INT64_MAX / 16 / e->shape[d])
                return fail(f, j, PIXL_ERR_FORMAT, "tensor '%s': shape overflows (more than 2^59 elements)", e->name);
            if (e->shape[d]) volume *= e->shape[d];
            e->numel *= e->shape[d];
        }
        if (so < sizeof shape_txt) snprintf(shape_txt + so, sizeof shape_txt - so, "]");
        /* no tensor is larger than the data the file holds (so no reader allocates more than the file's size) */
        if ((uint64_t)e->numel * (uint64_t)e->esize > (uint64_t)f->data_size)
            return fail(f, j, PIXL_ERR_FORMAT,
                        "tensor '%s': shape %s is %lld elements of %s (%llu bytes), more than the %zu data bytes of "
                        "the file",
                        e->name, shape_txt, (long long)e->numel, e->dtype,
                        (unsigned long long)e->numel * (unsigned long long)e->esize, f->data_size);
        cJSON *b0 = cJSON_GetArrayItem(of, 0), *b1 = cJSON_GetArrayItem(of, 1);
        /* offsets: whole numbers, 0 <= begin <= end <= the data size, compared
         * as doubles first (any JSON number), then exactly as integers */
        if (!cJSON_IsNumber(b0) || !cJSON_IsNumber(b1) || !(b0->valuedouble >= 0) ||
            !(b1->valuedouble >= b0->valuedouble) || !(b1->valuedouble <= (double)f->data_size) ||
            b0->valuedouble != floor(b0->valuedouble) || b1->valuedouble != floor(b1->valuedouble) ||
            (uint64_t)b1->valuedouble > (uint64_t)f->data_size)
            return fail(f, j, PIXL_ERR_FORMAT,
                        "tensor '%s': data_offsets outside the %zu data bytes (truncated or corrupt file)", e->name,
                        f->data_size);
        e->begin = (int64_t)b0->valuedouble;
        e->end = (int64_t)b1->valuedouble;
        if (e->end - e->begin != e->numel * e->esize)
            return fail(f, j, PIXL_ERR_FORMAT, "tensor '%s': %lld data bytes for %lld elements of %s", e->name,
                        (long long)(e->end - e->begin), (long long)e->numel, e->dtype);
    }
    cJSON_Delete(j);
    /* no two tensors may share bytes */
    st_entry **order = pixl__calloc((size_t)(f->n ? f->n : 1), sizeof *order);
    if (!order) return fail(f, NULL, PIXL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < f->n; i++) order[i] = &f->e[i];
    qsort(order, (size_t)f->n, sizeof *order, cmp_begin);
    for (int i = 1; i < f->n; i++)
        if (order[i]->begin < order[i - 1]->end && order[i]->end > order[i]->begin) {
            char a[PIXL_NAME_LEN], b[PIXL_NAME_LEN];
            snprintf(a, sizeof a, "%s", order[i - 1]->name);
            snprintf(b, sizeof b, "%s", order[i]->name);
            free(order);
            return fail(f, NULL, PIXL_ERR_FORMAT, "tensors '%s' and '%s' overlap", a, b);
        }
    free(order);
    return f;
}

int pixl_st_count(const pixl_st_file *f) { return f ? f->n : 0; }
const char *pixl_st_name(const pixl_st_file *f, int i) { return f->e[i].name; }
int pixl_st_find(const pixl_st_file *f, const char *name)
{
    for (int i = 0; f && i < f->n; i++)
        if (!strcmp(f->e[i].name, name)) return i;
    return -1;
}
const char *pixl_st_dtype(const pixl_st_file *f, int i) { return f->e[i].dtype; }
int pixl_st_ndim(const pixl_st_file *f, int i) { return f->e[i].ndim; }
const int64_t *pixl_st_shape(const pixl_st_file *f, int i) { return f->e[i].shape; }
int64_t pixl_st_numel(const pixl_st_file *f, int i) { return f->e[i].numel; }
const char *pixl_st_meta(const pixl_st_file *f, const char *key)
{
    for (int i = 0; f && i < f->n_meta; i++)
        if (!strcmp(f->meta_k[i], key)) return f->meta_v[i];
    return NULL;
}

static float half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, bits;
    if (e == 0) {
        if (!m) bits = s;
        else { /* subnormal */
            e = 127 - 15 + 1;
            while (!(m & 1024)) {
                m <<= 1;
                e--;
            }
            bits = s | e << 23 | (m & 1023) << 13;
        }
    } else if (e == 31) bits = s | 0x7f800000u | m << 13;
    else bits = s | (e - 15 + 127) << 23 | m << 13;
    float r;
    memcpy(&r, &bits, 4);
    return r;
}

/* element k of tensor i as double (any dtype) */
static double elem(const pixl_st_file *f, const st_entry *e, int64_t k)
{
    const unsigned char *p = f->data + e->begin + k * e->esize;
    const char *d = e->dtype;
    if (!strcmp(d, "F64")) { double v; memcpy(&v, p, 8); return v; }
    if (!strcmp(d, "F32")) { float v; memcpy(&v, p, 4); return v; }
    if (!strcmp(d, "F16")) { uint16_t v; memcpy(&v, p, 2); return half_to_float(v); }
    if (!strcmp(d, "BF16")) { uint16_t v; memcpy(&v, p, 2); uint32_t b = (uint32_t)v << 16; float r; memcpy(&r, &b, 4); return r; }
    if (!strcmp(d, "I64")) { int64_t v; memcpy(&v, p, 8); return (double)v; }
    if (!strcmp(d, "I32")) { int32_t v; memcpy(&v, p, 4); return v; }
    if (!strcmp(d, "I16")) { int16_t v; memcpy(&v, p, 2); return v; }
    if (!strcmp(d, "U64")) { uint64_t v; memcpy(&v, p, 8); return (double)v; }
    if (!strcmp(d, "U32")) { uint32_t v; memcpy(&v, p, 4); return v; }
    if (!strcmp(d, "U16")) { uint16_t v; memcpy(&v, p, 2); return v; }
    if (!strcmp(d, "I8")) return (double)(int8_t)*p;
    return (double)*p; /* U8, BOOL */
}

static int is_int(const char *d) { return d[0] == 'I' || d[0] == 'U' || !strcmp(d, "BOOL"); }

int pixl_st_read_f32(const pixl_st_file *f, int i, float *out)
{
    const st_entry *e = &f->e[i];
    if (!strcmp(e->dtype, "F32")) {
        memcpy(out, f->data + e->begin, (size_t)e->numel * 4);
        return PIXL_OK;
    }
    for (int64_t k = 0; k < e->numel; k++) out[k] = (float)elem(f, e, k);
    return PIXL_OK;
}

int pixl_st_read_f64(const pixl_st_file *f, int i, double *out)
{
    const st_entry *e = &f->e[i];
    for (int64_t k = 0; k < e->numel; k++) out[k] = elem(f, e, k);
    return PIXL_OK;
}

int pixl_st_read_i64(const pixl_st_file *f, int i, int64_t *out)
{
    const st_entry *e = &f->e[i];
    if (!is_int(e->dtype))
        return pixl_set_error(PIXL_ERR_FORMAT, "%s: tensor '%s' is %s, expected an integer type", f->path, e->name,
                              e->dtype);
    for (int64_t k = 0; k < e->numel; k++) {
        if (!strcmp(e->dtype, "I64") || !strcmp(e->dtype, "U64")) memcpy(&out[k], f->data + e->begin + k * 8, 8);
        else out[k] = (int64_t)elem(f, e, k);
    }
    return PIXL_OK;
}

int pixl_st_read_i32(const pixl_st_file *f, int i, int32_t *out)
{
    const st_entry *e = &f->e[i];
    if (!is_int(e->dtype))
        return pixl_set_error(PIXL_ERR_FORMAT, "%s: tensor '%s' is %s, expected an integer type", f->path, e->name,
                              e->dtype);
    for (int64_t k = 0; k < e->numel; k++) {
        double v = elem(f, e, k);
        if (v < INT32_MIN || v > INT32_MAX)
            return pixl_set_error(PIXL_ERR_FORMAT, "%s: tensor '%s' element %lld = %.0f does not fit int32", f->path,
                                  e->name, (long long)k, v);
        out[k] = (int32_t)v;
    }
    return PIXL_OK;
}

/* ------------------------------------------------------------------ writer */
typedef struct {
    char *name;
    pixl_dtype dtype;
    int ndim;
    int64_t shape[PIXL_MAX_DIMS];
    size_t bytes;
    void *data;
} wt_entry;

struct pixl_st_writer {
    wt_entry *e;
    int n, cap;
    char **meta_k, **meta_v; /* __metadata__ in the order it is written */
    int n_meta, cap_meta;
};

pixl_st_writer *pixl_st_writer_new(void) { return pixl__calloc(1, sizeof(pixl_st_writer)); }

void pixl_st_writer_free(pixl_st_writer *w)
{
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->e[i].name);
        free(w->e[i].data);
    }
    free(w->e);
    for (int i = 0; i < w->n_meta; i++) {
        free(w->meta_k[i]);
        free(w->meta_v[i]);
    }
    free(w->meta_k);
    free(w->meta_v);
    free(w);
}

static const char *st_dtype(pixl_dtype d)
{
    switch (d) {
    case PIXL_F32: return "F32";
    case PIXL_I32: return "I32";
    case PIXL_I64: return "I64";
    case PIXL_U8: return "U8";
    }
    return NULL;
}

int pixl_st_writer_add(pixl_st_writer *w, const char *name, pixl_dtype dtype, int ndim, const int64_t *shape,
                       const void *data)
{
    if (!w || !name || !st_dtype(dtype) || ndim < 0 || ndim > PIXL_MAX_DIMS || !strcmp(name, "__metadata__"))
        return pixl_set_error(PIXL_ERR_ARG, "safetensors writer: invalid tensor '%s'", name ? name : "(null)");
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->e[i].name, name))
            return pixl_set_error(PIXL_ERR_ARG, "safetensors writer: duplicate tensor '%s'", name);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 32;
        wt_entry *ne = realloc(w->e, (size_t)cap * sizeof *ne);
        if (!ne) return pixl_set_error(PIXL_ERR_NOMEM, "safetensors writer: out of memory");
        w->e = ne;
        w->cap = cap;
    }
    wt_entry e = {0};
    e.dtype = dtype;
    e.ndim = ndim;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return pixl_set_error(PIXL_ERR_ARG, "safetensors writer: tensor '%s' bad shape", name);
        e.shape[i] = shape[i];
        n *= shape[i];
    }
    e.bytes = (size_t)n * pixl_dtype_size(dtype);
    e.data = pixl__malloc(e.bytes);
    e.name = strdup(name);
    if (!e.data || !e.name) {
        free(e.data);
        free(e.name);
        return pixl_set_error(PIXL_ERR_NOMEM, "safetensors writer: out of memory for '%s'", name);
    }
    if (e.bytes) memcpy(e.data, data, e.bytes);
    w->e[w->n++] = e;
    return PIXL_OK;
}

int pixl_st_writer_meta(pixl_st_writer *w, const char *key, const char *value)
{
    if (!w || !key || !value) return pixl_set_error(PIXL_ERR_ARG, "safetensors writer: NULL metadata");
    if (w->n_meta == w->cap_meta) {
        int cap = w->cap_meta ? 2 * w->cap_meta : 16;
        char **nk = realloc(w->meta_k, (size_t)cap * sizeof *nk);
        if (nk) w->meta_k = nk;
        char **nv = nk ? realloc(w->meta_v, (size_t)cap * sizeof *nv) : NULL;
        if (nv) w->meta_v = nv;
        if (!nk || !nv) return pixl_set_error(PIXL_ERR_NOMEM, "safetensors writer: out of memory");
        w->cap_meta = cap;
    }
    char *k = pixl__strdup(key), *v = pixl__strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return pixl_set_error(PIXL_ERR_NOMEM, "safetensors writer: out of memory");
    }
    /* a key written again replaces its value and moves to the end */
    for (int i = 0; i < w->n_meta; i++)
        if (!strcmp(w->meta_k[i], key)) {
            free(w->meta_k[i]);
            free(w->meta_v[i]);
            memmove(&w->meta_k[i], &w->meta_k[i + 1], (size_t)(w->n_meta - i - 1) * sizeof *w->meta_k);
            memmove(&w->meta_v[i], &w->meta_v[i + 1], (size_t)(w->n_meta - i - 1) * sizeof *w->meta_v);
            w->n_meta--;
            break;
        }
    w->meta_k[w->n_meta] = k;
    w->meta_v[w->n_meta++] = v;
    return PIXL_OK;
}

int pixl_st_writer_save(pixl_st_writer *w, const char *path)
{
    if (!w || !path) return pixl_set_error(PIXL_ERR_ARG, "safetensors writer: NULL argument");
    /* the header: compact JSON, __metadata__ (string values) first, then
     * the tensors in the order they were added, their data back to back */
    pixl_json h = {0};
    pixl_json_set_layout(&h, PIXL_JSON_COMPACT);
    pixl_json_begin_object(&h, NULL);
    if (w->n_meta) {
        pixl_json_begin_object(&h, "__metadata__");
        for (int i = 0; i < w->n_meta; i++) pixl_json_str(&h, w->meta_k[i], w->meta_v[i]);
        pixl_json_end_object(&h);
    }
    size_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const wt_entry *e = &w->e[i];
        pixl_json_begin_object(&h, e->name);
        pixl_json_str(&h, "dtype", st_dtype(e->dtype));
        pixl_json_begin_array(&h, "shape");
        for (int d = 0; d < e->ndim; d++) pixl_json_int(&h, NULL, e->shape[d]);
        pixl_json_end_array(&h);
        pixl_json_begin_array(&h, "data_offsets");
        pixl_json_int(&h, NULL, (int64_t)off);
        pixl_json_int(&h, NULL, (int64_t)(off + e->bytes));
        pixl_json_end_array(&h);
        pixl_json_end_object(&h);
        off += e->bytes;
    }
    pixl_json_end_object(&h);
    char *js = pixl_json_finish(&h, path);
    if (!js) return pixl_last_status();
    size_t hl = strlen(js), padded = (hl + 7) / 8 * 8;
    pixl_atomic_file *af = pixl_atomic_begin(path);
    if (!af) {
        free(js);
        return pixl_last_status();
    }
    FILE *fp = pixl_atomic_stream(af);
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len, 1, 8, fp) == 8 && fwrite(js, 1, hl, fp) == hl, nomem = 0;
    for (size_t i = hl; ok && i < padded; i++) ok = fputc(' ', fp) != EOF;
    for (int i = 0; ok && i < w->n; i++) {
        void *probe = pixl__malloc(1); /* lets tests inject a failure mid-write */
        ok = probe != NULL;
        nomem = !probe;
        free(probe);
        if (ok && w->e[i].bytes) ok = fwrite(w->e[i].data, 1, w->e[i].bytes, fp) == w->e[i].bytes;
    }
    free(js);
    if (ok) return pixl_atomic_commit(af);
    int err = errno;
    pixl_atomic_abort(af);
    if (nomem) return pixl_set_error(PIXL_ERR_IO, "%s: write failed: %s", path, pixl_last_error());
    return pixl_set_error(PIXL_ERR_IO, "%s: write failed: %s", path, strerror(err));
}
