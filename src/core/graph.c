/* graph.c — contexts, nodes and leaves; memory planning by liveness;
 * forward and reverse-mode backward execution.
 *
 * Nodes are appended in creation order, which is a topological order (a
 * node can only be built from existing nodes). Planning assigns offsets in
 * one arena with four regions:
 *   [ activations | aux (saved for backward) | gradients | scratch ]
 * Activations: in EVAL mode each output is allocated before its node runs
 * and released after its last reader (online best-fit over a free list);
 * with gradients enabled every activation is kept. Gradients of activations
 * are allocated when the first backward step writes them and released after
 * their node's backward ran. Scratch is the maximum any node asks for. */
#include <omp.h>

#include "pixl_impl.h"

#define ALIGN 64
static size_t align_up(size_t n) { return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

size_t pixl_dtype_size(pixl_dtype t)
{
    switch (t) {
    case PIXL_F32: return 4;
    case PIXL_I32: return 4;
    case PIXL_I64: return 8;
    case PIXL_U8: return 1;
    }
    return 0;
}

const char *pixl_dtype_name(pixl_dtype t)
{
    switch (t) {
    case PIXL_F32: return "f32";
    case PIXL_I32: return "i32";
    case PIXL_I64: return "i64";
    case PIXL_U8: return "u8";
    }
    return "?";
}

int64_t pixl__numel_of(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

char *pixl_shape_str(int ndim, const int64_t *shape, char *buf, size_t len)
{
    size_t o = 0;
    if (!len) return buf;
    buf[0] = 0;
    o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "[");
    for (int i = 0; i < ndim; i++)
        o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%lld", i ? ", " : "", (long long)shape[i]);
    snprintf(buf + o, o < len ? len - o : 0, "]");
    return buf;
}

const char *pixl__tshape(const pixl_tensor *t)
{
    if (!t) return "(null)";
    char sh[128];
    pixl_shape_str(t->ndim, t->shape, sh, sizeof sh);
    char *desc = ((pixl_tensor *)t)->desc; /* every tensor is created writable by its ctx */
    snprintf(desc, sizeof t->desc, "%s %s", t->name[0] ? t->name : "tensor", sh);
    return desc;
}

bool pixl__any_null(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    bool r = false;
    for (int i = 0; i < n; i++)
        if (!va_arg(ap, pixl_tensor *)) r = true;
    va_end(ap);
    return r;
}

bool pixl__same_shape(const pixl_tensor *a, const pixl_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

/* ------------------------------------------------------------------- accessors */
int pixl_tensor_ndim(const pixl_tensor *t) { return t ? t->ndim : 0; }
const int64_t *pixl_tensor_shape(const pixl_tensor *t) { return t ? t->shape : NULL; }
int64_t pixl_tensor_numel(const pixl_tensor *t) { return t ? t->numel : 0; }
pixl_dtype pixl_tensor_dtype(const pixl_tensor *t) { return t ? t->dtype : PIXL_F32; }
const char *pixl_tensor_name(const pixl_tensor *t) { return t ? t->name : ""; }
void pixl_tensor_set_name(pixl_tensor *t, const char *name)
{
    if (t && name) snprintf(t->name, sizeof t->name, "%s", name);
}
void *pixl_tensor_data(pixl_tensor *t) { return t ? t->data : NULL; }
float *pixl_tensor_grad(pixl_tensor *t) { return t ? t->grad : NULL; }

/* ------------------------------------------------------------------------- ctx */
pixl_ctx *pixl_ctx_new(pixl_params *P, pixl_mode mode)
{
    pixl_ctx *c = pixl__calloc(1, sizeof *c);
    if (!c) return NULL;
    c->P = P;
    c->mode = mode;
    c->seed = 0x1234abcdULL;
    return c;
}

void pixl_ctx_free(pixl_ctx *c)
{
    if (!c) return;
    for (int i = 0; i < c->n_nodes; i++) free(c->nodes[i]);
    free(c->nodes);
    for (int i = 0; i < c->n_owned; i++) free(c->owned[i]);
    free(c->owned);
    free(c->arena);
    free(c->prof);
    free(c);
}

pixl_mode pixl_ctx_mode(const pixl_ctx *c) { return c->mode; }
pixl_params *pixl_ctx_params(const pixl_ctx *c) { return c->P; }
const char *pixl_ctx_error(const pixl_ctx *c) { return c && c->error_code ? c->error : NULL; }
void pixl_ctx_set_seed(pixl_ctx *c, uint64_t seed)
{
    c->seed = seed;
    c->step = 0;
}
size_t pixl_ctx_arena_bytes(const pixl_ctx *c) { return c->arena_bytes; }

int pixl_ctx_add_aux(pixl_ctx *c, pixl_tensor *logits, float weight)
{
    if (!c || !logits) return pixl_set_error(PIXL_ERR_ARG, "pixl_ctx_add_aux: NULL argument");
    if (c->n_aux >= (int)(sizeof c->aux / sizeof c->aux[0]))
        return pixl_set_error(PIXL_ERR_ARG, "pixl_ctx_add_aux: more than %d auxiliary outputs",
                              (int)(sizeof c->aux / sizeof c->aux[0]));
    c->aux[c->n_aux] = logits;
    c->aux_weight[c->n_aux++] = weight;
    return PIXL_OK;
}
int pixl_ctx_aux_count(const pixl_ctx *c) { return c ? c->n_aux : 0; }
pixl_tensor *pixl_ctx_aux(const pixl_ctx *c, int i, float *weight)
{
    if (!c || i < 0 || i >= c->n_aux) return NULL;
    if (weight) *weight = c->aux_weight[i];
    return c->aux[i];
}
int pixl_ctx_add_loss(pixl_ctx *c, pixl_tensor *loss, float weight)
{
    if (!c || !loss) return pixl_set_error(PIXL_ERR_ARG, "pixl_ctx_add_loss: NULL argument");
    if (loss->numel != 1)
        return pixl_set_error(PIXL_ERR_SHAPE, "pixl_ctx_add_loss: loss %s must be a scalar [1]", pixl__tshape(loss));
    if (c->n_loss >= (int)(sizeof c->loss / sizeof c->loss[0]))
        return pixl_set_error(PIXL_ERR_ARG, "pixl_ctx_add_loss: more than %d loss terms",
                              (int)(sizeof c->loss / sizeof c->loss[0]));
    c->loss[c->n_loss] = loss;
    c->loss_weight[c->n_loss++] = weight;
    return PIXL_OK;
}
int pixl_ctx_loss_count(const pixl_ctx *c) { return c ? c->n_loss : 0; }
pixl_tensor *pixl_ctx_loss(const pixl_ctx *c, int i, float *weight)
{
    if (!c || i < 0 || i >= c->n_loss) return NULL;
    if (weight) *weight = c->loss_weight[i];
    return c->loss[i];
}
int pixl_ctx_add_probe(pixl_ctx *c, const char *name, pixl_tensor *t)
{
    if (!c || !name || !t) return pixl_set_error(PIXL_ERR_ARG, "pixl_ctx_add_probe: NULL argument");
    if (c->n_probe >= (int)(sizeof c->probe / sizeof c->probe[0]))
        return pixl_set_error(PIXL_ERR_ARG, "pixl_ctx_add_probe: more than %d probes",
                              (int)(sizeof c->probe / sizeof c->probe[0]));
    char *nm = pixl__ctx_own(c, pixl__strdup(name));
    if (!nm) return pixl_set_error(PIXL_ERR_NOMEM, "pixl_ctx_add_probe: out of memory");
    if (c->mode == PIXL_MODE_EVAL) pixl_keep(t);
    c->probe[c->n_probe] = t;
    c->probe_name[c->n_probe++] = nm;
    return PIXL_OK;
}
int pixl_ctx_probe_count(const pixl_ctx *c) { return c ? c->n_probe : 0; }
pixl_tensor *pixl_ctx_probe(const pixl_ctx *c, int i, const char **name)
{
    if (!c || i < 0 || i >= c->n_probe) return NULL;
    if (name) *name = c->probe_name[i];
    return c->probe[i];
}
pixl_tensor *pixl_ctx_probe_find(const pixl_ctx *c, const char *name)
{
    for (int i = 0; c && name && i < c->n_probe; i++)
        if (!strcmp(c->probe_name[i], name)) return c->probe[i];
    return NULL;
}
size_t pixl_ctx_unplanned_bytes(const pixl_ctx *c) { return c->unplanned_bytes; }
int pixl_ctx_num_nodes(const pixl_ctx *c) { return c->n_nodes; }

static bool grads_enabled(const pixl_ctx *c) { return c->mode != PIXL_MODE_EVAL; }

static pixl_tensor *node_alloc(pixl_ctx *c, pixl_dtype dtype, int ndim, const int64_t *shape, const char *opname)
{
    if (c->planned) {
        pixl__ctx_fail(c, PIXL_ERR_STATE, "%s: cannot add nodes after pixl_ctx_plan()", opname);
        return NULL;
    }
    if (ndim < 0 || ndim > PIXL_MAX_DIMS) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE, "%s: %d dimensions (at most %d)", opname, ndim, PIXL_MAX_DIMS);
        return NULL;
    }
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0 || numel > INT64_MAX / 8 / shape[i]) {
            char sh[128];
            pixl_shape_str(ndim, shape, sh, sizeof sh);
            pixl__ctx_fail(c, PIXL_ERR_SHAPE, "%s: invalid output shape %s", opname, sh);
            return NULL;
        }
        numel *= shape[i];
    }
    if (c->n_nodes == c->cap_nodes) {
        int cap = c->cap_nodes ? 2 * c->cap_nodes : 64;
        pixl_tensor **nn = realloc(c->nodes, (size_t)cap * sizeof *nn);
        if (!nn) {
            pixl__ctx_fail(c, PIXL_ERR_NOMEM, "%s: out of memory adding a node", opname);
            return NULL;
        }
        c->nodes = nn;
        c->cap_nodes = cap;
    }
    pixl_tensor *t = pixl__calloc(1, sizeof *t);
    if (!t) {
        pixl__ctx_fail(c, PIXL_ERR_NOMEM, "%s: out of memory adding a node", opname);
        return NULL;
    }
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = numel;
    t->id = c->n_nodes;
    t->ctx = c;
    t->param_index = -1;
    c->nodes[c->n_nodes++] = t;
    return t;
}

