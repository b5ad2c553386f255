/* pixl.h — pixel-level prediction in C: tensors, a compute graph with
 * reverse-mode autodiff, CPU kernels, optimizers and checkpoints.
 *
 * QUICK EXAMPLE (train one step of a 3x3 convolution)
 *
 *     pixl_params *P = pixl_params_new();
 *     pixl_ctx *ctx  = pixl_ctx_new(P, PIXL_MODE_TRAIN);
 *     int64_t xs[4] = {2, 3, 32, 32}, ys[3] = {2, 32, 32};
 *     pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
 *     pixl_tensor *y = pixl_input(ctx, "y", PIXL_I32, 3, ys);
 *     pixl_tensor *h = pixl_nn_conv2d(ctx, "conv", x, 4, 3, 3, &(pixl_conv2d_opts){.padding = {1, 1}}, 1);
 *     pixl_tensor *L = pixl_cross_entropy(ctx, h, y, NULL, &(pixl_ce_opts){.ignore = 1, .ignore_index = 255});
 *     if (!L || pixl_ctx_plan(ctx) != PIXL_OK) { fprintf(stderr, "%s\n", pixl_last_error()); ... }
 *     ... fill pixl_tensor_data(x) and pixl_tensor_data(y) ...
 *     pixl_params_zero_grad(P);
 *     pixl_forward(ctx);  pixl_backward(ctx, L);
 *     pixl_optim_step(opt);                 // opt = pixl_optim_new(P, ...)
 *
 * DIMENSION ORDER
 *   Shapes are listed outermost first, row-major, exactly as in PyTorch and
 *   safetensors: activations are NCHW (batch, channels, height, width),
 *   convolution weights (OC, IC/groups, KH, KW), transposed-convolution weights
 *   (IC, OC/groups, KH, KW), linear weights (OUT, IN). Label maps are (N, H, W)
 *   int32. Every tensor is contiguous.
 *
 * OWNERSHIP
 *   - pixl_params owns every parameter and buffer (running statistics) of a
 *     model in flat arrays: one for trainable values, one with the same layout
 *     for their gradients, one for non-trainable buffers. A data-parallel
 *     all-reduce therefore needs one call on pixl_params_grad_flat().
 *   - pixl_ctx owns the graph nodes built in it and, after pixl_ctx_plan(),
 *     the memory of every activation, gradient and scratch buffer. Freeing the
 *     ctx frees all of them. Tensors are never freed one by one.
 *   - A ctx refers to its pixl_params; free contexts before their params.
 *   - Pointers returned by pixl_tensor_data()/pixl_tensor_grad() stay valid
 *     until the ctx is freed (parameters: until more parameters are added).
 *   - Objects returned by a pixl_*_new() function are released with the
 *     matching pixl_*_free(); free functions accept NULL.
 *
 * ERRORS
 *   - Functions that can fail return int (PIXL_OK == 0, negative pixl_status
 *     on failure) or NULL. The reason, naming the op, tensor, shapes, file
 *     and line where they apply, is in pixl_last_error() (thread-local).
 *   - Graph builders (pixl_conv2d(), ...) return NULL on bad arguments and
 *     record the first error in the ctx (pixl_ctx_error()); any builder given
 *     a NULL input returns NULL without overwriting that first error, so a
 *     whole network can be built and checked once at the end.
 *   - The library never calls exit() or abort() on bad input.
 *
 * THREADS
 *   Kernels run with OpenMP. The thread count belongs to the object that
 *   runs them: a ctx (pixl_ctx_set_threads(), before pixl_ctx_plan()), a
 *   model's inference graphs (pixl_model_set_threads()) and an optimizer
 *   (pixl_optim_opts.threads). Each starts from the process default,
 *   pixl_set_num_threads() or else the PIXL_NUM_THREADS environment variable
 *   or else all cores. pixl_forward()/pixl_backward()/pixl_optim_step() set
 *   the count for the calling thread only and restore it on return, so two
 *   contexts with different counts may run in two threads at once. What
 *   stays process-wide: the default itself and the BLAS library's own thread
 *   count (kept at 1: pixl splits matrix products over its threads).
 *   Results are identical for any thread count (fixed reduction order).
 *   Distinct contexts may be used from distinct threads; a single ctx or
 *   params object must not be used by two threads at once.
 *
 * MEMORY PLANNING
 *   pixl_ctx_plan() sizes one arena from the graph: nothing to guess. In
 *   PIXL_MODE_EVAL activations share memory by liveness (a buffer is reused
 *   once its last reader has run); graph outputs and inputs are kept. In
 *   PIXL_MODE_TRAIN and EVAL_GRAD activations are kept for backward and
 *   gradients of activations share memory by liveness in the backward pass.
 *
 * NAMES
 *   Public symbols start with pixl_, macros and enum values with PIXL_.
 *   Types have no _t suffix. Parameters are named as PyTorch state_dict keys
 *   ("enc1.0.weight"), so PyTorch tensors load without renaming.
 */
#ifndef PIXL_H
#define PIXL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* FILE for the printers (profile, info, reports) */

#ifdef __cplusplus
extern "C" {
#endif

#define PIXL_VERSION_MAJOR 0
#define PIXL_VERSION_MINOR 1
#define PIXL_VERSION_PATCH 0
#define PIXL_VERSION_STRING "0.1.0"

#define PIXL_MAX_DIMS 5

/* ---------------------------------------------------------------- errors */

typedef enum pixl_status {
    PIXL_OK = 0,
    PIXL_ERR_ARG = -1,         /* invalid argument (value out of range, NULL) */
    PIXL_ERR_SHAPE = -2,       /* shapes do not fit the op */
    PIXL_ERR_NOMEM = -3,       /* allocation failed or size overflow */
    PIXL_ERR_IO = -4,          /* open/read/write/rename failed */
    PIXL_ERR_FORMAT = -5,      /* malformed file (checkpoint, image, config) */
    PIXL_ERR_NOT_FOUND = -6,   /* a named tensor/key/file is missing */
    PIXL_ERR_STATE = -7,       /* call out of order (e.g. forward before plan) */
    PIXL_ERR_UNSUPPORTED = -8  /* valid request that pixl does not implement */
} pixl_status;

/* Message of the last failure on this thread ("" if none). */
const char *pixl_last_error(void);
/* Code of the last failure on this thread (PIXL_OK if none). */
int pixl_last_status(void);
void pixl_clear_error(void);
const char *pixl_status_name(int status);
/* Record a failure on this thread (printf-style message) and return `code`:
 * for callbacks (training hooks) whose caller reports pixl_last_error(). */
int pixl_set_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --------------------------------------------------------------- library */

const char *pixl_version(void);
/* Threads kernels use on the calling thread: inside pixl_forward() and the
 * like the running object's count, else the process default. */
int pixl_num_threads(void);
/* The process default for contexts, models and optimizers created from now
 * on (and for work not tied to one: metrics, the edge benchmark); initially
 * PIXL_NUM_THREADS or all cores. n < 1 means 1. */
void pixl_set_num_threads(int n);

/* ------------------------------------------------------ writing files */

/* Every file pixl writes (checkpoints, configs, images, labels, reports)
 * goes through this: pixl_atomic_begin() creates a temporary file next to
 * `path` (PATH.tmp.PID.N, mode 0666 minus the umask); write to
 * pixl_atomic_stream(); pixl_atomic_commit() flushes, fsyncs the file,
 * renames it over `path` and fsyncs the folder, so readers see either the
 * old file or the complete new one. pixl_atomic_abort() (or a failed
 * commit) removes the temporary file and leaves `path` as it was. Commit
 * and abort free the handle; errors name the path and the system's reason. */
typedef struct pixl_atomic_file pixl_atomic_file;
pixl_atomic_file *pixl_atomic_begin(const char *path);
FILE *pixl_atomic_stream(pixl_atomic_file *af);
int pixl_atomic_commit(pixl_atomic_file *af);
void pixl_atomic_abort(pixl_atomic_file *af); /* accepts NULL */
/* The whole of `data` (n bytes) as the new content of `path`, atomically. */
int pixl_atomic_write(const char *path, const void *data, size_t n);

/* ------------------------------------------------------------ JSON text */

/* pixl's one JSON writer (metrics, scores, training logs, bench files).
 * Start from `pixl_json j = {0};`, write values in order, then take the
 * text with pixl_json_finish(). `key` names the member inside an object and
 * is NULL inside an array or for the top value; commas are placed for you
 * (", " between members, ": " after keys). Numbers read back exactly:
 * doubles with up to 17 significant digits, floats (pixl_json_f32) with up
 * to 9, so they read back as the same float; NaN and infinities are written
 * as null. Strings are escaped. The fields are private. */
typedef struct pixl_json { char *p; size_t n, cap; int err, depth; uint64_t has_items; } pixl_json;
void pixl_json_begin_object(pixl_json *j, const char *key);
void pixl_json_end_object(pixl_json *j);
void pixl_json_begin_array(pixl_json *j, const char *key);
void pixl_json_end_array(pixl_json *j);
void pixl_json_num(pixl_json *j, const char *key, double v);
void pixl_json_f32(pixl_json *j, const char *key, float v);
void pixl_json_int(pixl_json *j, const char *key, int64_t v);
void pixl_json_str(pixl_json *j, const char *key, const char *s); /* NULL writes "" */
void pixl_json_bool(pixl_json *j, const char *key, int v);
void pixl_json_null(pixl_json *j, const char *key);
/* a value that is JSON text already (e.g. a metrics object); NULL or "" writes null */
void pixl_json_raw(pixl_json *j, const char *key, const char *json);
/* The malloc'ed text (free() it) and j reset to empty; NULL with an error
 * "WHAT: out of memory" when an allocation failed on the way. */
char *pixl_json_finish(pixl_json *j, const char *what);

/* ---------------------------------------------------------------- tensors */

typedef enum pixl_dtype { PIXL_F32 = 0, PIXL_I32 = 1, PIXL_I64 = 2, PIXL_U8 = 3 } pixl_dtype;
size_t pixl_dtype_size(pixl_dtype t);
const char *pixl_dtype_name(pixl_dtype t);

typedef struct pixl_tensor pixl_tensor;
typedef struct pixl_ctx pixl_ctx;
typedef struct pixl_params pixl_params;

int pixl_tensor_ndim(const pixl_tensor *t);
const int64_t *pixl_tensor_shape(const pixl_tensor *t);
int64_t pixl_tensor_numel(const pixl_tensor *t);
pixl_dtype pixl_tensor_dtype(const pixl_tensor *t);
const char *pixl_tensor_name(const pixl_tensor *t);
void pixl_tensor_set_name(pixl_tensor *t, const char *name);
/* Data of the tensor (NULL before pixl_ctx_plan() for activations). In
 * EVAL mode an intermediate activation's memory is reused by later nodes:
 * read it after pixl_forward() only if it was marked with pixl_keep(). */
void *pixl_tensor_data(pixl_tensor *t);
/* Gradient (float32, same shape), NULL where nothing flows. */
float *pixl_tensor_grad(pixl_tensor *t);
/* "[2, 3, 9, 11]" into buf; returns buf. */
char *pixl_shape_str(int ndim, const int64_t *shape, char *buf, size_t len);

/* ------------------------------------------------------- graph and modes */

/* TRAIN: layers in training behaviour (batch statistics, dropout) with
 * gradients. EVAL: inference, no gradients, memory reused by liveness.
 * EVAL_GRAD: eval behaviour with gradients (frozen-BN fine-tuning, checks). */
typedef enum pixl_mode { PIXL_MODE_EVAL = 0, PIXL_MODE_TRAIN = 1, PIXL_MODE_EVAL_GRAD = 2 } pixl_mode;

/* A graph-building context. `P` may be NULL when the graph has no parameters. */
pixl_ctx *pixl_ctx_new(pixl_params *P, pixl_mode mode);
void pixl_ctx_free(pixl_ctx *ctx);
pixl_mode pixl_ctx_mode(const pixl_ctx *ctx);
pixl_params *pixl_ctx_params(const pixl_ctx *ctx);
/* First error recorded while building (NULL if none). */
const char *pixl_ctx_error(const pixl_ctx *ctx);
/* Threads of this ctx's kernels (n < 1: the process default). Call before
 * pixl_ctx_plan(), which sizes scratch memory for that count (afterwards:
 * PIXL_ERR_STATE). pixl_ctx_threads() gives the count in effect. */
int pixl_ctx_set_threads(pixl_ctx *ctx, int n);
int pixl_ctx_threads(const pixl_ctx *ctx);
/* Seed of the random streams (dropout) for the next forward pass. Each
 * forward advances an internal step counter so masks differ between steps. */
void pixl_ctx_set_seed(pixl_ctx *ctx, uint64_t seed);

/* A graph input filled by the caller after planning. */
pixl_tensor *pixl_input(pixl_ctx *ctx, const char *name, pixl_dtype dtype, int ndim, const int64_t *shape);
/* An input that receives a gradient in backward (used by gradient checks). */
pixl_tensor *pixl_input_grad(pixl_ctx *ctx, const char *name, int ndim, const int64_t *shape);
/* A constant: `data` (may be NULL for zeros) is copied into the ctx. */
pixl_tensor *pixl_constant(pixl_ctx *ctx, const char *name, pixl_dtype dtype, int ndim, const int64_t *shape,
                           const void *data);
/* Leaf node for the named parameter or buffer of ctx's params. */
pixl_tensor *pixl_param_ref(pixl_ctx *ctx, const char *name);
/* Keep this activation's memory alive (EVAL mode) so it can be read after forward. */
pixl_tensor *pixl_keep(pixl_tensor *t);

/* Plan memory for everything built so far. No nodes may be added afterwards. */
int pixl_ctx_plan(pixl_ctx *ctx);
/* Bytes the plan allocated for activations+gradients+scratch. */
size_t pixl_ctx_arena_bytes(const pixl_ctx *ctx);
/* Profiling: time every node's forward and backward from now on (on = 0
 * stops and frees); print per-op-type totals per pass and the `top`
 * slowest nodes with their input and output shapes. Call after building. */
int pixl_ctx_profile(pixl_ctx *ctx, int on);
void pixl_ctx_profile_print(const pixl_ctx *ctx, FILE *out, int top);
/* Bytes the same graph would take with no reuse (for reports and tests). */
size_t pixl_ctx_unplanned_bytes(const pixl_ctx *ctx);
int pixl_ctx_num_nodes(const pixl_ctx *ctx);

/* Run every node in order. */
int pixl_forward(pixl_ctx *ctx);
/* Reverse pass from a scalar `loss` (seeded with 1): accumulates (+=) into
 * parameter gradients (zero them once per step with pixl_params_zero_grad())
 * and into gradients of pixl_input_grad() inputs. */
int pixl_backward(pixl_ctx *ctx, pixl_tensor *loss);
/* Reverse pass from any output with the given upstream gradient (same numel). */
int pixl_backward_from(pixl_ctx *ctx, pixl_tensor *out, const float *grad_out);

/* ------------------------------------------------------------- parameters */

typedef enum pixl_init {
    PIXL_INIT_ZEROS = 0,
    PIXL_INIT_ONES,
    PIXL_INIT_CONST,           /* every element = a */
    PIXL_INIT_UNIFORM,         /* U(a, b) */
    PIXL_INIT_NORMAL,          /* N(a, b^2) */
    PIXL_INIT_KAIMING_UNIFORM, /* PyTorch's default for conv/linear weights: U(+-sqrt(6/((1+a^2)*fan_in))) */
    PIXL_INIT_KAIMING_NORMAL,  /* N(0, 2/((1+a^2)*fan)); b = 0 fan_in, 1 fan_out */
    PIXL_INIT_XAVIER_UNIFORM,
    PIXL_INIT_FAN_IN_UNIFORM,  /* PyTorch's default bias: U(+-1/sqrt(fan_in)), fan_in = a */
    PIXL_INIT_BILINEAR         /* transposed-conv upsampling weights (FCN) */
} pixl_init;

typedef struct pixl_init_spec { pixl_init kind; float a, b; } pixl_init_spec;

typedef enum pixl_param_kind { PIXL_PARAM = 0, PIXL_BUFFER = 1 } pixl_param_kind;

pixl_params *pixl_params_new(void);
void pixl_params_free(pixl_params *P);
void pixl_params_seed(pixl_params *P, uint64_t seed); /* seed for initialisers */
/* Find or create a parameter/buffer. If `name` exists its shape must match
 * (else NULL and an error naming both shapes). New entries are initialised. */
int pixl_params_add(pixl_params *P, const char *name, pixl_param_kind kind, pixl_dtype dtype, int ndim,
                    const int64_t *shape, pixl_init_spec init);
int pixl_params_find(const pixl_params *P, const char *name); /* index or -1 */
int pixl_params_count(const pixl_params *P);
const char *pixl_params_name(const pixl_params *P, int i);
pixl_param_kind pixl_params_kind(const pixl_params *P, int i);
pixl_dtype pixl_params_dtype(const pixl_params *P, int i);
int pixl_params_ndim(const pixl_params *P, int i);
const int64_t *pixl_params_shape(const pixl_params *P, int i);
int64_t pixl_params_numel(const pixl_params *P, int i);
void *pixl_params_data(pixl_params *P, int i);
float *pixl_params_grad(pixl_params *P, int i); /* NULL for buffers */
/* Flat views: all trainable values / all their gradients (same layout). */
float *pixl_params_data_flat(pixl_params *P, int64_t *n);
float *pixl_params_grad_flat(pixl_params *P, int64_t *n);
int64_t pixl_params_total(const pixl_params *P); /* trainable scalars */
void pixl_params_zero_grad(pixl_params *P);
/* Optimizer hints per parameter: learning-rate multiplier, weight-decay
 * multiplier, frozen (not updated, no gradient). Applied to every parameter
 * whose name starts with `prefix` ("" = all). Returns how many matched. */
int pixl_params_set_lr_mult(pixl_params *P, const char *prefix, float lr_mult, float wd_mult);
int pixl_params_set_frozen(pixl_params *P, const char *prefix, int frozen);
float pixl_params_lr_mult(const pixl_params *P, int i);
float pixl_params_wd_mult(const pixl_params *P, int i);
int pixl_params_frozen(const pixl_params *P, int i);

/* ------------------------------------------------------------ checkpoints */

/* safetensors: every parameter and buffer under its name, plus string
 * metadata (key/value arrays, may be NULL). Written with pixl_atomic_begin()
 * and pixl_atomic_commit(): a failure leaves the old PATH intact. */
int pixl_checkpoint_save(pixl_params *P, const char *path, int n_meta, const char *const *keys,
                         const char *const *values);
/* Load into existing entries. Every entry must be in the file with the same
 * shape (F32/F64/F16/BF16 converted; I64/I32 for integer buffers); a tensor
 * of the file that P lacks is an error unless `allow_extra`. P is unchanged
 * when loading fails. */
int pixl_checkpoint_load(pixl_params *P, const char *path, int allow_extra);
/* Initialise part of P (pretrained encoder weights): every tensor of the file
 * must be an entry of P with the same shape (else an error naming it, P
 * unchanged); entries the file lacks keep their values. Returns the number
 * of tensors loaded or a negative status. Training: model.options.pretrained. */
int pixl_checkpoint_load_subset(pixl_params *P, const char *path);
/* Metadata value of a checkpoint (malloc'ed string, free() it), NULL if absent. */
char *pixl_checkpoint_meta(const char *path, const char *key);

/* ------------------------------------------------------------------- ops */
/* Every op has forward and backward. Builders validate shapes and return
 * NULL with an error naming the op and shapes on mismatch. Options structs:
 * zero-initialised fields mean the PyTorch default (stride 0 -> 1,
 * dilation 0 -> 1, groups 0 -> 1). */

typedef struct pixl_conv2d_opts {
    int stride[2], padding[2], dilation[2], groups;
    int output_padding[2]; /* transposed convolution only */
} pixl_conv2d_opts;

/* x (N,IC,H,W), w (OC,IC/groups,KH,KW), b (OC) or NULL -> (N,OC,OH,OW) */
pixl_tensor *pixl_conv2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *w, pixl_tensor *b, const pixl_conv2d_opts *o);
/* x (N,IC,H,W), w (IC,OC/groups,KH,KW), b (OC) or NULL -> (N,OC,OH,OW),
 * OH = (H-1)*stride - 2*pad + dil*(KH-1) + output_padding + 1 */
