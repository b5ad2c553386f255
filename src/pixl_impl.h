/* pixl_impl.h — private declarations shared across pixl's source files.
 *
 * THE OP PATTERN
 * An op is one `pixl_op_def` (name, forward, backward, optional sizes of
 * saved/scratch memory) defined at the bottom of the file of its family,
 * next to its kernels. A public builder (pixl_conv2d() ...) validates the
 * inputs, computes the output shape and calls pixl__node_new() with a typed
 * parameter struct that is copied into the node. The graph code is generic:
 * pixl_forward() calls def->fwd(node) in creation order and pixl_backward()
 * calls def->bwd(node) in reverse order.
 *
 * Contract for kernels:
 *  - fwd(n) reads n->src[i]->data, writes n->data (the whole output).
 *  - bwd(n) reads n->grad (dL/d output), and ACCUMULATES (+=) into
 *    n->src[i]->grad for every i whose grad is non-NULL (NULL means no
 *    gradient is wanted there: skip that work).
 *  - n->aux (n->def->aux_bytes(n) bytes, kept from forward to backward) holds
 *    what backward needs beyond inputs and output (argmax, mean/rstd, masks).
 *  - n->work (n->def->work_bytes(n) bytes) is scratch valid during one
 *    fwd or bwd call; it is shared with other nodes.
 *  - Kernels parallelise with OpenMP (`#pragma omp parallel for` with
 *    num_threads(pixl_num_threads())) and must give the same bits for any
 *    thread count: never split a reduction by thread; split by output
 *    element/channel and reduce each serially.
 *  - Return PIXL_OK or a negative status with pixl_set_error().
 */
#ifndef PIXL_IMPL_H
#define PIXL_IMPL_H

#include "pixl_train.h" /* every public header: pixl.h and the layers above it */

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIXL_MAX_SRC 16
#define PIXL_OP_PARAMS_BYTES 192
#define PIXL_NAME_LEN 96

typedef struct pixl_op_def pixl_op_def;
struct pixl_epi_step;

/* node flags */
enum {
    PIXL_FLAG_INPUT = 1 << 0,      /* leaf filled by the caller */
    PIXL_FLAG_PARAM = 1 << 1,      /* leaf pointing into pixl_params */
    PIXL_FLAG_CONST = 1 << 2,      /* leaf with data owned by the ctx */
    PIXL_FLAG_NEEDS_GRAD = 1 << 3, /* a gradient flows into this node */
    PIXL_FLAG_KEEP = 1 << 4,       /* memory kept alive (outputs) */
    PIXL_FLAG_VIEW = 1 << 5        /* data aliases another node (view_of) */
};

struct pixl_tensor {
    pixl_dtype dtype;
    int ndim;
    int64_t shape[PIXL_MAX_DIMS];
    int64_t numel;
    const pixl_op_def *def; /* NULL for leaves */
    pixl_tensor *src[PIXL_MAX_SRC];
    int n_src;
    _Alignas(16) unsigned char params[PIXL_OP_PARAMS_BYTES];
    int flags;
    int id;                 /* position in ctx->nodes */
    int param_index;        /* PARAM leaves: index into ctx->P */
    char name[PIXL_NAME_LEN];
    char desc[PIXL_NAME_LEN + 128]; /* pixl__tshape's text */
    pixl_ctx *ctx;
    void *data;
    float *grad;
    void *aux;
    size_t aux_bytes;
    void *work;
    size_t work_bytes;
    pixl_tensor *view_of;   /* VIEW: data is view_of->aux (aux output) or view_of->data */
    int view_aux;           /* 1: data = view_of->aux */
    pixl_tensor *fused_into; /* EVAL fusion: computed by that node's forward (this one is a view of it) */
    const pixl_op_def *unfused_def; /* the op this node was before fusion (info, profiles) */
    /* planning */
    int last_use;           /* last node index reading data (forward) */
    int64_t data_off, grad_off, aux_off;
};