pixl_tensor *pixl__node_new(pixl_ctx *c, const pixl_op_def *def, pixl_dtype dtype, int ndim, const int64_t *shape,
                           pixl_tensor *const *src, int n_src, const void *params, size_t psize)
{
    if (!c) return NULL;
    if (n_src > PIXL_MAX_SRC || psize > PIXL_OP_PARAMS_BYTES) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "%s: too many inputs or parameters", def->name);
        return NULL;
    }
    for (int i = 0; i < n_src; i++)
        if (src[i] && src[i]->ctx != c) {
            pixl__ctx_fail(c, PIXL_ERR_ARG, "%s: input %d belongs to another context", def->name, i);
            return NULL;
        }
    pixl_tensor *t = node_alloc(c, dtype, ndim, shape, def->name);
    if (!t) return NULL;
    t->def = def;
    t->n_src = n_src;
    for (int i = 0; i < n_src; i++) {
        t->src[i] = src[i];
        if (src[i] && (src[i]->flags & PIXL_FLAG_NEEDS_GRAD) && def->bwd) t->flags |= PIXL_FLAG_NEEDS_GRAD;
    }
    if (params && psize) memcpy(t->params, params, psize);
    snprintf(t->name, sizeof t->name, "%s", def->name);
    return t;
}

static pixl_tensor *leaf(pixl_ctx *c, const char *name, pixl_dtype dtype, int ndim, const int64_t *shape, int flags)
{
    if (!c) return NULL;
    if (ndim > 0 && !shape) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "input '%s': NULL shape", name ? name : "");
        return NULL;
    }
    pixl_tensor *t = node_alloc(c, dtype, ndim, shape, name ? name : "input");
    if (!t) return NULL;
    t->flags = flags;
    snprintf(t->name, sizeof t->name, "%s", name ? name : "input");
    return t;
}