pixl_tensor *pixl_conv_transpose2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *w, pixl_tensor *b,
                                   const pixl_conv2d_opts *o);
/* x (N,IN) or (..., IN), w (OUT,IN), b (OUT) or NULL */
pixl_tensor *pixl_linear(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *w, pixl_tensor *b);

typedef struct pixl_pool2d_opts {
    int kernel[2], stride[2], padding[2], dilation[2]; /* stride 0 -> kernel */
    int ceil_mode;
    int exclude_pad;       /* avg pool: 1 = PyTorch's count_include_pad=False (default: padding counts) */
} pixl_pool2d_opts;

pixl_tensor *pixl_max_pool2d(pixl_ctx *ctx, pixl_tensor *x, const pixl_pool2d_opts *o);
/* The argmax of a max_pool2d node: int32 flat index into each H*W input
 * plane (PyTorch's return_indices), shape of the pooled output. */
pixl_tensor *pixl_max_pool2d_indices(pixl_ctx *ctx, pixl_tensor *pooled);
/* x (N,C,h,w), indices (N,C,h,w) int32 -> (N,C,out_h,out_w) */
pixl_tensor *pixl_max_unpool2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *indices, int out_h, int out_w);
pixl_tensor *pixl_avg_pool2d(pixl_ctx *ctx, pixl_tensor *x, const pixl_pool2d_opts *o);
pixl_tensor *pixl_adaptive_avg_pool2d(pixl_ctx *ctx, pixl_tensor *x, int out_h, int out_w);

/* eps 0 -> 1e-5; momentum 0 -> 0.1, negative = PyTorch's momentum=None
 * (cumulative average). */
typedef struct pixl_bn_opts { float eps, momentum; } pixl_bn_opts;
/* TRAIN mode: batch statistics, running_mean/var (and num_batches_tracked
 * if non-NULL) updated in forward as PyTorch does. EVAL: running stats.
 * weight/bias may be NULL (affine=False); running_mean/var NULL means
 * track_running_stats=False (batch statistics in every mode). */
pixl_tensor *pixl_batch_norm2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *weight, pixl_tensor *bias,
                               pixl_tensor *running_mean, pixl_tensor *running_var,
                               pixl_tensor *num_batches_tracked, const pixl_bn_opts *o);
/* eps <= 0 -> 1e-5 */
pixl_tensor *pixl_group_norm(pixl_ctx *ctx, pixl_tensor *x, int groups, pixl_tensor *weight, pixl_tensor *bias,
                             float eps);

pixl_tensor *pixl_relu(pixl_ctx *ctx, pixl_tensor *x);
pixl_tensor *pixl_leaky_relu(pixl_ctx *ctx, pixl_tensor *x, float slope);
/* min(max(x, min_val), max_val) (min_val < max_val); relu6 = hardtanh(0, 6) (MobileNetV2). */
pixl_tensor *pixl_hardtanh(pixl_ctx *ctx, pixl_tensor *x, float min_val, float max_val);
pixl_tensor *pixl_relu6(pixl_ctx *ctx, pixl_tensor *x);
/* weight (1) or (C) */
pixl_tensor *pixl_prelu(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *weight);
pixl_tensor *pixl_elu(pixl_ctx *ctx, pixl_tensor *x, float alpha);
pixl_tensor *pixl_sigmoid(pixl_ctx *ctx, pixl_tensor *x);
pixl_tensor *pixl_tanh(pixl_ctx *ctx, pixl_tensor *x);
/* Identity (returns x itself) in EVAL modes or for p = 0; in TRAIN zeroes elements (or whole channels) with
 * probability p and scales the rest by 1/(1-p). */
pixl_tensor *pixl_dropout(pixl_ctx *ctx, pixl_tensor *x, float p);
pixl_tensor *pixl_dropout2d(pixl_ctx *ctx, pixl_tensor *x, float p);

/* Elementwise with broadcasting of size-1 dims (numpy rules, right aligned). */
pixl_tensor *pixl_add(pixl_ctx *ctx, pixl_tensor *a, pixl_tensor *b);
pixl_tensor *pixl_mul(pixl_ctx *ctx, pixl_tensor *a, pixl_tensor *b);
pixl_tensor *pixl_scale(pixl_ctx *ctx, pixl_tensor *x, float s);
/* 1 / x elementwise (the caller keeps x away from 0) */
pixl_tensor *pixl_reciprocal(pixl_ctx *ctx, pixl_tensor *x);
pixl_tensor *pixl_concat(pixl_ctx *ctx, int n, pixl_tensor *const *xs, int dim);
/* [start, end) along `dim`; negative values count from the end (crop = two
 * slices, or pixl_crop2d). Taking everything returns x itself, as do a
 * concat of one input and an all-zero pad. Any dtype. */
pixl_tensor *pixl_slice(pixl_ctx *ctx, pixl_tensor *x, int dim, int64_t start, int64_t end);
pixl_tensor *pixl_crop2d(pixl_ctx *ctx, pixl_tensor *x, int top, int left, int h, int w);
typedef enum pixl_pad_mode { PIXL_PAD_ZERO = 0, PIXL_PAD_REFLECT = 1, PIXL_PAD_REPLICATE = 2 } pixl_pad_mode;
/* pads = {left, right, top, bottom} as torch.nn.functional.pad; negative crops. */
pixl_tensor *pixl_pad2d(pixl_ctx *ctx, pixl_tensor *x, const int pads[4], pixl_pad_mode mode, float value);
/* A view (no copy); one entry may be -1 (inferred). */
pixl_tensor *pixl_reshape(pixl_ctx *ctx, pixl_tensor *x, int ndim, const int64_t *shape);
/* Sum of all elements -> shape [1]. */
pixl_tensor *pixl_sum(pixl_ctx *ctx, pixl_tensor *x);

typedef enum pixl_resize_mode { PIXL_RESIZE_BILINEAR = 0, PIXL_RESIZE_NEAREST = 1 } pixl_resize_mode;
/* x (N,C,H,W) -> (N,C,out_h,out_w). `scale_h/scale_w` > 0 are the user's
 * scale factors, used for the source coordinate as PyTorch does when a
 * scale_factor is given (pass 0 when resizing by size). */
pixl_tensor *pixl_resize(pixl_ctx *ctx, pixl_tensor *x, int out_h, int out_w, pixl_resize_mode mode,
                         int align_corners, double scale_h, double scale_w);

/* Over dim 1 (channels) of (N,C,...) */
pixl_tensor *pixl_softmax(pixl_ctx *ctx, pixl_tensor *x);
pixl_tensor *pixl_log_softmax(pixl_ctx *ctx, pixl_tensor *x);
/* x / max(||x||_2 over channels, eps); eps 0 -> 1e-12 */
pixl_tensor *pixl_l2_normalize(pixl_ctx *ctx, pixl_tensor *x, float eps);

/* ---------------------------------------------------------------- losses */

typedef enum pixl_reduction { PIXL_REDUCE_MEAN = 0, PIXL_REDUCE_SUM = 1 } pixl_reduction;

/* Zero-initialised options (or NULL) are PyTorch's defaults: targets equal
 * to -100 are skipped, MEAN reduction. pixl's datasets mark unlabelled
 * pixels 255: pass {.ignore = 1, .ignore_index = 255}. */
typedef struct pixl_ce_opts {
    int ignore;               /* 1: skip targets equal to ignore_index (0: skip -100) */
    int ignore_index;
    pixl_reduction reduction; /* MEAN divides by the summed weights of counted targets */
} pixl_ce_opts;
/* logits (N,C,H,W) or (N,C), target int32 (N,H,W)/(N), class weights (C) or NULL -> [1].
 * A target outside [0,C) that is not skipped makes pixl_forward() fail with
 * an error naming it. When nothing is counted the loss is 0 (PyTorch: NaN). */
pixl_tensor *pixl_cross_entropy(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *target, pixl_tensor *weight,
                                const pixl_ce_opts *o);
/* logits and target same shape (target float in [0,1]); pos_weight (C) or (1)
 * broadcast over dim 1 (PyTorch broadcasts from the right: its NCHW
 * pos_weight is (C,1,1)), or NULL. */
pixl_tensor *pixl_bce_with_logits(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *target, pixl_tensor *pos_weight,
                                  pixl_reduction red);
/* The same with an element weight (full shape, (C) or (1)) and a mask
 * (f32/u8/i32, nonzero counts; MEAN divides by the masked-in count). */
pixl_tensor *pixl_bce_with_logits_ex(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *target, pixl_tensor *pos_weight,
                                     pixl_tensor *weight, pixl_tensor *mask, pixl_reduction red);
/* mask (same shape, 1 = counts) or NULL. MEAN divides by the count of masked-in elements. */
pixl_tensor *pixl_l1_loss(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *target, pixl_tensor *mask, pixl_reduction red);
pixl_tensor *pixl_mse_loss(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *target, pixl_tensor *mask, pixl_reduction red);
pixl_tensor *pixl_smooth_l1_loss(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *target, pixl_tensor *mask,
                                 pixl_reduction red, float beta);

/* ------------------------------------------------- layers (nn) with params */
/* Create (or reuse) the parameters under `name` with PyTorch's default
 * initialisation and names (name.weight, name.bias, name.running_mean ...),
 * then apply the op. */

pixl_tensor *pixl_nn_conv2d(pixl_ctx *ctx, const char *name, pixl_tensor *x, int out_ch, int kh, int kw,
                            const pixl_conv2d_opts *o, int bias);
pixl_tensor *pixl_nn_conv_transpose2d(pixl_ctx *ctx, const char *name, pixl_tensor *x, int out_ch, int kh, int kw,
                                      const pixl_conv2d_opts *o, int bias);