struct pixl_op_def {
    const char *name;
    int (*fwd)(pixl_tensor *n);
    int (*bwd)(pixl_tensor *n);          /* NULL: op is not differentiable */
    size_t (*aux_bytes)(const pixl_tensor *n);  /* NULL: 0 */
    size_t (*work_bytes)(const pixl_tensor *n); /* NULL: 0 */
    /* does bwd read n->data (the output)? if 0 and no src needs it, the
     * planner may reuse the output in training (not yet exploited) */
    int bwd_reads_output;
    /* Plan-time fusion of EVAL graphs (core/fuse.c), both optional:
     * epi_step: can n, applied to its input `from`, run as a step of the
     *   epilogue of the convolution that produced `from`? Fills *st, returns 1.
     * fuse: n (a producer) takes the steps st[0..k) into its forward;
     *   returns how many of them it took (a prefix), 0 for none. */
    int (*epi_step)(const pixl_tensor *n, const pixl_tensor *from, struct pixl_epi_step *st);
    int (*fuse)(pixl_tensor *n, const struct pixl_epi_step *st, int k);
};

/* one step of a convolution's epilogue, applied per output element v of channel c */
typedef enum {
    PIXL_EPI_AFFINE = 1, /* v = v * scale[c] + shift[c], the coefficients from affine() at run time */
    PIXL_EPI_RELU,       /* v = v > 0 ? v : 0 */
    PIXL_EPI_CLAMP,      /* v = min(max(v, lo), hi) (hardtanh, relu6) */
    PIXL_EPI_ADD         /* v = v + other (same shape), other computed before the producer runs */
} pixl_epi_kind;
typedef struct pixl_epi_step {
    pixl_epi_kind kind;
    float lo, hi;
    const pixl_tensor *node;  /* the node fused (AFFINE: passed to affine()) */
    const pixl_tensor *other; /* ADD */
    void (*affine)(const pixl_tensor *node, float *scale, float *shift);
} pixl_epi_step;
/* EVAL graphs: fuse epilogue chains into their convolutions (before planning;
 * on with pixl_ctx_set_fusion(ctx, 1) or PIXL_FUSION=1 in the environment) */
int pixl__fuse_eval(pixl_ctx *c);

struct pixl_ctx {
    pixl_params *P;
    pixl_mode mode;
    pixl_tensor **nodes;
    int n_nodes, cap_nodes;
    int planned;
    char error[1024];
    int error_code;
    void *arena;          /* one allocation: activations, aux, grads, work */
    size_t arena_bytes;
    size_t unplanned_bytes;
    void *work;
    size_t work_bytes;
    uint64_t seed;
    uint64_t step;        /* incremented by every pixl_forward */
    int threads;          /* pixl_ctx_set_threads; 0 = the process default, fixed by pixl_ctx_plan */
    int mc_dropout;       /* pixl_ctx_set_mc_dropout: pixl_dropout_mc samples in EVAL too */
    int fusion;           /* pixl_ctx_set_fusion: 1 on, -1 off, 0 the default (PIXL_FUSION=1 in the environment) */
    int n_fused;          /* nodes fused into a producer by pixl_ctx_plan */
    void **owned;         /* const data blocks */
    int n_owned, cap_owned;
    pixl_tensor *aux[8];  /* auxiliary outputs (pixl_ctx_add_aux) and their loss weights */
    float aux_weight[8];
    int n_aux;
    pixl_tensor *loss[64]; /* extra loss terms (pixl_ctx_add_loss) and their weights */
    float loss_weight[64];
    int n_loss;
    pixl_tensor *probe[64]; /* named intermediate maps (pixl_ctx_add_probe) */
    const char *probe_name[64];
    int n_probe;
    double *prof;         /* pixl_ctx_profile: seconds per node (forward, backward), or NULL */
    int prof_cap, prof_runs;
};

/* ------------------------------------------------------------ threads */
/* process default thread count (core/threads.c) */
int pixl__default_threads(void);
/* TEST HOOK (atomic_file.c): sleeps PIXL_TEST_COMMIT_SLEEP_MS milliseconds
 * when that variable is set, else nothing; crash tests widen the moments of
 * a checkpoint write with it to kill the process there */
void pixl__test_commit_sleep(void);
/* run the calling thread's kernels on n threads (n < 1: the process
 * default) until pixl__threads_leave(the returned value) */
int pixl__threads_enter(int n);
void pixl__threads_leave(int prev);
/* the count ctx's kernels run with: its own, else the process default */
int pixl__ctx_threads(const pixl_ctx *ctx);