pixl_tensor *pixl_input(pixl_ctx *c, const char *name, pixl_dtype dtype, int ndim, const int64_t *shape)
{
    return leaf(c, name, dtype, ndim, shape, PIXL_FLAG_INPUT | PIXL_FLAG_KEEP);
}

pixl_tensor *pixl_input_grad(pixl_ctx *c, const char *name, int ndim, const int64_t *shape)
{
    int f = PIXL_FLAG_INPUT | PIXL_FLAG_KEEP;
    if (c && grads_enabled(c)) f |= PIXL_FLAG_NEEDS_GRAD;
    return leaf(c, name, PIXL_F32, ndim, shape, f);
}

pixl_tensor *pixl_constant(pixl_ctx *c, const char *name, pixl_dtype dtype, int ndim, const int64_t *shape,
                           const void *data)
{
    pixl_tensor *t = leaf(c, name, dtype, ndim, shape, PIXL_FLAG_CONST | PIXL_FLAG_KEEP);
    if (!t) return NULL;
    size_t bytes = (size_t)t->numel * pixl_dtype_size(dtype);
    void *p = pixl__ctx_own(c, pixl__calloc(1, bytes));
    if (!p) {
        pixl__ctx_fail(c, PIXL_ERR_NOMEM, "constant '%s': out of memory", t->name);
        return NULL;
    }
    if (data) memcpy(p, data, bytes);
    t->data = p;
    return t;
}