pixl_tensor *pixl_nn_linear(pixl_ctx *ctx, const char *name, pixl_tensor *x, int out_features, int bias);
pixl_tensor *pixl_nn_batch_norm2d(pixl_ctx *ctx, const char *name, pixl_tensor *x, const pixl_bn_opts *o);
pixl_tensor *pixl_nn_group_norm(pixl_ctx *ctx, const char *name, pixl_tensor *x, int groups, float eps);
pixl_tensor *pixl_nn_prelu(pixl_ctx *ctx, const char *name, pixl_tensor *x, int num_parameters);

/* ------------------------------------------------------------------- PAC */
/* PIXEL-ADAPTIVE CONVOLUTION (Su et al., CVPR 2019) with the semantics of
 * NVlabs/pacnet's pac.py (native_impl path), forward and backward.
 *
 *     pixl_pac_opts o = {.kernel = {5, 5}, .padding = {2, 2}};
 *     pixl_pac_parse_kernel_type("inv_0.5_-1_asym", &o);     // or leave 0 = gaussian
 *     pixl_pac_parse_smooth("average_3", &o);                 // or leave 0 = none
 *     pixl_tensor *y = pixl_nn_pacconv2d(ctx, "pac1", x, guide, NULL, 64, &o, 1);
 *
 * THE ADAPTING KERNEL. packernel2d turns guidance features f (B, Cf, H, W)
 * into a kernel (B, Ck, KH*KW, OH, OW) -- pacnet's (B, Ck, KH, KW, OH, OW)
 * with the two tap dimensions merged, same memory -- with Ck = 1, or Ck = Cf
 * when `channel_wise`. For output position p and tap t the window position
 * j = p*stride - padding + t*dilation (guidance 0 outside the image):
 *   f0    = f at the centre tap (smooth NONE) or conv2d(f, S) per channel
 *           with padding - (K - s)/2 (S: GAUSSIAN [.25 .5 .25]^2 buffer,
 *           AVERAGE s x s box buffer, FULL learnable s x s, init 1/s^2)
 *   d_c   = f_c(j) - f0_c, ReLU'd when `asym`;  D = sum_c d_c^2 (per c if channel_wise)
 *   K     = exp(-D/2) (GAUSSIAN: no bandwidth, scale the features instead)
 *         | alpha + (D + 1e-4)^(lambda/2)  (INV; alpha, lambda of shape [1] or [Ck])
 *   mask  M (B, 1 or Ck, mask geometry): K *= unfold(M); without normalize
 *         K /= sum(unfold M) / sum(unfold ones) (partial windows rescaled)
 *   normalize: K *= in-image pattern, K /= sum over the window
 *   a zero divisor divides by 1; the output mask is (divisor != 0).
 * TRANSPOSED geometry (for pacconv_transpose2d): the guidance is at OUTPUT
 * resolution, the kernel uses stride 1 and padding (K-1)*dilation/2 there,
 * and the validity pattern / mask (mask at INPUT resolution) are taken on
 * the zero-inserted (stride) input padded by (K-1)*dilation - padding.
 *
 * THE CONSUMERS (kernel Ck = 1 except for pool):
 *   pacconv2d:  y[o,p] = sum_{c,t} W[o,c,t] K[t,p] x[c, p*s - pad + t*d] + b[o]
 *               W (O, C, KH, KW); shared_filters: W (1, 1, KH, KW), y[c,p] =
 *               sum_t W[t] K[t,p] x[c, ...] (no channel mixing, O == C)
 *   pacconv_transpose2d: pacnet's convention: x zero-inserted by stride,
 *               padded by (K-1)*d - pad (+ output_padding bottom/right) and
 *               CORRELATED with W (C, O, KH, KW) -- NOT flipped as in
 *               nn.ConvTranspose2d (with K == 1 it equals ConvTranspose2d
 *               with the spatially flipped weight). Output size as ConvTranspose2d.
 *   pacpool2d:  y[c,p] = sum_t K[c or 0, t, p] x[c, p*s - pad + t*d], a
 *               kernel-weighted SUM (an average only with normalize): the
 *               depthwise kernel-weighted aggregation (PacCRF message passing).
 * Output sizes equal Conv2d / ConvTranspose2d / AvgPool2d of the same
 * geometry; kernel sizes must be odd. All ops are fused: no column tensor
 * of B x C x k x k x H x W is materialised (only blocks of rows, in scratch).
 * Gradients flow to x, the kernel, W, b, and through packernel2d to the
 * guidance, the smoothing kernel and alpha/lambda (not to the mask). */
typedef enum pixl_pac_kernel_type { PIXL_PAC_GAUSSIAN = 0, PIXL_PAC_INV = 1 } pixl_pac_kernel_type;
typedef enum pixl_pac_smooth {
    PIXL_PAC_SMOOTH_NONE = 0,
    PIXL_PAC_SMOOTH_GAUSSIAN, /* 3x3 [.25 .5 .25] outer product (buffer) */
    PIXL_PAC_SMOOTH_AVERAGE,  /* smooth_size^2 box (buffer) */
    PIXL_PAC_SMOOTH_FULL      /* learnable smooth_size^2 filter */
} pixl_pac_smooth;
typedef enum pixl_pac_filler {
    PIXL_PAC_FILL_UNIFORM = 0,   /* U(+-1/sqrt(in*k*k)) (x in for shared filters), bias too */
    PIXL_PAC_FILL_LINEAR,        /* transposed, in == out: bilinear tent on the diagonal, bias 0 */
    PIXL_PAC_FILL_CRF,           /* square kernel, in == out: (1-I) x Gaussian(k/4)*k^2 with centre 0 */
    PIXL_PAC_FILL_CRF_PERTURBED, /* CRF + U(+-5e-4) */
    PIXL_PAC_FILL_POOL,          /* shared filters: weight is a BUFFER of ones */
    PIXL_PAC_FILL_CRF_POOL       /* the same with centre 0 */
} pixl_pac_filler;

/* Zero fields are pacnet's defaults (stride/dilation 0 -> 1). */
typedef struct pixl_pac_opts {
    int kernel[2];                /* packernel2d / pacpool2d / nn layers (conv ops read it from W) */
    int stride[2], padding[2], dilation[2], output_padding[2];
    pixl_pac_kernel_type kernel_type;
    int asym;                     /* '_asym' */
    int fixed;                    /* '_fixed': alpha/lambda are buffers (nn layers) */
    float inv_alpha, inv_lambda;  /* initial values of the nn layers */
    pixl_pac_smooth smooth;
    int smooth_size;              /* AVERAGE / FULL (odd); GAUSSIAN is 3 */
    int normalize;                /* normalize_kernel */
    int channel_wise;             /* packernel2d/pool: one kernel per channel */
    int transposed;               /* packernel2d: transposed geometry */
    int shared_filters;           /* pacconv: W (1, 1, KH, KW) */
    pixl_pac_filler filler;       /* nn layers */
} pixl_pac_opts;

/* "gaussian" | "inv_{alpha}_{lambda}[_asym][_fixed]" -> o (kernel_type,
 * inv_alpha, inv_lambda, asym, fixed); "none" | "gaussian" | "average_{s}" |
 * "full_{s}" -> o (smooth, smooth_size); "uniform" | "linear" | "crf" |
 * "crf_perturbed" | "pool" | "crf_pool" -> o->filler. PIXL_OK or
 * PIXL_ERR_ARG with a message. */
int pixl_pac_parse_kernel_type(const char *s, pixl_pac_opts *o);
int pixl_pac_parse_smooth(const char *s, pixl_pac_opts *o);
int pixl_pac_parse_filler(const char *s, pixl_pac_opts *o);
/* Set one option of o from text; the typed keys behind the strings above:
 * kernel_type (gaussian | inv), inv_alpha, inv_lambda, asym, fixed, smooth
 * (none | gaussian | average | full), smooth_size, normalize, channel_wise,
 * shared_filters, filler (uniform | linear | crf | crf_perturbed | pool |
 * crf_pool). "inv_0.5_-1_asym" is kernel_type inv, inv_alpha 0.5,
 * inv_lambda -1, asym true, fixed false. Unknown keys fail naming the key
 * and the valid ones. */
int pixl_pac_set(pixl_pac_opts *o, const char *key, const char *value);

/* guide (B, Cf, H, W) -> kernel (B, Ck, KH*KW, OH, OW). mask (B, 1 or Ck,
 * ...) or NULL; smooth_kernel (1, 1, s, s) iff o->smooth; inv_alpha,
 * inv_lambda ([1] or [Ck]) iff INV. Uses o: kernel, stride, padding,
 * dilation, output_padding, kernel_type, asym, smooth, normalize,
 * channel_wise, transposed. */
pixl_tensor *pixl_packernel2d(pixl_ctx *ctx, pixl_tensor *guide, pixl_tensor *mask, pixl_tensor *smooth_kernel,
                              pixl_tensor *inv_alpha, pixl_tensor *inv_lambda, const pixl_pac_opts *o);
/* pacnet's output_mask (B, Ck, OH, OW), 1 where the divisor was non-zero,
 * of a packernel2d node built with a mask (no gradient). */
pixl_tensor *pixl_packernel2d_mask(pixl_ctx *ctx, pixl_tensor *kernel);
/* x (B, C, H, W), kernel (B, 1, KH*KW, OH, OW), W (O, C, KH, KW) or (1, 1, KH, KW)
 * with o->shared_filters, b (O) or NULL; o: stride, padding, dilation. */
pixl_tensor *pixl_pacconv2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *kernel, pixl_tensor *w, pixl_tensor *b,
                            const pixl_pac_opts *o);
/* x (B, C, h, w), kernel (B, 1, KH*KW, OH, OW) at output resolution
 * (packernel2d with transposed = 1), W (C, O, KH, KW) or (1, 1, KH, KW);
 * o: stride, padding, output_padding, dilation. */
pixl_tensor *pixl_pacconv_transpose2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *kernel, pixl_tensor *w,
                                      pixl_tensor *b, const pixl_pac_opts *o);
/* x (B, C, H, W), kernel (B, 1 or C, KH*KW, OH, OW); o: kernel, stride,
 * padding, dilation. The depthwise kernel-weighted aggregation. */
pixl_tensor *pixl_pacpool2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *kernel, const pixl_pac_opts *o);

/* Layers with pacnet's state_dict names: name.weight, name.bias,
 * name.inv_alpha, name.inv_lambda (parameters, or buffers when fixed),
 * name.smooth_kernel (parameter for FULL, buffer otherwise). The kernel
 * comes from `guide` through packernel2d, or pass a precomputed `kernel`
 * (then guide must be NULL and no kernel parameters are created). */
pixl_tensor *pixl_nn_packernel2d(pixl_ctx *ctx, const char *name, pixl_tensor *guide, pixl_tensor *mask,
                                 int channels, const pixl_pac_opts *o);
pixl_tensor *pixl_nn_pacconv2d(pixl_ctx *ctx, const char *name, pixl_tensor *x, pixl_tensor *guide,
                               pixl_tensor *kernel, int out_ch, const pixl_pac_opts *o, int bias);
pixl_tensor *pixl_nn_pacconv_transpose2d(pixl_ctx *ctx, const char *name, pixl_tensor *x, pixl_tensor *guide,
                                         pixl_tensor *kernel, int out_ch, const pixl_pac_opts *o, int bias);
/* out_channels (per-channel alpha/lambda of channel_wise INV) = C of x */
pixl_tensor *pixl_nn_pacpool2d(pixl_ctx *ctx, const char *name, pixl_tensor *x, pixl_tensor *guide,
                               pixl_tensor *kernel, const pixl_pac_opts *o);

/* PacCRF and PacCRFLoose (pacnet's paccrf.py): mean-field inference with
 * pixel-adaptive pairwise terms, built from graph ops (so every gradient
 * flows: to the unary, to the edge features through the adapting kernels,
 * and to every learnable weight exactly where pacnet has one).
 *
 *     edge kernel K_m = packernel2d(avgpool_b(edge_feat_m))  (once per forward)
 *     logQ = unary
 *     repeat num_steps:
 *         Q    = softmax(logQ over channels)
 *         logQ = w_u * unary - sum_m pw_m * up_b(Compat_m(Msg_m(avgpool_b(Q), K_m)))
 *
 * Term m (pixl_crf_term): kernel k (odd), dilation d, blur b (average pool
 * b x b, stride b, pacnet's ceil padding, padding not counted; messages are
 * upsampled bilinearly x b and cropped back). Compat types:
 *   PIXL_CRF_4D     Msg = PacConv2d C->C full k x k (filler crf[_perturbed]), no Compat
 *   PIXL_CRF_2D     Msg = shared k x k PacConv2d (crf filler) or, without a
 *                   spatial filter, a fixed ones-with-centre-0 buffer;
 *                   Compat = learnable 1x1 conv init 1 - I (+ U(+-5e-4))
 *   PIXL_CRF_POTTS  Msg as 2D, no Compat, pw_m = -weight
 *   PIXL_CRF_NA     Msg = plain conv2d C->C k x k dilation d, no kernel
 * pw_m is the constant initial weight except for Potts without a spatial
 * filter (and not fixed_weighting), where it is the learnable
 * `pairwise_weights.m` -- pacnet's rule; the unused parameter still exists
 * so state_dicts match. w_u is `unary_weight` (constant if fixed_weighting).
 *
 * Parameter names (under `name.`): unary_weight, messengers.m.weight,
 * compat.m.weight, pairwise_weights.m; PacCRFLoose (loose = 1): num_steps
 * untied copies under steps.s. (its edge kernels are step 0's).
 *
 * edge_feats: one tensor (B, F, H, W) shared by all terms (n_feats 1) or one
 * per term (n_feats = n_terms); NA terms ignore theirs. The unary is
 * (B, C, H, W). Output (B, C, H, W): log Q (default), softmax or log_softmax. */
#define PIXL_CRF_MAX_TERMS 8
typedef enum pixl_crf_compat { PIXL_CRF_4D = 0, PIXL_CRF_2D, PIXL_CRF_POTTS, PIXL_CRF_NA } pixl_crf_compat;
typedef enum pixl_crf_output { PIXL_CRF_LOG_Q = 0, PIXL_CRF_SOFTMAX, PIXL_CRF_LOG_SOFTMAX } pixl_crf_output;
typedef struct pixl_crf_term {
    int kernel_size, dilation, blur;
    pixl_crf_compat compat;
    int spatial_filter;
    float weight; /* pairwise_weight */
} pixl_crf_term;
typedef struct pixl_crf_opts {
    int num_steps;
    int loose;            /* PacCRFLoose */
    pixl_crf_output output;
    int perturbed_init;   /* pacnet's default 1 */
    int fixed_weighting;
    float unary_weight;   /* initial value, pacnet's default 1 */
    int n_terms;
    pixl_crf_term terms[PIXL_CRF_MAX_TERMS];
} pixl_crf_opts;
/* pacnet's defaults: 5 steps, log_Q, perturbed init, unary weight 1, no terms. */
pixl_crf_opts pixl_crf_defaults(void);
/* Append a term; PIXL_ERR_ARG (with a message) when it is malformed or the table is full. */
int pixl_crf_add_term(pixl_crf_opts *o, int kernel_size, int dilation, int blur, pixl_crf_compat compat,
                      int spatial_filter, float weight);