/* ------------------------------------------------------------ files */
/* (io/checkpoint.c) tensor j of f, read as float into *scratch (grown to *cap
 * floats as needed), scanned for NaN/Inf: PIXL_OK, or PIXL_ERR_FORMAT with
 * "WHAT PATH: tensor 'NAME' has a NaN at element K (n of its m values ...);
 * HINT". For checkpoints, pretrained weights and optimizer state. */
int pixl__st_check_finite(const pixl_st_file *f, int j, const char *what, const char *path, const char *name,
                          int64_t numel, float **scratch, int64_t *cap, const char *hint);

/* ------------------------------------------------------------- errors */
/* record a build error in ctx (first one wins) and in the thread-local slot */
void pixl__ctx_fail(pixl_ctx *ctx, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* nn layers: find or create the parameter "layer.leaf" (or "leaf" when layer
 * is "") and return its leaf in ctx; *data_if_new (optional) is set to its
 * storage when it was created now (the caller may fill it), else NULL. */
pixl_tensor *pixl__nn_param(pixl_ctx *ctx, const char *layer, const char *leaf, pixl_param_kind kind, pixl_dtype dt,
                           int ndim, const int64_t *shape, pixl_init_spec init, float **data_if_new);

/* the parameters pixl_nn_conv2d (weight, and bias when bias != 0; *b may be
 * NULL without a bias) and pixl_nn_batch_norm2d (weight, bias, running_mean,
 * running_var, num_batches_tracked) create, for layers that apply them
 * through another op; 0 or -1 with the ctx error set */
int pixl__nn_conv2d_params(pixl_ctx *ctx, const char *name, int in_ch, int out_ch, int kh, int kw, int groups,
                           int bias, pixl_tensor **w, pixl_tensor **b);
int pixl__nn_batch_norm2d_params(pixl_ctx *ctx, const char *name, int c, pixl_tensor *p[5]);

/* is g the output of pixl_gumbel_softmax_st in PIXL_MODE_TRAIN (a hard,
 * straight-through gate)? (ops/pag.c; pixl_nn_gated_conv3x3 then trains
 * with pixl_gated_conv3x3_train) */
int pixl__is_st_gate(const pixl_tensor *g);

/* tests: pixl_gated_conv3x3_train computes with the dense conv kernels (1),
 * the gathered columns (-1), or chooses by the fraction of active pixels (0) */
void pixl__gated_conv_train_force(int path);

/* binary targets of a label map for the class-balanced sigmoid loss:
 * target 1 where label > 0, mask 0 where label is `ignore` or negative */
void pixl__labels_to_binary(const int32_t *labels, int64_t n, int ignore, float *target, float *mask);

/* -------------------------------------------------------------- nodes */
/* New op node. params (psize bytes) is copied. Returns NULL (ctx error set)
 * on failure. NEEDS_GRAD is set when any src needs grad and def->bwd. */
pixl_tensor *pixl__node_new(pixl_ctx *ctx, const pixl_op_def *def, pixl_dtype dtype, int ndim, const int64_t *shape,
                           pixl_tensor *const *src, int n_src, const void *params, size_t psize);
/* typed access to the node's params */
#define PIXL_PARAMS(n, type) ((type *)(void *)(n)->params)
/* params of the dropout / dropout2d nodes (ops/act.c): unit u of numel/inner
 * units is kept, scaled by 1/(1-p), when pixl_uniform01(key, u) >= p, with
 * the node's key saved in n->aux. inner = 1: one draw per element; inner =
 * H*W: one draw per (n, c) plane. */
typedef struct { float p; int64_t inner; } pixl_dropout_params;
/* checks for builders: any NULL input -> return NULL silently */
bool pixl__any_null(int n, ...);
bool pixl__same_shape(const pixl_tensor *a, const pixl_tensor *b);
/* "x [2, 3, 9, 11]": name and shape, in storage of the tensor (valid until
 * the next call for the same tensor or the ctx is freed) */
const char *pixl__tshape(const pixl_tensor *t);
/* hand p (malloc'ed) to ctx, which frees it with the ctx; NULL (p freed)
 * when the list cannot grow or p is NULL */
void *pixl__ctx_own(pixl_ctx *ctx, void *p);
int64_t pixl__numel_of(int ndim, const int64_t *shape);
static inline float *pixl_f32(const pixl_tensor *t) { return (float *)t->data; }

/* -------------------------------------------------------------- params */
/* data pointer of entry i (valid until more entries are added) */
void *pixl__params_entry_data(pixl_params *P, int i);
float *pixl__params_entry_grad(pixl_params *P, int i);
/* random stream of the initialisers */
uint64_t *pixl__params_rng(pixl_params *P);

/* ----------------------------------------------------------------- rng */
/* Counter-based: value depends only on (key, counter): thread-independent. */
uint64_t pixl__hash64(uint64_t key, uint64_t counter);
static inline float pixl_uniform01(uint64_t key, uint64_t counter)
{
    return (float)(pixl__hash64(key, counter) >> 40) * (1.0f / 16777216.0f);
}
/* a sequential generator for initialisation */
uint64_t pixl__rng_next(uint64_t *state);
double pixl__rng_uniform(uint64_t *state);  /* [0,1) */
double pixl__rng_normal(uint64_t *state);
/* key for the random stream of node n in the current forward step */
uint64_t pixl__node_rng_key(const pixl_tensor *n);

/* --------------------------------------------------------- gemm (BLAS) */
/* C(MxN) = alpha * op(A) op(B) + beta * C, row-major. trans = 0/1. */
void pixl__gemm_f32(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                   const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* reference triple loop (double accumulation), for tests */
void pixl__gemm_f32_naive(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                         int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* -------------------------------------------------------------- memory */
void *pixl__malloc(size_t n);       /* NULL + error on failure / overflow */
void *pixl__calloc(size_t n, size_t size);
void pixl__free(void *p);
/* fault injection for tests: fail the k-th allocation from now (0 = off) */
void pixl__fail_alloc_after(long k);
bool pixl__mul_overflows(size_t a, size_t b, size_t *out);
char *pixl__strdup(const char *s); /* pixl__malloc'd copy */

/* ------------------------------------------- resource limits (core/limits.c)
 * Each limit is a default an environment variable overrides (a positive
 * number: 1000000, 4e9, 2^30, 8G); docs/reliability.md lists them. A
 * malformed value is an error naming the variable (*out = dflt then). */
#define PIXL_MAX_IMAGE_PIXELS_ENV "PIXL_MAX_IMAGE_PIXELS"
#define PIXL_MAX_IMAGE_PIXELS_DEFAULT ((uint64_t)1 << 27) /* width x height of one decoded image */
#define PIXL_MAX_BATCH_BYTES_ENV "PIXL_MAX_BATCH_BYTES"
#define PIXL_MAX_BATCH_BYTES_DEFAULT ((uint64_t)1 << 32)  /* one training batch of float input */
#define PIXL_MAX_YAML_DEPTH 64                            /* nesting of a YAML config */
int pixl__limit(const char *env, uint64_t dflt, uint64_t *out);
bool pixl__mul3_overflows(size_t a, size_t b, size_t c, size_t *out);
bool pixl__add_overflows(size_t a, size_t b, size_t *out);
/* "4.5 GiB" */
void pixl__fmt_bytes(char *buf, size_t len, double bytes);
/* n float images of 3 x h x w against PIXL_MAX_BATCH_BYTES: 0 within it, 1
 * above it (the size and the limit formatted into have[32] and cap[32]),
 * PIXL_ERR_ARG for a malformed variable (error set) */
int pixl__batch_over_limit(int n, int h, int w, char have[32], char cap[32]);

/* ------------------------------------------ typed key/value options (core/opts.c) */
/* One table per options struct: each field's key, type, place and doc. The
 * same table sets fields from text (configs, --set, the compact names of
 * pacnet and pytorch-semseg parsed into key/value pairs), prints them back,
 * and lists the valid keys when a key is unknown. */
typedef enum pixl__opt_type {
    PIXL__OPT_INT,      /* int, range [lo, hi] */
    PIXL__OPT_FLOAT,    /* float, range [lo, hi] */
    PIXL__OPT_BOOL,     /* int 0/1: true/false/yes/no/on/off/1/0 */
    PIXL__OPT_STRING,   /* char[size], verbatim */
    PIXL__OPT_ENUM,     /* int index into choices "a|b|c" */
    PIXL__OPT_INT_LIST, /* int[max_n] with an int count at count_off: "[1, 2]", "1,2", "" */
    PIXL__OPT_STR_LIST, /* char[max_n][size] with an int count at count_off */
    PIXL__OPT_EMBED,    /* the keys of table `sub`, for the struct at off, at this level */
    PIXL__OPT_CUSTOM,   /* parse / format callbacks on the bytes at off */
    PIXL__OPT_MAP,      /* a nested options struct at off (table `sub`, defaults by `init`) that is
                         * given or not (int flag at count_off, absolute): one key whose value is a
                         * mapping "{k: v, k: [a, b]}" or null; "key.sub" sets one of its keys */
    PIXL__OPT_FLOAT_LIST /* float[max_n] with an int count at count_off, elements in [lo, hi] */
} pixl__opt_type;

typedef struct pixl__opt_table pixl__opt_table;
typedef struct pixl__opt_field {
    const char *key;
    pixl__opt_type type;
    size_t off, size;       /* size: bytes of the field; STRING/STR_LIST: capacity of one string */
    size_t count_off;       /* lists: offset of the int count */
    int max_n;              /* lists: capacity */
    double lo, hi;          /* numbers and list elements */
    const char *choices;    /* ENUM */
    const pixl__opt_table *sub; /* EMBED, MAP */
    const char *doc;
    int (*parse)(void *field, const char *path, const char *text); /* CUSTOM: all or nothing */
    void (*format)(const void *field, char *buf, size_t len, int compact);
    void (*init)(void *field); /* MAP: the nested struct's defaults */
} pixl__opt_field;
struct pixl__opt_table {
    const char *name;       /* for messages when no prefix is given */
    const pixl__opt_field *fields;
    int n;
};

#define PIXL__OPTS_MAX_KEYS 64
/* Set `key` of obj from text ("map.key" for a key of a MAP field, which is
 * then given). Unknown keys fail with PIXL_ERR_NOT_FOUND:
 * "unknown key 'PREFIX.key' (did you mean ...?; valid keys: a, b, ...)";
 * bad values with PIXL_ERR_ARG: "PREFIX.key: expected ..., got '...'".
 * prefix NULL: the table's name. obj is unchanged on failure. */
int pixl__opts_set(const pixl__opt_table *t, void *obj, const char *prefix, const char *key, const char *value);
/* name number idx of "a|b|c" into out ("?" when out of range) */
void pixl__choice_name(const char *choices, int idx, char *out, size_t len);
/* The value of key ("map.key" too) as text that pixl__opts_set reads back to
 * the same value; a MAP as "{k: v, ...}" with all its keys, or "null". */
int pixl__opts_get(const pixl__opt_table *t, const void *obj, const char *key, char *buf, size_t len);
/* Flattened keys (EMBED expanded) in table order, with their fields; returns the count. */
int pixl__opts_keys(const pixl__opt_table *t, const char **keys, const pixl__opt_field **fields, int cap);
/* "a, b, c" */
void pixl__opts_key_list(const pixl__opt_table *t, char *buf, size_t len);
/* First key whose values differ (NULL: equal). */
const char *pixl__opts_diff(const pixl__opt_table *t, const void *a, const void *b);
/* "k=v;k=v" of the keys that differ from `defaults` (table order), "" if none. */
int pixl__opts_format_changed(const pixl__opt_table *t, const void *obj, const void *defaults, char *buf, size_t len);
/* Apply "k=v;k=v" (sep ';'). */
int pixl__opts_parse_pairs(const pixl__opt_table *t, void *obj, const char *prefix, const char *text);
/* Optimal string alignment distance, case-insensitive (did-you-mean hints). */
int pixl__edit_distance(const char *a, const char *b);
/* is dist a plausible typo of given? */
int pixl__close_enough(const char *given, int dist);
/* Tables of the public option structs (core/opts_tables.c). */
extern const pixl__opt_table pixl__pn_head_table;
extern const pixl__opt_table pixl__crf_table;
extern const pixl__opt_table pixl__jointup_table;
extern const pixl__opt_table pixl__pag_table;
extern const pixl__opt_table pixl__pac_table;
extern const pixl__opt_table pixl__model_cfg_table;

#endif /* PIXL_IMPL_H */