void *pixl__ctx_own(pixl_ctx *c, void *p)
{
    if (p && c->n_owned == c->cap_owned) {
        int cap = c->cap_owned ? 2 * c->cap_owned : 16;
        void **np = realloc(c->owned, (size_t)cap * sizeof *np);
        if (!np) {
            free(p);
            return NULL;
        }
        c->owned = np;
        c->cap_owned = cap;
    }
    if (p) c->owned[c->n_owned++] = p;
    return p;
}

pixl_tensor *pixl_param_ref(pixl_ctx *c, const char *name)
{
    if (!c) return NULL;
    if (!c->P) {
        pixl__ctx_fail(c, PIXL_ERR_STATE, "parameter '%s': the context has no pixl_params", name);
        return NULL;
    }
    int i = pixl_params_find(c->P, name);
    if (i < 0) {
        pixl__ctx_fail(c, PIXL_ERR_NOT_FOUND, "parameter '%s' does not exist", name);
        return NULL;
    }
    /* one leaf per parameter per ctx */
    for (int k = 0; k < c->n_nodes; k++)
        if ((c->nodes[k]->flags & PIXL_FLAG_PARAM) && c->nodes[k]->param_index == i) return c->nodes[k];
    int flags = PIXL_FLAG_PARAM | PIXL_FLAG_KEEP;
    if (grads_enabled(c) && pixl_params_kind(c->P, i) == PIXL_PARAM && !pixl_params_frozen(c->P, i))
        flags |= PIXL_FLAG_NEEDS_GRAD;
    pixl_tensor *t = leaf(c, name, pixl_params_dtype(c->P, i), pixl_params_ndim(c->P, i), pixl_params_shape(c->P, i),
                          flags);
    if (!t) return NULL;
    t->param_index = i;
    return t;
}

pixl_tensor *pixl_keep(pixl_tensor *t)
{
    if (t) t->flags |= PIXL_FLAG_KEEP;
    return t;
}

/* --------------------------------------------------------------- the planner */
typedef struct { size_t off, size; } block;
typedef struct {
    block *free;
    int n, cap;
    size_t end; /* high-water mark */
} allocator;

static int alloc_block(allocator *a, size_t size, size_t *off)
{
    size = align_up(size ? size : 1);
    int best = -1;
    for (int i = 0; i < a->n; i++)
        if (a->free[i].size >= size && (best < 0 || a->free[i].size < a->free[best].size)) best = i;
    if (best >= 0) {
        *off = a->free[best].off;
        a->free[best].off += size;
        a->free[best].size -= size;
        if (!a->free[best].size) a->free[best] = a->free[--a->n];
        return 0;
    }
    /* grow: extend a free block touching the end, else append */
    for (int i = 0; i < a->n; i++)
        if (a->free[i].off + a->free[i].size == a->end) {
            *off = a->free[i].off;
            a->end = a->free[i].off + size;
            a->free[i] = a->free[--a->n];
            return 0;
        }
    *off = a->end;
    a->end += size;
    return 0;
}

static int free_block(allocator *a, size_t off, size_t size)
{
    size = align_up(size ? size : 1);
    /* merge with neighbours */
    for (int i = 0; i < a->n; i++) {
        if (a->free[i].off + a->free[i].size == off) {
            off = a->free[i].off;
            size += a->free[i].size;
            a->free[i--] = a->free[--a->n];
        } else if (off + size == a->free[i].off) {
            size += a->free[i].size;
            a->free[i--] = a->free[--a->n];
        }
    }
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 32;
        block *nb = realloc(a->free, (size_t)cap * sizeof *nb);
        if (!nb) return pixl_set_error(PIXL_ERR_NOMEM, "planner: out of memory");
        a->free = nb;
        a->cap = cap;
    }
    a->free[a->n++] = (block){off, size};
    return 0;
}

static pixl_tensor *data_root(pixl_tensor *t)
{
    while ((t->flags & PIXL_FLAG_VIEW) && !t->view_aux) t = t->view_of;
    return t;
}

static bool owns_data(const pixl_tensor *t)
{
    return !(t->flags & (PIXL_FLAG_PARAM | PIXL_FLAG_CONST | PIXL_FLAG_VIEW));
}

static size_t data_bytes(const pixl_tensor *t) { return (size_t)t->numel * pixl_dtype_size(t->dtype); }

static int plan(pixl_ctx *c);