/* pacnet's model-name grammar for the CRF part: "crf" ["i" STEPS ["l"]] {"p" TYPE ["s"] K DIL BLUR}
 * with TYPE 4d | 2d | 0d (Potts) | na, one digit each for K and BLUR; no "p" means p4d5161.
 * Example "crfi5p4d5641p4d5161": 5 tied steps, two 4d 5x5 terms, dilations 64 and 16. */
int pixl_crf_parse(const char *spec, pixl_crf_opts *o);
/* Set one CRF option from text, the typed form of the same grammar. Keys:
 *   steps (1..100), loose, output (log_q | softmax | log_softmax),
 *   perturbed_init, fixed_weighting (bools), unary_weight (number),
 *   terms: a list of TYPE:K:DIL:BLUR[:s] (TYPE 4d | 2d | 0d | na, `s` =
 *   spatial filter), e.g. "[4d:5:16:1, 4d:5:4:1]"; each term's weight is 1.
 * "crfi5p4d5161" equals steps 5 and terms [4d:5:16:1]. An unknown key fails
 * (PIXL_ERR_NOT_FOUND) naming it and the valid keys; o is unchanged on failure. */
int pixl_crf_set(pixl_crf_opts *o, const char *key, const char *value);
pixl_tensor *pixl_nn_paccrf(pixl_ctx *ctx, const char *name, pixl_tensor *unary, int n_feats,
                            pixl_tensor *const *edge_feats, const pixl_crf_opts *o);

/* Joint (guided) upsampling networks of pacnet (task_jointUpsampling):
 * PacJointUpsample, PacJointUpsampleLite and the DJIF and JBU baselines,
 * with pacnet's parameter names (branch_t, branch_g, up_convts, branch_f;
 * DJIF: branch_t, branch_g, branch_joint; JBU: convt); see
 * src/models/pac_upsample.c. target (B, C, H/f, W/f) with C <= 16
 * independent channels, guide (B, guide_channels, H, W) -> (B, C, H, W).
 * JBU (joint bilateral upsampling) is a PacConvTranspose2d with identity
 * weights (convt.weight, ones), no bias and a normalised Gaussian kernel on
 * the guide [colour * jbu_scale_color, y * jbu_scale_space, x * jbu_scale_space]
 * (y, x in output pixels); nothing in it needs training. */
typedef enum pixl_jointup_arch { PIXL_JU_PAC = 0, PIXL_JU_PAC_LITE, PIXL_JU_DJIF, PIXL_JU_JBU } pixl_jointup_arch;
typedef struct pixl_jointup_opts {
    pixl_jointup_arch arch;
    int factor;          /* 2, 4, 8, 16 (Lite: 4, 8, 16) */
    int channels;        /* informational: the target's channel count is used */
    int guide_channels;  /* 0 -> 3 */
    int jbu_kernel;      /* JBU: kernel size (>= factor) */
    float jbu_scale_color, jbu_scale_space;
} pixl_jointup_opts;
/* "pacjointupsample_x8", "pacjointupsample_lite_x4", "djif_x16",
 * "jbu_<kernel>_<scale_color>_<scale_space>_x<f>" (pacnet's JBU_k_sc_ss,
 * e.g. "jbu_17_2_0.25_x8"), ... */
int pixl_jointup_parse(const char *name, pixl_jointup_opts *o);
/* channels 1, guide_channels 3, everything else 0 (set arch and factor). */
pixl_jointup_opts pixl_jointup_defaults(void);
/* Set one option from text: arch (pacjointupsample | pacjointupsample_lite |
 * djif | jbu), factor, guide_channels, kernel, scale_color, scale_space
 * (the last three: JBU). "jbu_17_2_0.25_x8" is arch jbu, kernel 17,
 * scale_color 2, scale_space 0.25, factor 8. Unknown keys fail naming the
 * key and the valid ones. pixl_jointup_check() tests the combination. */
int pixl_jointup_set(pixl_jointup_opts *o, const char *key, const char *value);
int pixl_jointup_check(const pixl_jointup_opts *o);
pixl_tensor *pixl_nn_joint_upsample(pixl_ctx *ctx, const char *name, pixl_tensor *target, pixl_tensor *guide,
                                    const pixl_jointup_opts *o);

/* ---------------------------------------------------- optimizers, schedules */

typedef enum pixl_optim_kind { PIXL_OPTIM_SGD = 0, PIXL_OPTIM_ADAM = 1, PIXL_OPTIM_ADAMW = 2 } pixl_optim_kind;

typedef struct pixl_optim_opts {
    pixl_optim_kind kind;
    float lr;
    float momentum, dampening; /* SGD */
    int nesterov;              /* SGD */
    float weight_decay;        /* SGD/Adam: L2 added to the gradient; AdamW: decoupled */
    float beta1, beta2, eps;   /* Adam/AdamW; 0 -> 0.9, 0.999, 1e-8 */
    int threads;               /* threads of pixl_optim_step; 0 -> the process default */
} pixl_optim_opts;

typedef struct pixl_optim pixl_optim;
pixl_optim *pixl_optim_new(pixl_params *P, const pixl_optim_opts *o);
void pixl_optim_free(pixl_optim *opt);
/* One update of every non-frozen parameter from its gradient, with
 * lr = base lr * schedule factor * per-parameter lr_mult. */
int pixl_optim_step(pixl_optim *opt);
void pixl_optim_set_lr(pixl_optim *opt, float lr);
float pixl_optim_lr(const pixl_optim *opt);
int64_t pixl_optim_steps(const pixl_optim *opt);
/* Optimizer state (momentum / Adam moments, step count) saved into and
 * restored from params-like files: names are "<param>.exp_avg" etc. */
int pixl_optim_save(pixl_optim *opt, const char *path);
int pixl_optim_load(pixl_optim *opt, const char *path);

typedef enum pixl_sched_kind {
    PIXL_SCHED_CONSTANT = 0,
    PIXL_SCHED_STEP,       /* lr * gamma^(floor(step/step_size)) */
    PIXL_SCHED_MULTISTEP,  /* lr * gamma^(number of milestones <= step) */
    PIXL_SCHED_POLY,       /* lr * (1 - step/max_steps)^power */
    PIXL_SCHED_COSINE      /* min_lr + (lr-min_lr)*(1+cos(pi*step/max_steps))/2 */
} pixl_sched_kind;

typedef struct pixl_sched {
    pixl_sched_kind kind;
    int64_t step_size;      /* STEP */
    float gamma;            /* STEP, MULTISTEP (0 -> 0.1) */
    int n_milestones;
    int64_t milestones[16]; /* MULTISTEP */
    int64_t max_steps;      /* POLY, COSINE */
    float power;            /* POLY (0 -> 0.9) */
    float min_lr;           /* COSINE */
    int64_t warmup_steps;   /* linear warm-up from warmup_start*lr to lr, any kind */
    float warmup_start;     /* fraction of lr at step 0 of the warm-up (0 -> 0) */
} pixl_sched;

/* The learning rate at `step` (0-based) for base rate `lr`. */
float pixl_sched_lr(const pixl_sched *s, float lr, int64_t step);

/* -------------------------------------------------------- safetensors I/O */
/* A read-only view of a safetensors file, for tools and tests. */

typedef struct pixl_st_file pixl_st_file;
pixl_st_file *pixl_st_open(const char *path);
void pixl_st_close(pixl_st_file *f);
int pixl_st_count(const pixl_st_file *f);
const char *pixl_st_name(const pixl_st_file *f, int i);
int pixl_st_find(const pixl_st_file *f, const char *name); /* index or -1 */
/* dtype as in the file: "F64", "F32", "I64", ... */
const char *pixl_st_dtype(const pixl_st_file *f, int i);
int pixl_st_ndim(const pixl_st_file *f, int i);
const int64_t *pixl_st_shape(const pixl_st_file *f, int i);
int64_t pixl_st_numel(const pixl_st_file *f, int i);
/* Convert tensor i into float32 / int64 / int32 (caller's buffer of numel). */
int pixl_st_read_f32(const pixl_st_file *f, int i, float *out);
int pixl_st_read_f64(const pixl_st_file *f, int i, double *out);
int pixl_st_read_i64(const pixl_st_file *f, int i, int64_t *out);
int pixl_st_read_i32(const pixl_st_file *f, int i, int32_t *out);
/* Metadata value or NULL (owned by f). */
const char *pixl_st_meta(const pixl_st_file *f, const char *key);

/* A safetensors writer: add tensors, then commit (temp file + rename). */
typedef struct pixl_st_writer pixl_st_writer;
pixl_st_writer *pixl_st_writer_new(void);
void pixl_st_writer_free(pixl_st_writer *w);
/* dtype: PIXL_F32, PIXL_I32, PIXL_I64, PIXL_U8. Data is copied. */
int pixl_st_writer_add(pixl_st_writer *w, const char *name, pixl_dtype dtype, int ndim, const int64_t *shape,
                       const void *data);
int pixl_st_writer_meta(pixl_st_writer *w, const char *key, const char *value);
int pixl_st_writer_save(pixl_st_writer *w, const char *path);

/* ----------------------------------------------------------------- models */

/* The PixelNet head (pixl_pixelnet_sampled; model "pixelnet"): which
 * backbone taps feed the hypercolumn and the MLP on it. Defaults in
 * pixl_pn_head_defaults(); keys and their text forms at pixl_pn_head_set(). */
#define PIXL_PN_MAX_TAPS 7 /* = PIXL_HYPERCOLUMN_MAX_MAPS */
#define PIXL_PN_MAX_MLP 6
typedef enum pixl_pn_align {
    PIXL_PN_ALIGN_CENTER = 0, /* tap offsets (stride-1)/2: maps made by pooling (PixelNet) */
    PIXL_PN_ALIGN_CORNER = 1  /* offsets 0: maps made by strided convolutions */
} pixl_pn_align;
typedef struct pixl_pn_head_opts {
    int n_taps;                              /* 0 = the backbone's default taps */
    char taps[PIXL_PN_MAX_TAPS][32];         /* backbone tap names */
    int n_mlp;                               /* 0 = a linear head */
    int mlp[PIXL_PN_MAX_MLP];                /* hidden widths */
    float dropout;                           /* after each hidden ReLU */
    float hc_dropout;                        /* on the hypercolumn */
    int bn;                                  /* BatchNorm side branch (affine=False) on each tap */
    pixl_pn_align align;
    int chunk;                               /* pixels per chunk of dense inference */
} pixl_pn_head_opts;

typedef struct pixl_model_opts {
    int n_classes;       /* 0 -> 11 */
    int in_channels;     /* 0 -> 3 */
    float width;         /* channel multiplier where the model has one, 0 -> 1 */
    const char *variant; /* model-specific variant name or NULL */
    const char *backbone;  /* encoder by name where the model takes one (NULL = the model's default) */
    int output_stride;     /* dilated encoders: 8, 16 or 32; 0 = the model's default */
    int aux;               /* 1: also build auxiliary (deep-supervision) heads, see pixl_ctx_aux */
    const pixl_pn_head_opts *head; /* pixelnet: the head; NULL = parse `variant` (pixl_pn_head_parse) */
} pixl_model_opts;

/* Auxiliary outputs: a model built with opts.aux = 1 registers extra logits
 * (any spatial size; the loss resizes labels or logits as the model says)
 * with a loss weight; training adds weight * loss(aux_i) to the main loss.
 * Inference ignores them. */
int pixl_ctx_add_aux(pixl_ctx *ctx, pixl_tensor *logits, float weight);
int pixl_ctx_aux_count(const pixl_ctx *ctx);
pixl_tensor *pixl_ctx_aux(const pixl_ctx *ctx, int i, float *weight);

/* Build the architecture `arch` on x (N,C,H,W): parameters are created in
 * ctx's params under PyTorch-style state_dict names; returns logits
 * (N,n_classes,H,W). NULL with an error on an unknown name (the message
 * lists the known ones) or a shape the model cannot take. */
pixl_tensor *pixl_model_build(pixl_ctx *ctx, const char *arch, pixl_tensor *x, const pixl_model_opts *o);
int pixl_model_count(void);
const char *pixl_model_name(int i);
const char *pixl_model_doc(int i);

/* A trained or trainable network as one object: architecture, options,
 * parameters, input normalisation and class names/colours. Inference graphs
 * are built and planned on demand for each input size and cached. */
typedef struct pixl_model pixl_model;
/* New model with freshly initialised parameters (seeded). */
pixl_model *pixl_model_create(const char *arch, const pixl_model_opts *o, uint64_t seed);
/* Load a checkpoint written by pixl_model_save() (architecture and options
 * from its metadata; every tensor checked by name and shape). */
pixl_model *pixl_model_load(const char *path);
void pixl_model_free(pixl_model *m);
/* Save parameters and metadata (plus n_meta extra key/values) atomically. */
int pixl_model_save(pixl_model *m, const char *path, int n_meta, const char *const *keys, const char *const *values);
pixl_params *pixl_model_params(pixl_model *m);
const char *pixl_model_arch(const pixl_model *m);
const pixl_model_opts *pixl_model_options(const pixl_model *m);
int pixl_model_n_classes(const pixl_model *m);
/* Normalisation (images in [0,1]: x = (v - mean) / std) and class names /
 * RGB colours (n_classes triples); copied. */
void pixl_model_set_norm(pixl_model *m, const float mean[3], const float std[3]);
const float *pixl_model_mean(const pixl_model *m);
const float *pixl_model_std(const pixl_model *m);
int pixl_model_set_classes(pixl_model *m, const char *const *names, const uint8_t *colours);
const char *pixl_model_class_name(const pixl_model *m, int k);
const uint8_t *pixl_model_colours(const pixl_model *m);
/* Input size the network is run at (0 = the image's own size): images are
 * resized to it (bilinear) and logits resized back (bilinear, as PyTorch's
 * align_corners=False). */
void pixl_model_set_input_size(pixl_model *m, int height, int width);
/* Threads of the model's inference graphs (pixl_model_predict, evaluation);
 * n < 1: the process default (pixl_set_num_threads()). */
void pixl_model_set_threads(pixl_model *m, int n);
/* Logits (n, K, h, w) for normalised images (n, C, h, w); `flip` averages
 * with the mirrored pass. Either output may be NULL: labels (n, h, w)
 * receive the argmax. */
int pixl_model_predict(pixl_model *m, const float *images, int n, int h, int w, int flip, float *logits,
                       int32_t *labels);