int pixl_ctx_plan(pixl_ctx *c)
{
    if (!c) return pixl_set_error(PIXL_ERR_ARG, "pixl_ctx_plan: NULL context");
    if (c->error_code) return pixl_set_error(c->error_code, "%s", c->error);
    if (c->planned) return pixl_set_error(PIXL_ERR_STATE, "pixl_ctx_plan: already planned");
    c->threads = pixl__ctx_threads(c); /* scratch sizes depend on it: fixed from now on */
    int prev = pixl__threads_enter(c->threads);
    int rc = plan(c);
    pixl__threads_leave(prev);
    return rc;
}

static int plan(pixl_ctx *c)
{
    int n = c->n_nodes, rc = pixl__fuse_eval(c);
    if (rc) return rc;
    bool keep_all = grads_enabled(c);
    int *grad_birth = NULL;
    allocator act = {0}, grd = {0};
    grad_birth = malloc((size_t)(n ? n : 1) * sizeof *grad_birth);
    if (!grad_birth) return pixl_set_error(PIXL_ERR_NOMEM, "pixl_ctx_plan: out of memory");

    /* liveness: last reader of each data root; first backward writer of each grad */
    for (int i = 0; i < n; i++) {
        c->nodes[i]->last_use = i;
        grad_birth[i] = -1;
    }
    for (int j = 0; j < n; j++) {
        pixl_tensor *t = c->nodes[j];
        for (int k = 0; k < t->n_src; k++) {
            pixl_tensor *s = t->src[k];
            if (!s) continue;
            pixl_tensor *r = data_root(s);
            if (r->last_use < j) r->last_use = j;
            if (s->flags & PIXL_FLAG_VIEW && s->view_aux && s->view_of->last_use < j) s->view_of->last_use = j;
            if ((t->flags & PIXL_FLAG_NEEDS_GRAD) && (s->flags & PIXL_FLAG_NEEDS_GRAD) && grad_birth[s->id] < j)
                grad_birth[s->id] = j;
        }
    }
    /* views keep their root alive as long as they are read */
    for (int j = n - 1; j >= 0; j--) {
        pixl_tensor *t = c->nodes[j];
        if ((t->flags & PIXL_FLAG_VIEW) && !t->view_aux) {
            pixl_tensor *r = data_root(t);
            if (r->last_use < t->last_use) r->last_use = t->last_use;
            if (t->flags & PIXL_FLAG_KEEP) r->flags |= PIXL_FLAG_KEEP;
        }
    }

    /* activations */
    size_t unplanned = 0, aux_total = 0, work_max = 0;
    for (int i = 0; i < n && rc == PIXL_OK; i++) {
        pixl_tensor *t = c->nodes[i];
        t->aux_bytes = t->def && t->def->aux_bytes ? t->def->aux_bytes(t) : 0;
        t->work_bytes = t->def && t->def->work_bytes ? t->def->work_bytes(t) : 0;
        t->aux_off = (int64_t)aux_total;
        aux_total += align_up(t->aux_bytes);
        if (t->work_bytes > work_max) work_max = t->work_bytes;
        if (!owns_data(t)) continue;
        unplanned += align_up(data_bytes(t));
        size_t off;
        alloc_block(&act, data_bytes(t), &off);
        t->data_off = (int64_t)off;
    }
    /* EVAL: allocate again, releasing each buffer after its last reader ran.
     * A node nobody reads is a graph output and is kept. */
    if (!keep_all) {
        free(act.free);
        act = (allocator){0};
        for (int i = 0; i < n && rc == PIXL_OK; i++) {
            pixl_tensor *t = c->nodes[i];
            if (owns_data(t)) {
                size_t off;
                alloc_block(&act, data_bytes(t), &off);
                t->data_off = (int64_t)off;
            }
            for (int k = 0; k < i && rc == PIXL_OK; k++) {
                pixl_tensor *r = c->nodes[k];
                if (owns_data(r) && r->last_use == i && !(r->flags & PIXL_FLAG_KEEP))
                    rc = free_block(&act, (size_t)r->data_off, data_bytes(r));
            }
        }
    }

    /* gradients: backward time runs from n-1 down to 0 */
    size_t grad_unplanned = 0;
    if (keep_all) {
        for (int tm = n - 1; tm >= -1 && rc == PIXL_OK; tm--) {
            /* births: grads first written by the backward of node tm, or
             * at the start for nodes without a grad-consumer (outputs) */
            for (int i = 0; i < n; i++) {
                pixl_tensor *t = c->nodes[i];
                if (!(t->flags & PIXL_FLAG_NEEDS_GRAD) || (t->flags & PIXL_FLAG_PARAM)) continue;
                int birth = grad_birth[i] < 0 ? n - 1 : grad_birth[i];
                if (birth != tm) continue;
                size_t off;
                alloc_block(&grd, (size_t)t->numel * 4, &off);
                t->grad_off = (int64_t)off;
                grad_unplanned += align_up((size_t)t->numel * 4);
            }
            if (tm < 0) break;
            pixl_tensor *t = c->nodes[tm];
            /* death: after node tm's own backward (inputs keep theirs) */
            if ((t->flags & PIXL_FLAG_NEEDS_GRAD) && !(t->flags & (PIXL_FLAG_PARAM | PIXL_FLAG_INPUT)))
                rc = free_block(&grd, (size_t)t->grad_off, (size_t)t->numel * 4);
        }
    }
    free(grad_birth);
    free(act.free);
    free(grd.free);
    if (rc) return rc;

    size_t act_bytes = align_up(act.end), aux_bytes = align_up(aux_total), grad_bytes = align_up(grd.end);
    size_t work_bytes = align_up(work_max);
    size_t total = act_bytes + aux_bytes + grad_bytes + work_bytes;
    c->arena = NULL;
    if (total) {
        if (posix_memalign(&c->arena, ALIGN, total)) {
            c->arena = NULL;
            return pixl_set_error(PIXL_ERR_NOMEM, "pixl_ctx_plan: cannot allocate %zu bytes for %d nodes", total, n);
        }
        memset(c->arena, 0, total);
    }
    c->arena_bytes = total;
    c->unplanned_bytes = unplanned + aux_total + grad_unplanned + work_bytes;
    char *base = c->arena;
    c->work = work_bytes ? base + act_bytes + aux_bytes + grad_bytes : NULL;
    c->work_bytes = work_max;
    for (int i = 0; i < n; i++) {
        pixl_tensor *t = c->nodes[i];
        if (owns_data(t)) t->data = base + t->data_off;
        t->aux = t->aux_bytes ? base + act_bytes + t->aux_off : NULL;
        t->work = c->work;
        if ((t->flags & PIXL_FLAG_NEEDS_GRAD) && !(t->flags & PIXL_FLAG_PARAM))
            t->grad = (float *)(base + act_bytes + aux_bytes + t->grad_off);
    }
    for (int i = 0; i < n; i++) { /* views after their roots */
        pixl_tensor *t = c->nodes[i];
        if (t->flags & PIXL_FLAG_VIEW) t->data = t->view_aux ? t->view_of->aux : t->view_of->data;
    }
    c->planned = 1;
    return PIXL_OK;
}

/* ----------------------------------------------------------------- execution */
static void bind_params(pixl_ctx *c)
{
    for (int i = 0; i < c->n_nodes; i++) {
        pixl_tensor *t = c->nodes[i];
        if (!(t->flags & PIXL_FLAG_PARAM)) continue;
        t->data = pixl__params_entry_data(c->P, t->param_index);
        t->grad = (t->flags & PIXL_FLAG_NEEDS_GRAD) ? pixl__params_entry_grad(c->P, t->param_index) : NULL;
    }
    for (int i = 0; i < c->n_nodes; i++) { /* views of parameters */
        pixl_tensor *t = c->nodes[i];
        if (t->flags & PIXL_FLAG_VIEW) t->data = t->view_aux ? t->view_of->aux : t->view_of->data;
    }
}

static int run_forward(pixl_ctx *c)
{
    bind_params(c);
    for (int i = 0; i < c->n_nodes; i++) {
        pixl_tensor *t = c->nodes[i];
        if (!t->def || !t->def->fwd) continue;
        double t0 = c->prof ? omp_get_wtime() : 0;
        int rc = t->def->fwd(t);
        if (c->prof && i < c->prof_cap) c->prof[2 * i] += omp_get_wtime() - t0;
        if (rc) {
            c->step++;
            return rc;
        }
    }
    c->step++;
    if (c->prof) c->prof_runs++;
    return PIXL_OK;
}

int pixl_forward(pixl_ctx *c)
{
    if (!c) return pixl_set_error(PIXL_ERR_ARG, "pixl_forward: NULL context");
    if (!c->planned) return pixl_set_error(PIXL_ERR_STATE, "pixl_forward: call pixl_ctx_plan() first");
    int prev = pixl__threads_enter(c->threads);
    int rc = run_forward(c);
    pixl__threads_leave(prev);
    return rc;
}

int pixl_ctx_set_threads(pixl_ctx *c, int n)
{
    if (!c) return pixl_set_error(PIXL_ERR_ARG, "pixl_ctx_set_threads: NULL context");
    if (c->planned)
        return pixl_set_error(PIXL_ERR_STATE, "pixl_ctx_set_threads: the context is planned (its scratch memory "
                                              "is sized for %d threads); set the count before pixl_ctx_plan()",
                              c->threads);
    c->threads = n > 0 ? n : 0;
    return PIXL_OK;
}