/* ------------------------------------------------- images, datasets, loaders */
/* (section owned by src/data/) */
/*
 * IMAGES
 *   A pixl_image holds 8- or 16-bit samples interleaved row-major (HWC):
 *   sample (y, x, c) is data[(y*width + x)*channels + c], uint8_t for depth
 *   8, native-endian uint16_t for depth 16. PNG (libpng) and JPEG
 *   (libjpeg-turbo) are read, detected from the bytes, not the name. Every
 *   failure (missing, truncated, corrupt or unsupported file, size above
 *   PIXL_IMAGE_MAX_DIM) returns NULL or a negative status with an error
 *   naming the file. Writers write PATH.tmp.PID.N and rename it over PATH,
 *   so a failed write never leaves a partial PATH.
 *
 * LABEL MAPS
 *   int32_t arrays of height*width values, row-major, malloc'ed: release
 *   them with free(). Datasets map every label into [0, n_classes) or
 *   PIXL_IGNORE_LABEL (255), whatever the raw encoding of the dataset.
 */
#define PIXL_IGNORE_LABEL 255
#define PIXL_IMAGE_MAX_DIM 32768

typedef struct pixl_image {
    int width, height;
    int channels; /* 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA */
    int depth;    /* bits per sample: 8 or 16 */
    void *data;   /* height*width*channels samples, owned by the image */
} pixl_image;

/* A zero-filled image; NULL on bad arguments or no memory. */
pixl_image *pixl_image_new(int width, int height, int channels, int depth);
void pixl_image_free(pixl_image *img);
/* Load a PNG or JPEG.
 *   channels: 0 = as stored (palette -> RGB, or RGBA if it has
 *             transparency), 1 = grey (luma), 3 = RGB (grey replicated,
 *             alpha dropped), 4 = RGBA.
 *   depth:    0 = as stored (16 only for 16-bit PNGs), 8, 16.
 * CMYK/YCCK JPEGs and 12-bit JPEGs are errors naming the file. */
pixl_image *pixl_image_load(const char *path, int channels, int depth);
/* New image with another channel count (as in pixl_image_load) and/or depth
 * (0 = keep). 16 -> 8 bits rounds v*255/65535. */
pixl_image *pixl_image_convert(const pixl_image *img, int channels, int depth);
/* Write any image as PNG (1-4 channels, 8/16 bits). */
int pixl_image_save_png(const pixl_image *img, const char *path);
/* Write an 8-bit grey or RGB image as baseline JPEG; quality 1..100 (0 -> 95),
 * no chroma subsampling. */
int pixl_image_save_jpeg(const pixl_image *img, const char *path, int quality);
/* In-memory PNG and JPEG, for pages, servers and sockets.
 * pixl_image_encode: *out receives a malloc'ed buffer of *n bytes (free()).
 *   PNG: any image (1-4 channels, 8/16 bits), lossless. JPEG: an 8-bit grey
 *   or RGB image, quality 1..100 (0 -> 95), no chroma subsampling.
 *   On failure *out is NULL, *n is 0 and the error says why.
 * pixl_image_decode: PNG or JPEG bytes (detected from the bytes) with
 *   channels/depth as in pixl_image_load(). Empty, truncated, corrupt or
 *   unsupported data returns NULL with an error, never reads past n. */
typedef enum pixl_image_format { PIXL_IMAGE_PNG = 0, PIXL_IMAGE_JPEG = 1 } pixl_image_format;
int pixl_image_encode(const pixl_image *img, pixl_image_format fmt, int quality, uint8_t **out, size_t *n);
pixl_image *pixl_image_decode(const uint8_t *buf, size_t n, int channels, int depth);
/* Bilinear resize to width x height (PyTorch align_corners=False, no
 * antialiasing), any channels/depth. New image, NULL on error. */
pixl_image *pixl_image_resize(const pixl_image *img, int width, int height);
/* Image -> float planes CHW: out[(c*height + y)*width + x] =
 * (v/maxval - mean[c]) / std[c] (mean NULL -> 0, std NULL -> 1).
 * `out` holds channels*height*width floats. */
int pixl_image_to_chw(const pixl_image *img, const float *mean, const float *std, float *out);

/* Raw label map of a PNG: the palette indices of a palette PNG, the grey
 * values of a grey (or grey+alpha, alpha ignored) PNG, 16-bit values kept.
 * RGB label maps and JPEGs are errors naming the file. The result is
 * malloc'ed (free()); width/height are set. */
int32_t *pixl_label_load(const char *path, int *width, int *height);
/* Write an 8-bit label PNG. palette NULL: grey PNG of the values; else a
 * palette PNG whose colour table is `palette` (n_colours RGB triples,
 * n_colours <= 256; indices beyond it get black entries). Values outside
 * 0..255 are an error. */
int pixl_label_save_png(const int32_t *labels, int width, int height, const uint8_t *palette, int n_colours,
                        const char *path);
/* Nearest-neighbour resize (source index floor(dst*in/out)); malloc'ed. */
int32_t *pixl_label_resize(const int32_t *labels, int width, int height, int out_width, int out_height);
/* Colourise a label map into a new 8-bit RGB image: label k in
 * [0, n_colours) gets colours[3k..3k+2]. base NULL: other values (ignore)
 * are black. base (8-bit, same size, grey or RGB(A)): an overlay,
 * out = (1-alpha)*base + alpha*colour, other values keep the base pixel. */
pixl_image *pixl_label_colorize(const int32_t *labels, int width, int height, const uint8_t *colours,
                                int n_colours, const pixl_image *base, float alpha);
/* The default class colours, PASCAL VOC's colour map (the bits of the class
 * index spread over R, G and B, most significant first: 0 black, 1 dark
 * red, 2 dark green, ...): n RGB triples into rgb (3n bytes). Data sets and
 * reports without colours of their own use it. */
void pixl_voc_colours(int n, uint8_t *rgb);

/*
 * DATASETS
 *   A dataset is an indexed list of (image, label map) samples plus class
 *   names, colours and the normalisation mean/std of its images. Files are
 *   listed and checked to exist when the dataset is opened (a missing file
 *   is an error naming it, and the list file and line it came from); they
 *   are decoded by pixl_dataset_load(), which is thread-safe.
 *
 *   kind        root / split / layout                               labels
 *   "synthetic" generated in memory: `width` x `height` (0 -> 64),  5 classes, exact
 *               `count` (0 -> 1024) images, sample i depends only
 *               on (seed, i): textured discs, rectangles, triangles
 *               and rings on textured backgrounds
 *   "list"      `list` (or split + ".txt") under root: lines         v < n_classes kept,
 *               "image label" relative to root; '#' comments;        others -> 255
 *               absolute SegNet-style paths (/SegNet/CamVid/train/x.png)
 *               lose `strip_prefix`, else keep their last two
 *               components; an image missing with its extension
 *               is looked up as .png/.jpg/.jpeg
 *   "folder"    root[/split]/images/<name> paired by file stem with       as "list"
 *               root[/split]/labels/<stem><label_suffix>.png
 *   "camvid"    "list" with split -> root/<split>.txt, CamVid's 11   11 (void) -> 255
 *               classes, colours, mean/std
 *   "voc"       root = VOC2012 (or a folder holding VOCdevkit/VOC2012):  0..20 kept, others -> 255
 *               ImageSets/Segmentation/<split>.txt (or SegmentationAug/,
 *               or root/<split>.txt); a line is an id (JPEGImages/id.jpg,
 *               SegmentationClass/id.png; SegmentationClassAug when split
 *               contains "aug") or an "image label" pair (SBD train_aug)
 *   "cityscapes" leftImg8bit/<split>/<city>/<x>_leftImg8bit.png with      labelIds -> 19 trainIds,
 *               gtFine/<split>/<city>/<x>_gtFine_labelIds.png           others -> 255
 *   "ade20k"    ADEChallengeData2016: images/<training|validation>     0 -> 255, v -> v-1
 *               /<stem>.jpg with annotations/<same>/<stem>.png (split
 *               "train"/"val" accepted)
 *   "bsds500"   BSDS500: images/<split>/<id>.jpg with                 0 no annotator marks the
 *               groundTruth/<split>/<id>.mat (libmatio; every          pixel, 1 a fraction >=
 *               annotator's Boundaries map). Edge task: all maps      edge_consensus (0 -> 0.5)
 *               and the soft target (fraction of annotators, HED's    of them, 255 (ignored) a
 *               average) via pixl_dataset_load_edges()                 smaller fraction (HED/RCF)
 *   "synthetic_normals" generated in memory like "synthetic": ray-cast   0 plane, 1 box, 2 sphere,
 *               rooms of planes, boxes and spheres (textured, shaded;  255 no surface (sky)
 *               exact per-pixel normals and validity mask via
 *               pixl_dataset_load_normals())
 */
typedef struct pixl_dataset pixl_dataset;

typedef struct pixl_dataset_opts {
    const char *kind;         /* see the table; NULL -> "synthetic" */
    const char *root;         /* dataset folder */
    const char *split;        /* "train", "val", ... (NULL -> "train") */
    const char *list;         /* list/camvid/voc: list file, relative to root unless absolute; overrides split */
    const char *strip_prefix; /* list kinds: prefix removed from absolute paths in the list */
    const char *image_dir;    /* folder: "images"; voc: "JPEGImages" */
    const char *label_dir;    /* folder: "labels"; voc: "SegmentationClass" / "SegmentationClassAug" */
    const char *label_suffix; /* folder: label file stem = image stem + suffix (NULL -> "") */
    int unlabeled;            /* list/folder: images only, every label is 255 */
    int n_classes;            /* list/folder: number of classes (or given by class_names) */
    const char *const *class_names; /* list/folder: n_classes names (NULL-terminated if n_classes is 0),
                                     * NULL -> "class0", ... */
    const uint8_t *colours;   /* list/folder: n_classes RGB triples, NULL -> the VOC colour map */
    int reduce_zero_label;    /* list/folder: raw 0 -> 255, v -> v-1 (ADE20K style) */
    float mean[3], std[3];    /* normalisation override, used when std[0] > 0 */
    int limit;                /* keep only the first `limit` samples (0 = all) */
    int width, height, count; /* synthetic, synthetic_normals */
    uint64_t seed;            /* synthetic, synthetic_normals */
    float edge_consensus;     /* bsds500: fraction of annotators making a boundary label (0 -> 0.5; a tiny
                               * value such as 1e-6 gives the union of the annotators, nothing ignored) */
} pixl_dataset_opts;

/* Open a dataset (NULL with an error naming the file/line on failure). */
pixl_dataset *pixl_dataset_open(const pixl_dataset_opts *o);
void pixl_dataset_free(pixl_dataset *ds);
const char *pixl_dataset_kind(const pixl_dataset *ds);
int pixl_dataset_size(const pixl_dataset *ds);
int pixl_dataset_n_classes(const pixl_dataset *ds);
const char *pixl_dataset_class_name(const pixl_dataset *ds, int k); /* NULL if out of range */
const uint8_t *pixl_dataset_colours(const pixl_dataset *ds);        /* n_classes RGB triples */
const float *pixl_dataset_mean(const pixl_dataset *ds);             /* 3 values, images in [0,1] */
const float *pixl_dataset_std(const pixl_dataset *ds);
int pixl_dataset_has_labels(const pixl_dataset *ds);
/* Paths of sample i (owned by ds; NULL for synthetic samples / no labels). */
const char *pixl_dataset_image_path(const pixl_dataset *ds, int i);
const char *pixl_dataset_label_path(const pixl_dataset *ds, int i);
/* Short name of sample i, owned by ds: the image's file stem, or for
 * generated samples "synthetic_000042" / "synthetic_normals_000042". */
const char *pixl_dataset_sample_name(const pixl_dataset *ds, int i);
/* Decode sample i: an 8-bit RGB image and (if `labels` is not NULL) its
 * label map mapped into [0, n_classes) or 255, same size (else an error
 * naming both files). Both malloc'ed: pixl_image_free() / free(). */
int pixl_dataset_load(const pixl_dataset *ds, int i, pixl_image **image, int32_t **labels);
/* Map raw label values of this dataset's encoding in place. */
void pixl_dataset_map_labels(const pixl_dataset *ds, int32_t *labels, int64_t n);

/* What the targets of a dataset are: class labels, boundaries (bsds500) or
 * surface normals (synthetic_normals); every kind still gives label maps. */
typedef enum pixl_task { PIXL_TASK_SEGMENTATION = 0, PIXL_TASK_EDGES = 1, PIXL_TASK_NORMALS = 2 } pixl_task;
int pixl_dataset_task(const pixl_dataset *ds);
/* Edge datasets: sample i's RGB image, soft target (height*width floats: the
 * fraction of annotators marking each pixel) and every annotator's boundary
 * map (*n_maps maps of height*width bytes, 0/1, one after another; the
 * benchmark's ground truth, see pixl_edge_benchmark()). Any output pointer
 * may be NULL; results are malloc'ed (pixl_image_free() / free()). */
int pixl_dataset_load_edges(const pixl_dataset *ds, int i, pixl_image **image, float **soft, uint8_t **maps,
                            int *n_maps);
/* Normal datasets: sample i's RGB image, unit normals (3 planes of
 * height*width floats: x right, y down, z forward from the camera, the
 * OpenCV camera frame; visible surfaces have z < 0) and validity mask
 * (height*width bytes, 1 where a surface was hit; normals are 0 elsewhere).
 * Any output may be NULL; malloc'ed. */
int pixl_dataset_load_normals(const pixl_dataset *ds, int i, pixl_image **image, float **normals, uint8_t **mask);
/* Every annotator's Boundaries map of a BSDS groundTruth .mat file (libmatio):
 * *n_maps maps of height*width bytes (0/1, row-major), malloc'ed. */
int pixl_bsds_read(const char *mat_path, uint8_t **maps, int *n_maps, int *width, int *height);

/*
 * AUGMENTATION
 *   In this order: random scale (image bilinear, labels nearest), crop to
 *   crop_width x crop_height at a random place (centre with center_crop),
 *   padding where the image is smaller (image: `pad` / the mean colour,
 *   labels: 255), colour jitter and blur on the image part, horizontal flip.
 *   Labels are only ever moved, never interpolated. Every random number
 *   comes from `seed`; the same draws are made whatever options are on.
 */
typedef struct pixl_augment_opts {
    float scale_min, scale_max; /* scale factor uniform in [min, max]; 0 -> 1 */
    int crop_width, crop_height; /* 0 = no crop */
    int center_crop;            /* crop in the centre, not at random */
    int hflip;                  /* flip left-right with probability 0.5; 2 = one coin per BATCH (the loader
                                   flips all samples of a batch or none, as torch code flipping the batch
                                   tensor does; pixl_augment alone treats 2 as 1) */
    float brightness, contrast, saturation; /* factors uniform in [1-a, 1+a] (0 = off) */
    float blur_prob;            /* probability of a Gaussian blur ... */
    float blur_sigma_min, blur_sigma_max; /* ... with sigma uniform in this range (pixels) */
} pixl_augment_opts;

/* Seed of sample `index` in `epoch` for a run seeded with `seed`. */
uint64_t pixl_augment_seed(uint64_t seed, int64_t epoch, int64_t index);
/* Augment an 8-bit image and its labels (labels/out_labels may be NULL).
 * mean: padding colour in [0,1] per channel (NULL -> 0). Outputs are new. */
int pixl_augment(const pixl_augment_opts *o, uint64_t seed, const pixl_image *img, const int32_t *labels,
                 const float *mean, pixl_image **out_img, int32_t **out_labels);

/*
 * LOADER
 *   Batches of float NCHW images normalised with the dataset's mean/std and
 *   int32 (N,H,W) labels. Samples are shuffled per epoch from (seed, epoch)
 *   and decoded + augmented ahead by n_workers background threads; the
 *   content of every batch is the same for any number of workers (0 = work
 *   in the calling thread). Each sample is decoded, resized to
 *   resize_width x resize_height if set (image bilinear, labels nearest),
 *   then augmented if `augment` is set. Batch image size: the crop size,
 *   else the resize size (when augmentation does not rescale), else the
 *   images' own size (then all images of a batch must have the same size:
 *   full-resolution evaluation uses batch_size 1).
 *   With dense_targets (normal datasets) every geometric step (resize,
 *   scale, crop, flip) moves the float targets exactly as the labels:
 *   nearest-neighbour, never interpolated, and a flip negates the normals'
 *   x component (camera frame x right).
 *   Batches run on across epochs without a break: batch b of epoch e is
 *   global batch e * pixl_loader_batches_per_epoch() + b (pixl_batch says
 *   which).
 */
typedef struct pixl_loader pixl_loader;

typedef struct pixl_loader_opts {
    int batch_size;         /* 0 -> 1 */
    int shuffle;            /* new order every epoch */
    int drop_last;          /* skip the last incomplete batch */
    uint64_t seed;          /* shuffling and augmentation */
    int n_workers;          /* background threads (0 = none) */
    int prefetch;           /* batches prepared ahead (0 -> 2 * max(1, n_workers)) */
    const pixl_augment_opts *augment; /* NULL = no augmentation (copied) */
    int resize_width, resize_height;  /* resize every sample first (0 = keep its size) */
    int dense_targets;      /* also carry the dataset's float targets per pixel (surface normals:
                               3 channels); labels are then 0 where a pixel has a target, 255 elsewhere */
} pixl_loader_opts;

typedef struct pixl_batch {
    int n, channels, height, width;
    float *images;        /* n*channels*height*width, normalised */
    int32_t *labels;      /* n*height*width, in [0, n_classes) or 255 */
    int target_channels;  /* dense_targets: channels of `targets` (3 for normals), else 0 */
    float *targets;       /* dense_targets: n*target_channels*height*width (0 where labels are 255), else NULL */
    const int *indices;   /* dataset index of each sample */
    int64_t epoch;
    int batch;            /* index of the batch in its epoch */
} pixl_batch;

typedef struct pixl_loader_stats {
    double total_seconds;     /* since creation or the last reset */
    double wait_seconds;      /* time pixl_loader_next() blocked waiting for data */
    double work_seconds;      /* decode + augment time summed over workers */
    int64_t images;           /* samples produced */
    double images_per_second; /* images / total_seconds */
    double capacity_per_second; /* what the workers could produce unthrottled */
} pixl_loader_stats;

/* The loader keeps a pointer to ds: free the loader first. */
pixl_loader *pixl_loader_new(const pixl_dataset *ds, const pixl_loader_opts *o);
void pixl_loader_free(pixl_loader *L);
int pixl_loader_batches_per_epoch(const pixl_loader *L);
/* Fill *b with the next batch: PIXL_OK, or a negative status (a sample
 * that failed to load: the error names its file; the loader then keeps
 * failing). Batch memory is owned by the loader and valid until the next
 * pixl_loader_next() / pixl_loader_set_epoch() / pixl_loader_free(). */
int pixl_loader_next(pixl_loader *L, pixl_batch *b);
/* Continue at batch 0 of `epoch` (resuming a run). Cheap when that is
 * where the loader stands anyway (prefetched batches are kept). */
int pixl_loader_set_epoch(pixl_loader *L, int64_t epoch);
/* The epoch of the batch the next pixl_loader_next() returns. */
int64_t pixl_loader_epoch(const pixl_loader *L);
void pixl_loader_get_stats(const pixl_loader *L, pixl_loader_stats *s);
void pixl_loader_reset_stats(pixl_loader *L);

/* ------------------------------------------------------ metrics and configs */
/* (section owned by src/train/metrics.c and src/config/) */
/* (stdio.h is included at the top: FILE for the printers) */

/* SEGMENTATION METRICS
 *
 *     pixl_confusion *cm = pixl_confusion_new(11, 11);   // 11 classes, label 11 = void
 *     for each batch:
 *         pixl_argmax_channels(logits, N, 11, H, W, pred); // (N,K,H,W) -> (N,H,W)
 *         pixl_confusion_update(cm, pred, labels, N * H * W);
 *     pixl_seg_scores s;
 *     pixl_confusion_scores(cm, &s, iou, NULL);          // s.mean_iou ...
 *     pixl_metrics_print(stdout, cm, names);
 *     char *js = pixl_metrics_json(cm, names, 0); ... free(js);
 *
 * The matrix is K x K with exact 64-bit counts, row = ground-truth class,
 * column = predicted class. A pixel counts when its label != ignore_index
 * and 0 <= label < K; other pixels are skipped (and counted as ignored).
 * Scores follow pytorch-semseg's runningScore exactly:
 *   overall_acc       = trace / sum
 *   class acc_i       = m[i][i] / row_i                  (NaN if row_i == 0)
 *   mean_acc          = mean of the non-NaN class acc
 *   IoU_i             = m[i][i] / (row_i + col_i - m[i][i])
 *                       (NaN if row_i + col_i == 0: the class is absent from
 *                        both ground truth and prediction)
 *   mean_iou          = mean of the non-NaN IoU
 *   freq_weighted_iou = sum over classes with row_i > 0 of (row_i/sum) * IoU_i
 * With no counted pixel every score is NaN except freq_weighted_iou (0). */
typedef struct pixl_confusion pixl_confusion;

/* n_classes in [1, 4096]. ignore_index may be any value (e.g. 255, or -1 for none). */
pixl_confusion *pixl_confusion_new(int n_classes, int ignore_index);
void pixl_confusion_free(pixl_confusion *c);
void pixl_confusion_reset(pixl_confusion *c); /* all counts to 0 */
int pixl_confusion_n_classes(const pixl_confusion *c);
int pixl_confusion_ignore_index(const pixl_confusion *c);
/* K*K counts, counts[truth * K + pred]; valid until the matrix is freed. */
const int64_t *pixl_confusion_counts(const pixl_confusion *c);
/* Replace every count (K*K values, none negative), e.g. from a saved report. */
int pixl_confusion_set_counts(pixl_confusion *c, const int64_t *counts);
int64_t pixl_confusion_total(const pixl_confusion *c);   /* counted pixels */
int64_t pixl_confusion_ignored(const pixl_confusion *c); /* skipped pixels */
/* Count n pixels: pred and label are int32 arrays of n values (any layout,
 * e.g. (N,H,W)). A prediction outside [0, K) anywhere is an error naming
 * the first such pixel; the matrix is then unchanged. OpenMP-parallel with
 * per-thread matrices; the result is exact for any thread count. */
int pixl_confusion_update(pixl_confusion *c, const int32_t *pred, const int32_t *label, int64_t n);
/* dst += src (same K). */
int pixl_confusion_merge(pixl_confusion *dst, const pixl_confusion *src);

typedef struct pixl_seg_scores {
    double overall_acc, mean_acc, freq_weighted_iou, mean_iou;
    int n_classes;
    int n_present;     /* classes with at least one ground-truth pixel */
    int64_t n_pixels;  /* counted pixels */
    int64_t n_ignored; /* skipped pixels */
} pixl_seg_scores;

/* Scores; class_iou and class_acc (K doubles each, NaN where undefined) may be NULL. */
int pixl_confusion_scores(const pixl_confusion *c, pixl_seg_scores *s, double *class_iou, double *class_acc);

/* Channel argmax of logits (N,K,H,W) float32 -> out (N,H,W) int32. Ties
 * take the first maximum; a NaN wins (as torch.argmax / numpy.argmax). */
int pixl_argmax_channels(const float *logits, int64_t n, int64_t k, int64_t h, int64_t w, int32_t *out);

/* Every score as a JSON object (malloc'ed string, free() it, NULL on failure):
 *   {"n_classes": K, "pixels": .., "ignored": .., "overall_acc": .., "mean_acc": ..,
 *    "freq_weighted_iou": .., "mean_iou": .., "class_iou": {"<name>": .., ...},
 *    "class_acc": {...}[, "confusion": [[..], ..]]}
 * Keys of class_iou/class_acc are class_names[i] (when class_names and the
 * entry are non-NULL) or "i". Undefined (NaN) values are null. Numbers are
 * printed with enough digits to read back exactly. */
char *pixl_metrics_json(const pixl_confusion *c, const char *const *class_names, int with_confusion);
/* A per-class table (id, name, IoU %, acc %, ground-truth pixels) and a
 * summary line; "-" marks undefined values. */
int pixl_metrics_print(FILE *f, const pixl_confusion *c, const char *const *class_names);

/* EDGE DETECTION: THE BSDS BOUNDARY BENCHMARK (src/metrics/edge_bench.c)
 *
 *     pixl_edge_sample s[N];   // per image: soft edge map in [0,1] + human boundary maps
 *     pixl_edge_bench_result r;
 *     pixl_edge_benchmark(s, N, NULL, &r);   // r.ods_f, r.ois_f, r.ap
 *
 * The protocol of the BSDS500 benchmark (and of Dollar's edgesEval used by
 * HED, RCF, PixelNet):
 *   1. Non-maximum suppression (pixl_edge_nms).
 *   2. For each threshold t_k = k/(K+1), k = 1..K (K = 99): the binary map
 *      pred >= max(eps, t_k), thinned to 1-pixel lines (pixl_edge_thin).
 *   3. For each human: a minimum-cost assignment of the binary map's pixels
 *      to the human's boundary pixels within max_dist * image diagonal
 *      (pixl_edge_correspond). cnt_r += the human's matched pixels, sum_r +=
 *      the human's pixels (recall is summed over humans); cnt_p = pixels of
 *      the binary map matched to at least one human, sum_p = its pixels.
 *   4. ODS: P/R from the counts summed over images; the best F on the lines
 *      between neighbouring thresholds (100 steps each). OIS: each image's
 *      best-F threshold, counts summed over images at those, then F. AP:
 *      precision interpolated linearly at recall 0, 0.01, .., 1 inside the
 *      recall range reached (MATLAB interp1 over the distinct recalls), /100.
 * All functions return PIXL_OK or a negative status with a message. */
#define PIXL_EDGE_MAX_THRESHOLDS 256

typedef struct pixl_edge_sample {
    int width, height;
    const float *pred;  /* height*width soft edge map, row-major, values in [0,1] */
    int n_gt;           /* number of human annotations (>= 1) */
    const uint8_t *gt;  /* n_gt maps of height*width, one after another; non-zero = boundary */
} pixl_edge_sample;

typedef struct pixl_edge_bench_opts {
    int n_thresholds;    /* 0 -> 99 */
    double max_dist;     /* tolerance as a fraction of the image diagonal; 0 -> 0.0075 */
    double outlier_cost; /* cost of an unmatched pixel as a multiple of the tolerance; 0 -> 100 */
    int no_nms;          /* 1: pred is already thinned; skip pixl_edge_nms */
    int no_thin;         /* 1: skip the per-threshold thinning */
} pixl_edge_bench_opts;

typedef struct pixl_edge_counts {
    int64_t cnt_r, sum_r; /* matched human pixels, human pixels (summed over humans) */
    int64_t cnt_p, sum_p; /* predicted pixels matched to any human, predicted pixels */
} pixl_edge_counts;

typedef struct pixl_edge_bench_result {
    int n_images, n_thresholds;
    double thresholds[PIXL_EDGE_MAX_THRESHOLDS];
    pixl_edge_counts total[PIXL_EDGE_MAX_THRESHOLDS]; /* summed over images, per threshold */
    double ods_f, ods_p, ods_r, ods_t;                /* optimal dataset scale */
    double ois_f, ois_p, ois_r;                       /* optimal image scale */
    double ap;                                        /* average precision */
    double seconds;                                   /* wall time of pixl_edge_benchmark */
} pixl_edge_bench_result;

/* Edge NMS as the edgesNms recipe of HED/RCF evaluations: E = convTri(pred, 1);
 * orientation O = mod(atan(Oyy*sign(-Oxy)/(Oxx+1e-5)), pi) from the second
 * derivatives of convTri(E, 4) (MATLAB-style gradients); a pixel is zeroed
 * when 1.01*E is below E bilinearly interpolated at distance 1 on either
 * side along (cos O, sin O); values within 5 pixels of the border are faded
 * linearly to 0. out (height*width) receives the result. */
int pixl_edge_nms(const float *pred, int width, int height, float *out);
/* Thin a binary map (non-zero = on) in place to 1-pixel lines: MATLAB's
 * bwmorph(bw, 'thin', Inf) (Lam-Lee-Suen two-subiteration parallel
 * thinning, repeated until nothing changes). Output values are 0/1. */
int pixl_edge_thin(uint8_t *bw, int width, int height);
/* Minimum-cost correspondence of the on-pixels of a and b (as the
 * benchmark's correspondPixels, max_dist in PIXELS here): pairs within
 * max_dist_px cost their distance (rint(100 d)/100, the benchmark's integer
 * costs), an unmatched pixel costs outlier_cost*max_dist_px. The
 * assignment is exact (sparse Hungarian method per connected component).
 * match_a / match_b (height*width int32, may be NULL): 1 + the row-major
 * index of the partner pixel, 0 if unmatched. cost (may be NULL): total
 * distance of the pairs + outlier cost of every unmatched pixel. */
int pixl_edge_correspond(const uint8_t *a, const uint8_t *b, int width, int height, double max_dist_px,
                         double outlier_cost, int32_t *match_a, int32_t *match_b, double *cost);
/* thr[k] = (k+1)/(n+1), k < n (n in 1..PIXL_EDGE_MAX_THRESHOLDS). */
int pixl_edge_thresholds(int n, double *thr);
/* Counts of one image at each threshold (o->n_thresholds or 99 entries). */
int pixl_edge_eval_image(const pixl_edge_sample *s, const pixl_edge_bench_opts *o, pixl_edge_counts *counts);
/* ODS/OIS/AP from per-image counts (n_images x n_thresholds, image-major). */
int pixl_edge_scores(const pixl_edge_counts *counts, int n_images, int n_thresholds, pixl_edge_bench_result *res);
/* The whole benchmark, OpenMP over images and thresholds (results do not
 * depend on the thread count). */
int pixl_edge_benchmark(const pixl_edge_sample *samples, int n, const pixl_edge_bench_opts *o,
                        pixl_edge_bench_result *res);
/* The scores as one JSON object (malloc'd, caller frees; NULL on error):
 * n_images, n_thresholds, ods_f, ods_p, ods_r, ods_t, ois_f, ois_p, ois_r, ap.
 * The format of `pixl eval` on edge data and of the training log. */