int pixl__ctx_threads(const pixl_ctx *c) { return c && c->threads > 0 ? c->threads : pixl__default_threads(); }
int pixl_ctx_threads(const pixl_ctx *c) { return pixl__ctx_threads(c); }

/* ------------------------------------------------------------ profiling */
int pixl_ctx_profile(pixl_ctx *c, int on)
{
    if (!c) return pixl_set_error(PIXL_ERR_ARG, "pixl_ctx_profile: NULL context");
    free(c->prof);
    c->prof = NULL;
    c->prof_cap = c->prof_runs = 0;
    if (!on) return PIXL_OK;
    c->prof = calloc((size_t)(c->n_nodes > 0 ? c->n_nodes : 1) * 2, sizeof(double));
    if (!c->prof) return pixl_set_error(PIXL_ERR_NOMEM, "pixl_ctx_profile: out of memory");
    c->prof_cap = c->n_nodes;
    return PIXL_OK;
}

typedef struct { const char *op; double f, b; int n; } prof_row;
static int prof_cmp(const void *a, const void *b)
{
    double x = ((const prof_row *)a)->f + ((const prof_row *)a)->b, y = ((const prof_row *)b)->f + ((const prof_row *)b)->b;
    return (x < y) - (x > y);
}

void pixl_ctx_profile_print(const pixl_ctx *c, FILE *out, int top)
{
    if (!c || !c->prof || !out) return;
    int runs = c->prof_runs > 0 ? c->prof_runs : 1;
    double total = 0;
    for (int i = 0; i < c->prof_cap; i++) total += c->prof[2 * i] + c->prof[2 * i + 1];
    /* per op type */
    prof_row rows[128];
    int nr = 0;
    for (int i = 0; i < c->prof_cap; i++) {
        const pixl_tensor *t = c->nodes[i];
        if (!t->def) continue;
        int k = 0;
        while (k < nr && strcmp(rows[k].op, t->def->name)) k++;
        if (k == nr) {
            if (nr == 128) continue;
            rows[nr++] = (prof_row){t->def->name, 0, 0, 0};
        }
        rows[k].f += c->prof[2 * i];
        rows[k].b += c->prof[2 * i + 1];
        rows[k].n++;
    }
    qsort(rows, (size_t)nr, sizeof rows[0], prof_cmp);
    fprintf(out, "profile over %d forward pass(es): %.2f ms per pass\n", runs, 1e3 * total / runs);
    fprintf(out, "  %-22s %6s %10s %10s %6s\n", "op", "nodes", "fwd ms", "bwd ms", "share");
    for (int k = 0; k < nr; k++)
        fprintf(out, "  %-22s %6d %10.2f %10.2f %5.1f%%\n", rows[k].op, rows[k].n, 1e3 * rows[k].f / runs,
                1e3 * rows[k].b / runs, total > 0 ? 100.0 * (rows[k].f + rows[k].b) / total : 0);
    /* slowest nodes */
    if (top <= 0) return;
    int *idx = malloc(sizeof(int) * (size_t)c->prof_cap);
    if (!idx) return;
    int n = 0;
    for (int i = 0; i < c->prof_cap; i++)
        if (c->nodes[i]->def) idx[n++] = i;
    for (int a = 0; a < n && a < top; a++) { /* partial selection sort */
        int best = a;
        for (int b = a + 1; b < n; b++)
            if (c->prof[2 * idx[b]] + c->prof[2 * idx[b] + 1] > c->prof[2 * idx[best]] + c->prof[2 * idx[best] + 1])
                best = b;
        int tmp = idx[a];
        idx[a] = idx[best];
        idx[best] = tmp;
        const pixl_tensor *t = c->nodes[idx[a]];
        char srcs[160] = "";
        size_t used = 0;
        for (int k = 0; k < t->n_src && t->src[k] && used + 40 < sizeof srcs; k++)
            used += (size_t)snprintf(srcs + used, sizeof srcs - used, "%s%s", k ? " " : "", pixl__tshape(t->src[k]));
        fprintf(out, "  #%-3d %-14s %8.2f ms fwd %8.2f ms bwd  %s -> %s\n", a + 1, t->def->name,
                1e3 * c->prof[2 * idx[a]] / runs, 1e3 * c->prof[2 * idx[a] + 1] / runs, srcs, pixl__tshape(t));
    }
    free(idx);
}

/* memset on all threads for large buffers */
static void zero_f32(float *p, int64_t n)
{
    int nt = pixl_num_threads();
    if (n < (1 << 16) || nt < 2) {
        memset(p, 0, (size_t)n * sizeof(float));
        return;
    }
    int64_t blk = (n + nt - 1) / nt;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; t++) {
        int64_t a = t * blk, b = a + blk < n ? a + blk : n;
        if (a < b) memset(p + a, 0, (size_t)(b - a) * sizeof(float));
    }
}

static int backward_pass(pixl_ctx *c, pixl_tensor *out, const float *g);

static int run_backward(pixl_ctx *c, pixl_tensor *out, const float *g)
{
    if (!c) return pixl_set_error(PIXL_ERR_ARG, "pixl_backward: NULL argument");
    int prev = pixl__threads_enter(c->threads);
    int rc = backward_pass(c, out, g);
    pixl__threads_leave(prev);
    return rc;
}

static int backward_pass(pixl_ctx *c, pixl_tensor *out, const float *g)
{
    if (!c || !out) return pixl_set_error(PIXL_ERR_ARG, "pixl_backward: NULL argument");
    if (!c->planned) return pixl_set_error(PIXL_ERR_STATE, "pixl_backward: call pixl_ctx_plan() first");
    if (!grads_enabled(c))
        return pixl_set_error(PIXL_ERR_STATE, "pixl_backward: the context was built in EVAL mode (no gradients)");
    if (out->ctx != c) return pixl_set_error(PIXL_ERR_ARG, "pixl_backward: tensor belongs to another context");
    if (!(out->flags & PIXL_FLAG_NEEDS_GRAD) || !out->grad)
        return pixl_set_error(PIXL_ERR_STATE, "pixl_backward: %s does not depend on any trainable tensor",
                              pixl__tshape(out));
    bind_params(c);
    int n = c->n_nodes;
    unsigned char *active = calloc((size_t)n, 1);
    unsigned char *zeroed = calloc((size_t)n, 1);
    if (!active || !zeroed) {
        free(active);
        free(zeroed);
        return pixl_set_error(PIXL_ERR_NOMEM, "pixl_backward: out of memory");
    }
    /* reachability from out */
    active[out->id] = 1;
    for (int j = n - 1; j >= 0; j--) {
        if (!active[j]) continue;
        pixl_tensor *t = c->nodes[j];
        for (int k = 0; k < t->n_src; k++)
            if (t->src[k] && (t->src[k]->flags & PIXL_FLAG_NEEDS_GRAD)) active[t->src[k]->id] = 1;
    }
    if (g) memcpy(out->grad, g, (size_t)out->numel * sizeof(float));
    else
        for (int64_t i = 0; i < out->numel; i++) out->grad[i] = 1.0f;
    zeroed[out->id] = 1;
    int rc = PIXL_OK;
    for (int j = n - 1; j >= 0 && rc == PIXL_OK; j--) {
        pixl_tensor *t = c->nodes[j];
        if (!active[j] || !t->def || !t->def->bwd) continue;
        /* zero the gradient buffers this step writes first */
        for (int k = 0; k < t->n_src; k++) {
            pixl_tensor *s = t->src[k];
            if (!s || !s->grad || !active[s->id]) continue;
            if (!zeroed[s->id] && !(s->flags & PIXL_FLAG_PARAM)) zero_f32(s->grad, s->numel);
            zeroed[s->id] = 1;
        }
        double t0 = c->prof ? omp_get_wtime() : 0;
        rc = t->def->bwd(t);
        if (c->prof && j < c->prof_cap) c->prof[2 * j + 1] += omp_get_wtime() - t0;
    }
    /* input gradients are per pass: those nothing reached are zero
     * (zeroed last: their memory may have served other gradients) */
    for (int i = 0; i < n; i++) {
        pixl_tensor *t = c->nodes[i];
        if ((t->flags & PIXL_FLAG_INPUT) && t->grad && !zeroed[i]) zero_f32(t->grad, t->numel);
    }
    free(active);
    free(zeroed);
    return rc;
}

int pixl_backward(pixl_ctx *c, pixl_tensor *loss)
{
    if (loss && loss->numel != 1)
        return pixl_set_error(PIXL_ERR_SHAPE, "pixl_backward: loss must have one element, got %s", pixl__tshape(loss));
    return run_backward(c, loss, NULL);
}

int pixl_backward_from(pixl_ctx *c, pixl_tensor *out, const float *grad_out)
{
    if (!grad_out) return pixl_set_error(PIXL_ERR_ARG, "pixl_backward_from: NULL gradient");
    return run_backward(c, out, grad_out);
}