char *pixl_edge_scores_json(const pixl_edge_bench_result *res);
/* The same object plus "seconds" and "thresholds": [{t, cnt_r, sum_r,
 * cnt_p, sum_p}, ...] (`pixl edgebench --json`). */
char *pixl_edge_bench_json(const pixl_edge_bench_result *res);

/* SURFACE-NORMAL METRICS (src/metrics/normals.c)
 *   Per pixel the angle between predicted and true normal in degrees,
 *   acos(clamp(p.g / (|p||g|), -1, 1)); pixels with mask 0 or a zero-length
 *   true normal are skipped; a zero-length prediction counts as 90 degrees.
 *   Normals are 3 planes of n floats (x, y, z: one CHW image, n = H*W).
 *   Scores: mean, median and RMSE of the angle; fractions of pixels with
 *   angle < 11.25, < 22.5, < 30 degrees. The accumulator's median comes from
 *   a 0.001-degree histogram (bin centre); pixl_normal_scores_exact() sorts.
 *   Sums use a fixed decomposition: identical for any thread count. */
typedef struct pixl_normal_scores {
    int64_t n_pixels;
    double mean, median, rmse;                     /* degrees (NaN with no pixel) */
    double within_11_25, within_22_5, within_30;   /* fractions in [0, 1] */
} pixl_normal_scores;
typedef struct pixl_normal_metrics pixl_normal_metrics;
pixl_normal_metrics *pixl_normal_metrics_new(void);
void pixl_normal_metrics_free(pixl_normal_metrics *m);
void pixl_normal_metrics_reset(pixl_normal_metrics *m);
/* Add one image (mask may be NULL: every pixel with a true normal counts). */
int pixl_normal_metrics_update(pixl_normal_metrics *m, const float *pred, const float *gt, const uint8_t *mask,
                               int64_t n);
int pixl_normal_metrics_scores(const pixl_normal_metrics *m, pixl_normal_scores *s);
/* Scores of one image with the exact median. */
int pixl_normal_scores_exact(const float *pred, const float *gt, const uint8_t *mask, int64_t n, pixl_normal_scores *s);
/* Angle of every pixel in degrees (NaN where skipped) into deg (n floats). */
int pixl_normal_angles(const float *pred, const float *gt, const uint8_t *mask, int64_t n, float *deg);
/* The scores as one JSON object (malloc'd, caller frees; NULL on error):
 * pixels, mean, median, rmse (degrees), within_11_25, within_22_5,
 * within_30 (fractions); a NaN score (no pixel) is null. The format of
 * `pixl eval` on normal data and of the training log. */
char *pixl_normal_scores_json(const pixl_normal_scores *s);

/* TRAINING CONFIGURATION (YAML)
 *
 *     pixl_train_config cfg;
 *     if (pixl_config_load("camvid.yaml", &cfg) != PIXL_OK ||       // defaults + file
 *         pixl_config_set(&cfg, "training.optimizer.lr", "0.01") != PIXL_OK ||
 *         pixl_config_validate(&cfg) != PIXL_OK)
 *         fprintf(stderr, "%s\n", pixl_last_error());
 *
 * A config file has the sections model, data, training (with optimizer,
 * lr_schedule and loss), validation and output; every key is optional and
 * has a default (pixl_config_print_defaults() prints them all, with a one-
 * line doc each, as a valid config file; docs/config.md lists them).
 * Errors name the file and line: "run.yaml:3: unknown key 'trainig' (did
 * you mean 'training'?)", "run.yaml:7: training.batch_size: expected an
 * integer, got 'eight'", duplicate keys, values out of range, YAML syntax.
 * The struct is plain data (fixed-size strings and arrays): copy it with =,
 * no free needed. */
#define PIXL_CFG_NAME_LEN 64      /* capacity of names (arch, dataset, splits, option keys) */
#define PIXL_CFG_PATH_LEN 1024    /* capacity of paths */
#define PIXL_CFG_OPTION_LEN 256   /* capacity of model.options.variant */
#define PIXL_CFG_MAX_CLASSES 1024 /* model.n_classes and class_weights entries */
#define PIXL_CFG_MAX_MILESTONES 16
#define PIXL_CFG_INHERIT INT32_MIN /* training.loss.ignore_index: use data.ignore_index */

/* cross_entropy: softmax over the classes; balanced_bce: one sigmoid output
 * trained with pixl_balanced_bce_with_logits on a two-class dataset (labels
 * 0/1, the ignore label masked; boundaries of bsds500) */
typedef enum pixl_loss_kind {
    PIXL_LOSS_CROSS_ENTROPY = 0,
    PIXL_LOSS_BALANCED_BCE = 1, /* edges: one sigmoid output */
    PIXL_LOSS_NORMAL = 2        /* surface normals: 3 outputs, mean (1 - cos) (pixl_normal_loss) */
} pixl_loss_kind;

typedef enum pixl_class_weighting {
    PIXL_CLASS_WEIGHTS_NONE = 0,   /* every class weighs 1 */
    PIXL_CLASS_WEIGHTS_LIST = 1,   /* the values given in class_weight_values */
    PIXL_CLASS_WEIGHTS_ENET = 2,   /* 1 / ln(1.02 + p_c), p_c = share of class c among valid training pixels */
    PIXL_CLASS_WEIGHTS_MEDIAN_FREQ = 3 /* median_c(f_c) / f_c, f_c = pixels of c / pixels of the
                                          training images that contain c (SegNet) */
} pixl_class_weighting;

/* model.options: typed; an unknown key is an error (docs/config.md). */
typedef struct pixl_cfg_model_options {
    float width;                             /* channel multiplier; 0 = the model's default (1) */
    char variant[PIXL_CFG_OPTION_LEN];       /* model-specific variant; pixelnet: "key=value;..." of the head */
    char backbone[PIXL_CFG_NAME_LEN];        /* encoder name; "" = the model's default */
    int output_stride;                       /* dilated encoders: 8, 16, 32; 0 = the model's default */
    int aux;                                 /* auxiliary (deep-supervision) heads in training */
    char pretrained[PIXL_CFG_PATH_LEN];      /* checkpoint whose matching tensors initialise the model */
    pixl_pn_head_opts head;                  /* pixelnet: taps, mlp, dropout, hc_dropout, bn, align, chunk */
} pixl_cfg_model_options;

typedef struct pixl_train_config {
    struct {
        char arch[PIXL_CFG_NAME_LEN]; /* network name */
        int n_classes;                /* 0: from the dataset */
        pixl_cfg_model_options options;
    } model;
    struct {
        char dataset[PIXL_CFG_NAME_LEN]; /* dataset kind */
        char root[PIXL_CFG_PATH_LEN];
        char train_split[PIXL_CFG_NAME_LEN], val_split[PIXL_CFG_NAME_LEN];
        int img_rows, img_cols; /* 0, 0: native size */
        int crop[2];            /* rows, cols; 0, 0: no crop */
        double scale[2];        /* random rescale range [min, max] */
        int flip;               /* random horizontal flip */
        int flip_per_batch;     /* one flip decision per batch instead of per image */
        double color_jitter;    /* brightness/contrast/saturation strength, 0 = off */
        double blur;            /* probability of a Gaussian blur */
        int n_workers;
        int ignore_index;       /* -1: none */
    } data;
    struct {
        int epochs;             /* limits: the run stops at the first one reached; 0 = no limit */
        double max_minutes;
        int64_t max_iters;
        int batch_size;
        struct {
            pixl_optim_kind name;
            double lr, momentum;
            int nesterov;
            double weight_decay;
            double betas[2];
            double eps;
        } optimizer;
        struct {
            pixl_sched_kind name;
            int64_t step_size;  /* iterations */
            double gamma;
            int n_milestones;
            int64_t milestones[PIXL_CFG_MAX_MILESTONES]; /* iterations */
            double power, min_lr;
            int64_t warmup_iters;
            double warmup_start;
        } lr_schedule;
        struct {
            pixl_loss_kind name;
            pixl_class_weighting class_weights;
            int n_class_weights; /* PIXL_CLASS_WEIGHTS_LIST */
            double class_weight_values[PIXL_CFG_MAX_CLASSES];
            int ignore_index;    /* PIXL_CFG_INHERIT: data.ignore_index */
        } loss;
        struct {                 /* pixels with a loss (model.arch pixelnet) */
            int pixels_per_image;
            int strategy;        /* pixl_sample_kind: uniform, class_balanced, edge_balanced, all */
            double pos_fraction; /* edge_balanced: share of positives */
        } sampling;
        int64_t seed;
        int threads;             /* 0: PIXL_NUM_THREADS or all cores */
        int print_interval;      /* iterations between log lines */
        char resume[PIXL_CFG_PATH_LEN]; /* "" = start fresh */
    } training;
    struct {
        int every_epochs;        /* 0 = not by epochs */
        double every_minutes;    /* 0 = not by time */
        int flip;                /* average with the prediction of the flipped image */
        int batch_size;
        int limit;               /* first `limit` validation images only (0 = all) */
        int edge_thresholds;     /* edge datasets: thresholds of the BSDS benchmark (99) */
    } validation;
    struct {
        char run_dir[PIXL_CFG_PATH_LEN];
        int keep_best, keep_last;
    } output;
} pixl_train_config;

/* Every key to its default. */
int pixl_config_defaults(pixl_train_config *cfg);
/* cfg = defaults + the keys of the YAML file, then pixl_config_validate().
 * On failure cfg is unchanged and the error names "path:line". */
int pixl_config_load(const char *path, pixl_train_config *cfg);
/* The same with n_set "KEY=VALUE" overrides (pixl_config_set) applied after
 * the file and before validation, so a file completed by its overrides loads. */
int pixl_config_load_ex(const char *path, pixl_train_config *cfg, int n_set, const char *const *set);
/* The same from YAML text; `name` stands for the file name in errors. */
int pixl_config_load_string(const char *yaml, const char *name, pixl_train_config *cfg);
/* Set one key from text, with the same checks as the file ("training.optimizer.lr",
 * "0.01"; lists as "[100, 200]"; "model.options.width" adds an option; a
 * section takes a flow mapping: "training.optimizer", "{name: sgd, lr: 0.1}").
 * String keys take the text verbatim. cfg is unchanged on failure. Cross-key
 * rules are checked by pixl_config_validate(), after all overrides. */
int pixl_config_set(pixl_train_config *cfg, const char *key, const char *value);
/* A key's value as YAML text into buf ("0.01", "[0.9, 0.999]", "adam"). */
int pixl_config_get(const pixl_train_config *cfg, const char *key, char *buf, size_t len);
/* Rules between keys (a training limit is set, scale min <= max, step_size
 * for the step schedule, increasing milestones, class-weight count ...). */
int pixl_config_validate(const pixl_train_config *cfg);
/* Dotted name of the first key whose values differ, NULL when equal. */
const char *pixl_config_diff(const pixl_train_config *a, const pixl_train_config *b);
/* The model options of a config (model.options) for pixl_model_create():
 * width, variant, backbone, output_stride, aux and the PixelNet head (for
 * model.arch pixelnet: the head keys, or the variant string parsed into
 * the same struct). mo's strings and head point into cfg; n_classes and
 * in_channels are left 0 for the caller. *pretrained (may be NULL) is
 * model.options.pretrained or NULL when empty. */
int pixl_config_model_opts(const pixl_train_config *cfg, pixl_model_opts *mo, const char **pretrained);
/* The loss's ignore index with PIXL_CFG_INHERIT resolved to data.ignore_index. */
int pixl_config_loss_ignore_index(const pixl_train_config *cfg);
/* Optimizer options of training.optimizer. */
void pixl_config_optim_opts(const pixl_train_config *cfg, pixl_optim_opts *o);
/* Schedule of training.lr_schedule for a run of max_steps iterations. */
void pixl_config_sched(const pixl_train_config *cfg, int64_t max_steps, pixl_sched *s);
/* The whole config as YAML that loads back to an equal struct, one doc comment per key. */
int pixl_config_print(FILE *f, const pixl_train_config *cfg);
/* pixl_config_print() of the defaults (`pixl train --print-config`). */
int pixl_config_print_defaults(FILE *f);
/* Write the config to path atomically (pixl_atomic_begin/commit). */
int pixl_config_save(const pixl_train_config *cfg, const char *path);
/* Markdown reference of every key (docs/config.md). */
int pixl_config_write_docs(FILE *f);

/* ---------------------------------------------------------- training runs */

typedef struct pixl_eval_opts {
    int flip;       /* average with the mirrored prediction */
    int batch_size; /* 0 -> 1 (images of one batch must share a size) */
    int n_workers;  /* background decoding threads */
    int limit;      /* evaluate only the first `limit` images (0 = all) */
} pixl_eval_opts;

/* Predict every image of ds at its own resolution (the model's input size
 * applies inside) and add to conf (created by the caller with the model's
 * class count and PIXL_IGNORE_LABEL). */
int pixl_evaluate(pixl_model *m, const pixl_dataset *ds, const pixl_eval_opts *o, pixl_confusion *conf);
/* Edge models (1 output: sigmoid; 2 outputs: softmax of class 1) on an
 * edge dataset (bsds500): the BSDS benchmark (pixl_edge_benchmark, options
 * bo may be NULL) of the predicted boundary probabilities against every
 * annotator. src/metrics/task_eval.c */
int pixl_evaluate_edges(pixl_model *m, const pixl_dataset *ds, const pixl_eval_opts *o, const pixl_edge_bench_opts *bo,
                        pixl_edge_bench_result *res);
/* Normal models (3 outputs; only the direction counts) on a normal dataset
 * (synthetic_normals): every image's valid pixels added to acc. */
int pixl_evaluate_normals(pixl_model *m, const pixl_dataset *ds, const pixl_eval_opts *o, pixl_normal_metrics *acc);

/* A training run as an object. pixl_train() is pixl_trainer_new() +
 * pixl_trainer_run() + pixl_trainer_free(); a C program can instead drive
 * the same loop itself:
 *
 *     pixl_trainer *t = pixl_trainer_new(cfg, &hooks);   // data, task, model, graph, optimizer, resume
 *     if (!t) fprintf(stderr, "%s\n", pixl_last_error());
 *     for (int i = 0; i < 100; i++)
 *         if (pixl_trainer_step(t)) break;                // one batch: forward, backward, optimizer
 *     double score;
 *     pixl_trainer_validate(t, &score);                   // the task's metric; best.safetensors
 *     pixl_trainer_save(t);                               // last.safetensors (+ optimizer state)
 *     ...                                                 // e.g. ask for new labels, then step on
 *     pixl_trainer_free(t);
 *
 * What is learned is the run's task, chosen by the training set's kind
 * (segmentation, edges, normals; pixl_trainer_task()): its loss, its
 * metric and the direction of its score. Hooks are called on the thread
 * that calls pixl_trainer_step()/_validate(); a hook returning non-zero
 * ends the step (or validation) with that status (set a message with
 * pixl_set_error-like care: pixl_last_error() is then the caller's). */
typedef struct pixl_trainer pixl_trainer;

typedef struct pixl_train_hooks {
    volatile int *stop; /* polled every step by pixl_trainer_run: non-zero saves a checkpoint and returns */
    FILE *log;          /* progress and log lines (NULL -> stderr) */
    int quiet;          /* no progress bar, only validation lines */
    int64_t stop_after; /* > 0: pixl_trainer_run stops (saving, as on *stop) once this many steps are done */
    void *user;         /* passed to the callbacks */
    /* gradients of the step are in pixl_params_grad_flat(pixl_trainer_params(t)), the optimizer has not
     * run yet: the place to all-reduce them across processes (data-parallel training) */
    int (*after_backward)(pixl_trainer *t, void *user);
    /* after the optimizer step (pixl_trainer_steps() counts it already) */
    int (*after_step)(pixl_trainer *t, void *user);
    /* after a validation: the task's score, whether it is the best so far, the metrics as JSON */
    int (*after_validate)(pixl_trainer *t, double score, int best, const char *metrics_json, void *user);
} pixl_train_hooks;

/* Everything a run needs from `cfg` (copied; the caller may free it): the
 * run directory, data sets and loader, the task, the model (initialised
 * from model.options.pretrained if set), the training graph (memory
 * planned here), the optimizer, and with training.resume the state of a
 * checkpoint. NULL with pixl_last_error() naming what does not fit (a
 * loss, data set or model that do not go together names both sides). */
pixl_trainer *pixl_trainer_new(const pixl_train_config *cfg, const pixl_train_hooks *hooks);
/* One optimizer step on the next batch: learning rate from the schedule,
 * forward, backward, after_backward, optimizer, after_step; progress and
 * log.jsonl lines every training.print_interval steps. The step limits of
 * the config are pixl_trainer_run()'s business, not this function's. */
int pixl_trainer_step(pixl_trainer *t);
/* The task's validation on the validation split; a "val" line in the log
 * and log.jsonl; best.safetensors when the score is the best so far (and
 * output.keep_best). *score (may be NULL): mIoU, ODS F or mean angle. */
int pixl_trainer_validate(pixl_trainer *t, double *score);
/* last.safetensors and last.optim.safetensors in the run directory, with
 * step, epoch, position in the epoch, time and best score: what resume reads. */
int pixl_trainer_save(pixl_trainer *t);
/* Continue from a checkpoint written by pixl_trainer_save(): parameters,
 * optimizer state, step, epoch, data order, time, best score. Only before
 * the first step. */
int pixl_trainer_resume(pixl_trainer *t, const char *checkpoint);
/* The loop of `pixl train`: steps until training.epochs / max_iters /
 * max_minutes or a stop (hooks), validation every validation.every_epochs
 * or every_minutes and at the end, checkpoints, a summary line. */
int pixl_trainer_run(pixl_trainer *t);
void pixl_trainer_free(pixl_trainer *t);

int64_t pixl_trainer_steps(const pixl_trainer *t);   /* optimizer steps done (including before a resume) */
int64_t pixl_trainer_epoch(const pixl_trainer *t);   /* the epoch the next batch belongs to */
float pixl_trainer_loss(const pixl_trainer *t);      /* the loss of the last step (NaN before the first) */
pixl_model *pixl_trainer_model(pixl_trainer *t);     /* the model being trained (owned by t) */
pixl_params *pixl_trainer_params(pixl_trainer *t);   /* its parameters: flat values and gradients */
const pixl_dataset *pixl_trainer_dataset(const pixl_trainer *t, int val); /* the training (0) or validation (1) set */
const char *pixl_trainer_task(const pixl_trainer *t); /* "segmentation", "edges", "normals" */
const char *pixl_trainer_run_dir(const pixl_trainer *t);

/* Train as `cfg` says: datasets, model, loss, optimizer and schedule, data
 * loading on background threads, validation, and a run directory
 * (output.run_dir) with config.yaml, log.jsonl (one JSON object per log
 * line), last.safetensors (+ last.optim.safetensors) and best.safetensors
 * (by the task's validation score), all written atomically. With
 * training.resume = RUN_DIR/last.safetensors it continues with the same
 * schedule, step count and data order. */
int pixl_train(const pixl_train_config *cfg, const pixl_train_hooks *hooks);

/* The data set of a config's split (NULL = data.val_split) as training opens
 * it; for the embedded synthetic set the splits are disjoint, seeded from
 * training.seed. limit > 0 keeps the first `limit` samples. */
pixl_dataset *pixl_config_open_split(const pixl_train_config *cfg, const char *split, int limit);

/* REPORTS (src/report/)
 * One self-contained HTML page about a run directory written by
 * pixl_train(): inline-SVG charts and inline PNG images, no scripts, no
 * external URLs. The page shows the run's summary and curves from
 * log.jsonl, config.yaml and the checkpoint, and then what belongs to the
 * task of the run's data set:
 *   segmentation  validation mIoU / pixel accuracy over time, per-class IoU
 *                 table and confusion matrix of the best validation record,
 *                 input | ground truth | prediction samples;
 *   edges         ODS / OIS / AP over time, the precision-recall curve of
 *                 the best checkpoint (BSDS benchmark on the first
 *                 validation images), image | boundaries | probability samples;
 *   normals       mean / median angle and within 11.25 / 22.5 / 30 degrees
 *                 over time, image | true | predicted normals | angular
 *                 error samples.
 * Samples use best.safetensors (else last.safetensors) on the first
 * validation images, opened as pixl_config_open_split() does. Errors: a
 * missing run_dir or log.jsonl, a complete log line that is not a JSON
 * object (the message names file and line), an unwritable output; then no
 * page is written. A missing config, checkpoint or data set only leaves a
 * note in the page. The page is written to OUT.tmp.XXXXXX and renamed
 * over OUT (default RUN_DIR/report.html). */
typedef struct pixl_report_opts {
    int n_samples; /* validation images with predictions: 0 -> 4, negative -> none, at most 64 */
} pixl_report_opts;
int pixl_report_write(const char *run_dir, const char *out_html, const pixl_report_opts *opts);

/* ---------------------------------------------------------------- PixelNet */
/* (section owned by src/pixelnet/, src/ops/hypercolumn.c, src/ops/pixel_loss.c)
 *
 * PixelNet (Bansal et al. 2017): a fully convolutional trunk, and a head
 * (an MLP) that reads, for a sparse sample of pixels only, the bilinearly
 * interpolated features of several trunk layers ("hypercolumns"). Training
 * computes the head and its loss at the sampled pixels; inference runs the
 * head at every pixel in bounded chunks.
 *
 *     pixl_sampler_opts so = {.kind = PIXL_SAMPLE_UNIFORM, .per_image = 2000, .n_classes = K};
 *     pixl_sample_pixels(&so, seed, labels, N, H, W, pix, plab);      // (N*2000, 3), (N*2000)
 *     pixl_tensor *hc = pixl_hypercolumn(ctx, 3, maps, strides, NULL, pixels);  // (P, sum C)
 *
 * PIXEL LISTS are (P, 3) rows (n, y, x): image index in the batch and 0-based
 * input coordinates, int32 (or float32 for sub-pixel positions). */

typedef enum pixl_sample_kind {
    PIXL_SAMPLE_UNIFORM = 0,        /* uniform over the valid pixels (PixelNet's released code) */
    PIXL_SAMPLE_CLASS_BALANCED = 1, /* the same count from each class present in the image */
    PIXL_SAMPLE_EDGE_BALANCED = 2,  /* positives (label > 0) and negatives (label 0) in a fixed ratio */
    PIXL_SAMPLE_ALL = 3             /* every pixel in raster order (per_image = h*w): the all-pixel baseline */
} pixl_sample_kind;

typedef struct pixl_sampler_opts {
    pixl_sample_kind kind;
    int per_image;      /* pixels drawn from each image, > 0 */
    int n_classes;      /* a pixel is valid when 0 <= label < n_classes; 0: label >= 0 and != PIXL_IGNORE_LABEL */
    float pos_fraction; /* EDGE_BALANCED: share of positives, 0 -> 0.5 */
    int empty_label;    /* label written for the rows of an image without valid pixels, 0 -> PIXL_IGNORE_LABEL */
} pixl_sampler_opts;

/* Draw o->per_image pixels from each of the n label maps (n, h, w) int32:
 * rows [i*per_image, (i+1)*per_image) of `pixels` ((n*per_image, 3) int32)
 * belong to image i, `sampled_labels` (may be NULL) receives the label at
 * each row. Within a group (the image, a class, positives, negatives)
 * pixels are drawn uniformly WITHOUT replacement; when the group has fewer
 * pixels than requested every pixel is taken floor(k/m) times and the
 * remainder drawn without replacement (PixelNet tiles the candidate list).
 * CLASS_BALANCED splits per_image equally over the classes present (the
 * first classes, in label order, take the remainder); EDGE_BALANCED takes
 * round(per_image * pos_fraction) positives unless the image has none (then
 * all negatives, and vice versa). An image without valid pixels gets rows
 * (i, 0, 0) labelled empty_label (make the loss ignore that label).
 * ALL lists every pixel of each image in raster order (per_image must be
 * h*w) and labels the invalid ones empty_label: training on all pixels
 * through the same sampled graph, the baseline the samplers are measured by.
 * The result depends only on (seed, image index, labels, options), not on
 * the thread count; images are sampled in parallel. Returns the number of
 * rows that point at valid pixels, or a negative status. */
int64_t pixl_sample_pixels(const pixl_sampler_opts *o, uint64_t seed, const int32_t *labels, int n, int h, int w,
                           int32_t *pixels, int32_t *sampled_labels);

#define PIXL_HYPERCOLUMN_MAX_MAPS 7
/* Hypercolumns: maps[b] (N, C_b, H_b, W_b) with strides (input pixels per
 * cell) and offsets (input coordinate of cell 0's centre; NULL -> PixelNet's
 * (stride-1)/2), pixels (P, 3) -> (P, sum C_b): for each row the bilinear
 * interpolation of every map at ((y - offset)/stride, (x - offset)/stride),
 * clamped to the map's border, maps concatenated in order. Backward scatters
 * into the maps (deterministic); pixels get no gradient. A row naming an
 * image outside [0, N) makes pixl_forward() fail with an error naming it. */
pixl_tensor *pixl_hypercolumn(pixl_ctx *ctx, int n_maps, pixl_tensor *const *maps, const float *stride,
                              const float *offset, pixl_tensor *pixels);
/* Dense inference of a hypercolumn MLP: every pixel (y, x) of an out_h x
 * out_w image gets hypercolumn -> Linear(weights[0], biases[0]) -> ReLU ->
 * ... -> Linear(weights[L-1], biases[L-1]) (no ReLU after the last), written
 * to (N, K, out_h, out_w), K = rows of the last weight. Run in chunks of
 * `chunk` pixels (0 -> 16384): scratch memory does not grow with the image.
 * Forward only; equal (to float rounding) to pixl_hypercolumn + pixl_linear
 * + pixl_relu at the same pixels. n_maps + 2*n_layers <= 16. */
pixl_tensor *pixl_hypercolumn_mlp_dense(pixl_ctx *ctx, int n_maps, pixl_tensor *const *maps, const float *stride,
                                        const float *offset, int out_h, int out_w, int n_layers,
                                        pixl_tensor *const *weights, pixl_tensor *const *biases, int chunk);

/* Surface-normal loss of PixelNet (Caffe Normalize + EuclideanLoss): pred
 * and target (P, C) (C = 3 for normals), mask (P) f32/u8/i32 (nonzero rows
 * count) or NULL:  L = 1/(2 M) sum_p ||pred_p / max(||pred_p||, eps) - target_p||^2
 * over the M counted rows (0 rows: L = 0), which is mean(1 - cos) for unit
 * targets. eps <= 0 -> 1e-12. Gradients flow to pred (and to target when it
 * has a gradient buffer). */
pixl_tensor *pixl_normal_loss(pixl_ctx *ctx, pixl_tensor *pred, pixl_tensor *target, pixl_tensor *mask, float eps);
/* Class-balanced sigmoid cross-entropy (HED; PixelNet's edges): logits and
 * target (any equal shapes, target in [0, 1], >= 0.5 counts as positive),
 * mask (same shape, nonzero counts) or NULL. Over the counted elements with
 * |Y+| positives and |Y-| negatives, positives weigh |Y-|/(|Y+|+|Y-|) and
 * negatives |Y+|/(|Y+|+|Y-|) (the weights are data, not differentiated);
 * element loss as pixl_bce_with_logits. MEAN divides the weighted sum by the
 * number counted, SUM does not (0 counted: 0). */
pixl_tensor *pixl_balanced_bce_with_logits(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *target,
                                           pixl_tensor *mask, pixl_reduction red);

/* The PixelNet model ("pixelnet" in the zoo). Its options are
 * pixl_model_opts.head, or else the variant string, ';'-separated
 * key=value pairs of the same keys (defaults in brackets):
 *   taps=a,b,c     backbone taps read by the hypercolumn [the backbone's default list]
 *   mlp=512,512    hidden widths of the head; "mlp=" = a linear head [512,512]
 *   dropout=0.5    dropout after each hidden ReLU [0.5]
 *   hc_dropout=0   dropout on the hypercolumn [0]
 *   bn=1           BatchNorm side branch (affine=False) on each tap [1]
 *   align=center   tap offsets: center = (stride-1)/2 (pooled maps, PixelNet),
 *                  corner = 0 (maps made by strided convolutions) [center]
 *   chunk=16384    pixels per chunk of dense inference [16384]
 * pixl_model_opts.backbone names the trunk (pixl_backbone_build's names, or
 * "pixelnet_tiny": three conv3x3+ReLU stages with 2x2 max pools, for tests).
 * Parameter names: the trunk under "backbone.", "tap_bn.<i>.running_mean"...,
 * the head as a torch nn.Sequential "head.<j>.weight" (Dropout and ReLU
 * modules counted in j). pixl_model_build(ctx, "pixelnet", ...) gives the
 * dense (N, K, H, W) logits (inference only); training uses this builder:
 * logits (P, K) at the rows of `pixels` (P, 3). */
pixl_tensor *pixl_pixelnet_sampled(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *pixels, const pixl_model_opts *o);
/* taps none (the backbone's default), mlp [512, 512], dropout 0.5,
 * hc_dropout 0, bn true, align center, chunk 16384. */
pixl_pn_head_opts pixl_pn_head_defaults(void);
/* Set one head option from text ("mlp", "[512, 512]"; "taps", "conv3,conv4";
 * "align", "corner"). An unknown key fails with PIXL_ERR_NOT_FOUND naming it
 * and the valid keys; a bad value with PIXL_ERR_ARG; o is unchanged then. */
int pixl_pn_head_set(pixl_pn_head_opts *o, const char *key, const char *value);
/* o = defaults + the "key=value;..." pairs of a variant string (NULL or "" = defaults). */
int pixl_pn_head_parse(const char *variant, pixl_pn_head_opts *o);
/* The variant string of o: the keys that differ from the defaults, in the
 * order above ("mlp=128,128;dropout=0.2"; "" for the defaults). */
int pixl_pn_head_format(const pixl_pn_head_opts *o, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* PIXL_H */
