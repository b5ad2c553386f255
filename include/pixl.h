/* pixl.h — the core of pixl, pixel-level prediction in C: tensors, a compute
 * graph with reverse-mode autodiff, CPU kernels (ops, losses, PAC), layers
 * with parameters, optimizers, schedules, checkpoints and safetensors I/O.
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
 *   In PIXL_MODE_EVAL the planner also fuses (on by default; off with
 *   pixl_ctx_set_fusion(ctx, 0) or PIXL_FUSION=0): a convolution followed by an
 *   eval BatchNorm, ReLU / ReLU6 / hardtanh and a residual add (in that
 *   order, each the only reader of the one before) runs as one node that
 *   applies them to each output tile while it is in cache; the fused nodes
 *   become views of the convolution's output (their values are the chain's
 *   end, not their own: keep or probe a node to stop a chain there). The
 *   outputs are the unfused graph's, bit for bit, in about four fifths of
 *   the memory and mostly 5-10% less time (docs/benchmarks.md).
 *
 * NAMES
 *   Public symbols start with pixl_, macros and enum values with PIXL_.
 *   Types have no _t suffix. Parameters are named as PyTorch state_dict keys
 *   ("enc1.0.weight"), so PyTorch tensors load without renaming.
 *
 * LAYERS AND LINKING
 *   pixl is built in layers. Each has one header, which includes the headers
 *   of the layers it uses, and one archive; a program links the archives of
 *   the layers it uses, the highest first, and their system libraries:
 *     header          archive                  system libraries (Debian packages)
 *     pixl.h          build/libpixl_core.a     BLAS: -lopenblas (libopenblas-dev; or
 *                                              BLIS / a generic cblas), -lcjson
 *                                              (libcjson-dev), -lm, -fopenmp (gcc)
 *     pixl_models.h   build/libpixl_models.a   the core's
 *     pixl_data.h     build/libpixl_data.a     -lpng (libpng-dev), -ljpeg
 *                                              (libjpeg62-turbo-dev), -lmatio
 *                                              (libmatio-dev), -lpthread; + the core's
 *     pixl_metrics.h  build/libpixl_metrics.a  the core's
 *     pixl_train.h    build/libpixl_train.a    -lyaml (libyaml-dev); + every layer
 *                                              above (models, data, metrics, core)
 *   build/libpixl.a and build/libpixl.so hold every layer (the shared library
 *   exports the pixl_ symbols only). Inference on a trained model needs no
 *   image, data-set or YAML library:
 *     cc app.c build/libpixl_models.a build/libpixl_core.a -lopenblas -lcjson -lm -fopenmp
 *   This header is the core: every other header includes it, and the rules
 *   below (ownership, errors, threads, names) hold in every layer unless its
 *   header says otherwise.
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
 * PIXL_NUM_THREADS (an integer in [1, 4096]; any other value is ignored) or
 * all cores. n < 1 means 1. */
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

/* pixl's one JSON writer (metrics, scores, training logs, bench files,
 * safetensors headers). Start from `pixl_json j = {0};`, write values in
 * order, then take the text with pixl_json_finish(). `key` names the member
 * inside an object and is NULL inside an array or for the top value; commas
 * and colons are placed for you (as the layout below says). Numbers read
 * back exactly: doubles with up to 17 significant digits, floats
 * (pixl_json_f32) with up to 9, so they read back as the same float; NaN and
 * infinities are written as null. Strings are escaped. The fields are
 * private. */
typedef struct pixl_json { char *p; size_t n, cap; int err, depth, layout; uint64_t has_items; } pixl_json;
/* The layout, set before the first value (pixl_json_finish() resets it):
 * PIXL_JSON_SPACED, the default, is one line with ", " and ": ";
 * PIXL_JSON_COMPACT is one line without spaces (file headers, JSON held in
 * metadata strings); PIXL_JSON_PRETTY puts each member of an object or
 * array on its own line, indented by two spaces per level (files people
 * read). Text from pixl_json_raw() is copied as it is in every layout. */
typedef enum pixl_json_layout { PIXL_JSON_SPACED = 0, PIXL_JSON_COMPACT = 1, PIXL_JSON_PRETTY = 2 } pixl_json_layout;
void pixl_json_set_layout(pixl_json *j, pixl_json_layout layout);
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
/* EVAL fusion at plan time (on by default; see MEMORY PLANNING); call before
 * pixl_ctx_plan(). pixl_ctx_fused_count(): nodes fused away by the plan. */
int pixl_ctx_set_fusion(pixl_ctx *ctx, int on);
int pixl_ctx_fused_count(const pixl_ctx *ctx);
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

/* Auxiliary outputs: a model built with opts.aux = 1 registers extra logits
 * (any spatial size; the loss resizes labels or logits as the model says)
 * with a loss weight; training adds weight * loss(aux_i) to the main loss.
 * Inference ignores them. */
int pixl_ctx_add_aux(pixl_ctx *ctx, pixl_tensor *logits, float weight);
int pixl_ctx_aux_count(const pixl_ctx *ctx);
pixl_tensor *pixl_ctx_aux(const pixl_ctx *ctx, int i, float *weight);
/* Extra loss terms: a model registers scalar [1] losses of its own (PAG's
 * budget losses) with a weight; training adds weight * loss_i to the task's
 * loss. Up to 64. */
int pixl_ctx_add_loss(pixl_ctx *ctx, pixl_tensor *loss, float weight);
int pixl_ctx_loss_count(const pixl_ctx *ctx);
pixl_tensor *pixl_ctx_loss(const pixl_ctx *ctx, int i, float *weight);
/* Probes: named intermediate maps a model exposes (PAG's gates and
 * MultiPool's choice) for reports and statistics; kept alive (pixl_keep) in
 * EVAL graphs so they can be read after pixl_forward. Up to 64. */
int pixl_ctx_add_probe(pixl_ctx *ctx, const char *name, pixl_tensor *t);
int pixl_ctx_probe_count(const pixl_ctx *ctx);
pixl_tensor *pixl_ctx_probe(const pixl_ctx *ctx, int i, const char **name);
pixl_tensor *pixl_ctx_probe_find(const pixl_ctx *ctx, const char *name);


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
 * of the file that P lacks is an error unless `allow_extra`. A NaN or
 * infinity in a floating-point tensor (weights, running statistics) is an
 * error naming the file, the tensor and the element: a diverged model would
 * otherwise predict and score as if it were one. P is unchanged when loading
 * fails. */
int pixl_checkpoint_load(pixl_params *P, const char *path, int allow_extra);
/* Flags of pixl_checkpoint_load_ex() and pixl_model_load_ex(). */
#define PIXL_LOAD_ALLOW_EXTRA 1u     /* tensors of the file that P lacks are skipped */
#define PIXL_LOAD_ALLOW_NONFINITE 2u /* NaN/Inf values load as they are (to inspect a broken model) */
/* pixl_checkpoint_load() with flags: pixl_checkpoint_load(P, path, x) is
 * pixl_checkpoint_load_ex(P, path, x ? PIXL_LOAD_ALLOW_EXTRA : 0). */
int pixl_checkpoint_load_ex(pixl_params *P, const char *path, unsigned flags);
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
/* The gated 3x3 convolution of a pixel-wise attentional gating (PAG)
 * bottleneck at inference, computed only at the active pixels:
 *   z = mask ? act(bn_scale * (conv3x3(h1) + b) + bn_shift) : h1
 * h1 (N,C,H,W); mask (N,1,H,W) f32 with values 0 or 1 only (a hard gate at
 * the output resolution; another value makes pixl_forward() fail naming it);
 * w (C,C,3,3): groups 1, stride 1, padding = dilation (0 -> 1); C_out must
 * equal C since inactive pixels pass h1 through. b, bn_scale, bn_shift (C)
 * or NULL (an eval-mode BatchNorm folded into a per-channel affine:
 * scale = gamma/sqrt(var+eps), shift = beta - mean*scale); act = ReLU when
 * relu is non-zero, else the identity. Equal (to float rounding) to
 * conv2d + affine + relu selected by the mask. Cost follows the active
 * pixels: an image with none is a copy, and the inactive pixels of the
 * others are copies (pixl bench gated measures it against the dense
 * computation). The same as pixl_gated_conv3x3_ex with gate = mask,
 * channel 0, bn_weight = bn_scale and bn_bias = bn_shift. Forward only:
 * building it on an input that needs a gradient fails
 * (PIXL_ERR_UNSUPPORTED). */
pixl_tensor *pixl_gated_conv3x3(pixl_ctx *ctx, pixl_tensor *h1, pixl_tensor *mask, pixl_tensor *w, pixl_tensor *b,
                                pixl_tensor *bn_scale, pixl_tensor *bn_shift, int dilation, int relu);
/* The general form. gate (N, K, H, W) holds 0/1 values (a one-hot from a
 * hard gate); pixels where gate[:, channel] == 1 compute
 *     act(scale[o] * (conv3x3(x)[o] + bias[o]) + shift[o])
 * with scale = bn_weight (or 1) / sqrt(bn_var + bn_eps) (or 1 without
 * bn_var) and shift = bn_bias (or 0) - bn_mean * scale (without bn_mean:
 * bn_bias): an eval-mode BatchNorm folded per forward as batch_norm2d does
 * (so a graph follows parameter updates), or a plain per-channel affine
 * without mean/var. Every other pixel is `pass` (N, C_out, H, W), or x when
 * pass is NULL (then C_out = C). Only the chosen channel of the gate is
 * read; a value other than 0 or 1 there makes pixl_forward() fail naming
 * the image and pixel. o may be NULL (dilation 1, no ReLU, nothing else).
 * MultiPool chains one call per dilated branch, each with pass = the
 * previous call's output. Forward only. */
typedef struct pixl_gated_conv_opts {
    int dilation;      /* 0 -> 1; padding = dilation (same size) */
    int relu;          /* 1: ReLU after the affine */
    pixl_tensor *pass; /* NULL = x */
    pixl_tensor *bias; /* conv bias (C_out) or NULL */
    pixl_tensor *bn_weight, *bn_bias, *bn_mean, *bn_var; /* (C_out) each, or NULL */
    float bn_eps;      /* 0 -> 1e-5 */
} pixl_gated_conv_opts;
pixl_tensor *pixl_gated_conv3x3_ex(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *gate, int channel, pixl_tensor *w,
                                   const pixl_gated_conv_opts *o);

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

/* DETECTION OPS (torchvision.ops semantics; src/ops/roi.c, src/ops/boxes.c).
 * Boxes are (x1, y1, x2, y2) in input-image coordinates.
 *
 * RoIAlign (Mask R-CNN): x (N,C,H,W) f32, boxes (K,5) f32 rows (batch index,
 * x1, y1, x2, y2) -> (K,C,out_h,out_w). The box is scaled by spatial_scale
 * (> 0) onto x; each output bin averages a grid of bilinear samples,
 * sampling_ratio per side (<= 0: adaptive, ceil(roi size / output size));
 * aligned = 1 shifts by -0.5 pixel (pixel centres), aligned = 0 clamps the
 * roi size to >= 1 (the original RoIAlign). Differentiable in x (boxes get no
 * gradient). A batch index outside [0, N) or a non-finite box fails the
 * forward with an error naming the op and the box. */
pixl_tensor *pixl_roi_align(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *boxes, int out_h, int out_w,
                            double spatial_scale, int sampling_ratio, int aligned);
/* RoIPool (Fast R-CNN): as roi_align, each bin the maximum of the input cells
 * it covers (box corners rounded, bins with floor/ceil), 0 when the bin is
 * empty; the gradient goes to the maximum's cell. */
pixl_tensor *pixl_roi_pool(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *boxes, int out_h, int out_w,
                           double spatial_scale);
/* boxes1 (N,4), boxes2 (M,4) f32 -> (N,M): IoU, and generalized IoU (IoU -
 * (enclosing area - union) / enclosing area). Differentiable in both box
 * sets (the GIoU loss). */
pixl_tensor *pixl_box_iou(pixl_ctx *ctx, pixl_tensor *boxes1, pixl_tensor *boxes2);
pixl_tensor *pixl_generalized_box_iou(pixl_ctx *ctx, pixl_tensor *boxes1, pixl_tensor *boxes2);
/* torchvision's BoxCoder (models.detection._utils) with weights (wx, wy,
 * ww, wh), each finite and > 0 (Faster/Mask R-CNN: (10, 10, 5, 5) in the
 * box head, (1, 1, 1, 1) in the RPN).
 * box_encode: reference_boxes (N,4), proposals (N,4) f32 -> deltas (N,4):
 * with w = x2 - x1, cx = x1 + 0.5 * w (h, cy alike), g the reference box and
 * p the proposal, (wx * (g.cx - p.cx) / p.w, wy * (g.cy - p.cy) / p.h,
 * ww * log(g.w / p.w), wh * log(g.h / p.h)) (encode_single).
 * box_decode: rel_codes (N, 4*C), boxes (N,4) f32 -> (N, 4*C) boxes, per
 * class (decode_single): dx = code / wx, dw = min(code / ww,
 * log(1000 / 16)) (dy, dh alike); centre dx * w + cx, width exp(dw) * w.
 * Computed in double in torchvision's order, stored in f32. Differentiable
 * in both inputs (decode: no gradient to a dw, dh above the clamp, as
 * torch.clamp). */
pixl_tensor *pixl_box_encode(pixl_ctx *ctx, pixl_tensor *reference_boxes, pixl_tensor *proposals, double wx, double wy,
                             double ww, double wh);
pixl_tensor *pixl_box_decode(pixl_ctx *ctx, pixl_tensor *rel_codes, pixl_tensor *boxes, double wx, double wy,
                             double ww, double wh);
/* Non-maximum suppression: boxes (N,4) f32, scores (N) f32 -> int64 (N): the
 * indices of the kept boxes in decreasing score order (equal scores in index
 * order), then -1 up to N; a box is dropped when its IoU with a kept box of
 * higher score is > iou_threshold. batched_nms: only boxes of the same
 * category idxs (N, int32 or int64) suppress each other. The number kept is
 * known after pixl_forward(): pixl_nms_count() (pixl_keep() the output in
 * EVAL graphs). Not differentiable. */
pixl_tensor *pixl_nms(pixl_ctx *ctx, pixl_tensor *boxes, pixl_tensor *scores, double iou_threshold);
pixl_tensor *pixl_batched_nms(pixl_ctx *ctx, pixl_tensor *boxes, pixl_tensor *scores, pixl_tensor *idxs,
                              double iou_threshold);
/* Entries of a pixl_nms / pixl_batched_nms output before its first -1 (after
 * pixl_forward()), or a negative status. */
int64_t pixl_nms_count(pixl_tensor *keep);
/* The same NMS on plain arrays, no graph: boxes n x 4, scores n, idxs n
 * categories (NULL: one category); writes the kept indices to keep (room
 * for n) and returns their count (0 for n = 0), or a negative status. */
int64_t pixl_nms_f32(const float *boxes, const float *scores, const int64_t *idxs, int64_t n, double iou_threshold,
                     int64_t *keep);

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
/* Monte-Carlo dropout: pixl_dropout, and also in EVAL when the ctx was
 * switched to it with pixl_ctx_set_mc_dropout() before building; each
 * pixl_forward() then draws new masks (see pixl_ctx_set_seed), while every
 * other layer keeps its inference behaviour (BatchNorm on running
 * statistics, other dropouts off). Models put it where the method samples
 * (deeplabv3plus: the last dropout of its head, p 0.2, as PixelPick). */
pixl_tensor *pixl_dropout_mc(pixl_ctx *ctx, pixl_tensor *x, float p);
/* Switch pixl_dropout_mc on (1) or off (0) in EVAL graphs built from now on
 * (PIXL_ERR_STATE once the ctx is planned). */
int pixl_ctx_set_mc_dropout(pixl_ctx *ctx, int on);

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

/* PixelNet's hypercolumns (the head of pixl_pixelnet_sampled in
 * pixl_models.h): pixel lists are (P, 3) rows (n, y, x): image index in the
 * batch and 0-based input coordinates, int32 (or float32 for sub-pixel
 * positions). */
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

/* Channel argmax of logits (N,K,H,W) float32 -> out (N,H,W) int32. Ties
 * take the first maximum; a NaN wins (as torch.argmax / numpy.argmax). */
int pixl_argmax_channels(const float *logits, int64_t n, int64_t k, int64_t h, int64_t w, int32_t *out);

/* PIXEL-WISE ATTENTIONAL GATING (PAG, Kong & Fowlkes 2019): per-pixel gates
 * choose between two branches of a block; budget losses pull the fraction of
 * pixels that compute towards a target. Gates are (N, 2, H, W): channel 0 =
 * "skip" (pass the reduced feature h1), channel 1 = "compute" (h2). */

/* Relaxed Gumbel softmax over the channels of logits (N, K, H, W).
 * PIXL_MODE_TRAIN, per pixel, with the noise u of the same shape:
 *     u' = (u + 1e-5) / 1.001,  g = -log(-log u'),
 *     p  = (softmax(x) + 0.001) / 1.001,  y = softmax((log p + g) / t).
 * Backward is the exact gradient of that expression (not straight-through)
 * into logits, and into noise when it has a gradient buffer. noise holds u
 * in [0, 1) (f32, the shape of logits); NULL draws u from the ctx's random
 * stream (pixl_ctx_set_seed; new draws every forward, any thread count
 * gives the same ones). Evaluation modes (PIXL_MODE_EVAL and EVAL_GRAD):
 * the one-hot of the first maximum of softmax(x), noise ignored (may be
 * NULL), no gradient. t must be finite and > 0 (errors name the op and the
 * value). */
pixl_tensor *pixl_gumbel_softmax(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *noise, float t);
/* Straight-through Gumbel softmax. PIXL_MODE_TRAIN: the output is the
 * one-hot of the first maximum over the channels of the relaxed y of
 * pixl_gumbel_softmax (the same y for the same logits, noise and t: the
 * same epsilons, and with noise NULL the same kind of draw from the ctx's
 * stream, keyed by this node); the backward is the exact gradient of that
 * relaxed y (y_hard - y.detach() + y in PyTorch's terms), into logits and
 * into noise when it has a gradient buffer. Keeps y (the size of logits)
 * from forward to backward. Evaluation modes: as pixl_gumbel_softmax (the
 * one-hot of the argmax of the logits, no gradient). Arguments and errors
 * as pixl_gumbel_softmax, named "gumbel_softmax_st". */
pixl_tensor *pixl_gumbel_softmax_st(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *noise, float t);
/* Set the temperature of every Gumbel softmax (relaxed, straight-through or
 * hard) of ctx (an annealing schedule changes it between steps without
 * rebuilding the graph). Returns how many nodes changed, or an error for t
 * not finite or <= 0. */
int pixl_ctx_set_temperature(pixl_ctx *ctx, float t);

/* Gradient of the gate in pixl_mask_gating:
 *   PIXL_GATE_GRAD_TRUE          dL/dg_k = sum over channels of h_k * dz
 *                                (the true gradient; the default);
 *   PIXL_GATE_GRAD_CHANNEL_MEAN  the mean over channels, (1/C) sum h_k * dz:
 *                                the rule of the PAG authors' code, which
 *                                scales the true gradient by 1/C. */
typedef enum pixl_gate_grad_rule { PIXL_GATE_GRAD_TRUE = 0, PIXL_GATE_GRAD_CHANNEL_MEAN = 1 } pixl_gate_grad_rule;
/* g (N, 2, H, W), h1 and h2 (N, C, H, W) -> z = g[:,0] * h1 + g[:,1] * h2
 * (the gate broadcast over channels); dL/dh_k = g_k * dz, the gate's
 * gradient by `rule`. */
pixl_tensor *pixl_mask_gating(pixl_ctx *ctx, pixl_tensor *g, pixl_tensor *h1, pixl_tensor *h2,
                              pixl_gate_grad_rule rule);
/* The gated 3x3 conv of a PAG bottleneck in TRAINING, computed only at the
 * active pixels (src/ops/gated_conv_train.c). h1 (N, C, H, W); gate
 * (N, 2, H, W) a hard one-hot (pixl_gumbel_softmax_st): pixel (n, y, x) is
 * active when gate[n, 1, y, x] == 1 (then gate[n, 0] must be 0) and inactive
 * when gate[n, 1] == 0 (gate[n, 0] == 1); other values make pixl_forward()
 * fail naming the pixel. w (C, C, 3, 3), no bias, padding = dilation
 * (0 -> 1); bn_weight, bn_bias (C) or NULL (1 and 0); bn_running_mean,
 * bn_running_var (C), both or neither (none kept); bn: eps (0 -> 1e-5) and
 * momentum (0 -> 0.1; negative, the cumulative average, is refused: there
 * is no batch counter, and num_batches_tracked is not touched).
 * PIXL_MODE_TRAIN only. Forward, with P the count of active pixels of the
 * whole batch (it changes from step to step):
 *     y  = conv3x3(h1) at the P active pixels (their 3x3 neighbourhoods
 *          gathered into a (C*9, P) column matrix, one gemm),
 *     h2 = ReLU(BN(y)), BN with the mean and biased variance of y over the
 *          P active pixels (NOT over all N*H*W pixels as dense training
 *          computes them), running_mean/var updated with momentum as
 *          pixl_batch_norm2d does (unbiased variance P/(P-1); P = 1: the
 *          biased one); P = 0: no statistics and no update,
 *     z  = h2 at the active pixels, h1 at the inactive ones.
 * Backward: dh1 = dz at the inactive pixels, plus the conv's input gradient
 * from the active outputs (W^T dY scattered back, col2im); dW, dbn_weight,
 * dbn_bias from the active pixels only (BN's backward with the same P
 * statistics); the gate (when it has a gradient buffer):
 *     active pixels    dL/dg1 = sum_c h2 dz,  dL/dg0 = sum_c h1 dz,
 *     inactive pixels  dL/dg1 = dL/dg0 = sum_c h1 dz: h2 is not computed
 *                      there and is taken to be h1 (an approximation: the
 *                      true gradient of pixl_mask_gating would use h2),
 * both divided by C for PIXL_GATE_GRAD_CHANNEL_MEAN. Equal (to float
 * rounding) to the dense computation conv2d + BN + ReLU + pixl_mask_gating
 * at one-hot gates when BN takes its statistics over the active pixels. */
pixl_tensor *pixl_gated_conv3x3_train(pixl_ctx *ctx, pixl_tensor *h1, pixl_tensor *gate, pixl_tensor *w,
                                      pixl_tensor *bn_weight, pixl_tensor *bn_bias, pixl_tensor *bn_running_mean,
                                      pixl_tensor *bn_running_var, const pixl_bn_opts *bn, int dilation,
                                      pixl_gate_grad_rule rule);

/* Budget losses of gates g (N, 2, H, W) -> a scalar [1]. lambda is the
 * target fraction of computing pixels (channel 1), in (0, 1] (others are
 * rejected naming lambda). m_k is the mean of channel k over EVERY image
 * and pixel of the batch (the authors' code takes image 1 only, which is the
 * same for batch 1). The gradient is spread uniformly:
 * dL/dg_k(n, y, x) = (dL/dm_k) / (N H W). Weight each gate's loss with
 * pixl_scale().
 * KL:   L = KL(Bern(lambda) || Bern(m2)) + KL(Bern(1-lambda) || Bern(m1))
 *         = l log(l/m2) + (1-l) log((1-l)/(1-m2)) + (1-l) log((1-l)/m1) + l log(l/(1-m1))
 *       with 0 log 0 = 0 (lambda = 1 drops the (1-l) terms and their
 *       gradients). m1, m2 are clamped to [1e-6, 1 - 1e-6] inside the KL, so
 *       all-zero (or all-one) gates give a finite loss and a finite gradient
 *       (the derivative at the clamped mean) that still pushes them open. */
pixl_tensor *pixl_gate_kl_loss(pixl_ctx *ctx, pixl_tensor *g, float lambda);
/* The KL of n gates (1..16, sizes may differ) pooled into one mean: m_k =
 * (sum over all gates of the sums of channel k) / (sum of N H W); each
 * element's gradient is (dL/dm_k) / that total count. */
pixl_tensor *pixl_gate_kl_combined_loss(pixl_ctx *ctx, pixl_tensor *const *gates, int n, float lambda);
/* Mild:  L = log(1 + (m1 - (1 - lambda))^2) + log(1 + (m2 - lambda)^2). */
pixl_tensor *pixl_gate_mild_loss(pixl_ctx *ctx, pixl_tensor *g, float lambda);

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

/* Surface-normal loss of PixelNet (Caffe Normalize + EuclideanLoss): pred
 * and target (P, C) at sampled pixels, or (N, C, H, W) dense (C = 3 for
 * normals, at most 64), mask one value per pixel (P, or N*H*W elements such
 * as (N, H, W); f32/u8/i32, nonzero counts) or NULL:
 *   L = 1/(2 M) sum_p ||pred_p / max(||pred_p||, eps) - target_p||^2
 * over the M counted pixels (0: L = 0), which is mean(1 - cos) for unit
 * targets. eps <= 0 -> 1e-12. Gradients flow to pred (and to target when it
 * has a gradient buffer). */
pixl_tensor *pixl_normal_loss(pixl_ctx *ctx, pixl_tensor *pred, pixl_tensor *target, pixl_tensor *mask, float eps);
/* Angular loss (PAG's acos loss), same shapes, mask and eps as
 * pixl_normal_loss: with u_p = pred_p / max(||pred_p||, eps),
 *   L = 1/M sum_p acos(clamp(<u_p, target_p>, -1 + 1e-6, 1 - 1e-6))
 * in radians (targets are taken as given: pass unit vectors). The gradient
 * is exact, -1/sqrt(1 - c^2) per cosine c inside the clamp and 0 outside. */
pixl_tensor *pixl_angular_loss(pixl_ctx *ctx, pixl_tensor *pred, pixl_tensor *target, pixl_tensor *mask, float eps);
/* Class-balanced sigmoid cross-entropy (HED; PixelNet's edges): logits and
 * target (any equal shapes, target in [0, 1], >= 0.5 counts as positive),
 * mask (same shape, nonzero counts) or NULL. Over the counted elements with
 * |Y+| positives and |Y-| negatives, positives weigh |Y-|/(|Y+|+|Y-|) and
 * negatives |Y+|/(|Y+|+|Y-|) (the weights are data, not differentiated);
 * element loss as pixl_bce_with_logits. MEAN divides the weighted sum by the
 * number counted, SUM does not (0 counted: 0). */
pixl_tensor *pixl_balanced_bce_with_logits(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *target,
                                           pixl_tensor *mask, pixl_reduction red);

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

/* PAG layers (src/nn/pag_layers.c). Each creates the same parameters (names,
 * shapes, initialisation) in every mode, so weights trained in
 * PIXL_MODE_TRAIN run in PIXL_MODE_EVAL; none registers a loss or probe (the
 * model does).
 *
 * The gate unit of a bottleneck: a 1x1 conv name.weight (2, C, 1, 1) (init
 * N(0, 1)) + name.bias (2) (init 0) on the block input x (N, C, H, W) at the
 * block's stride, an optional fixed 3x3 box blur of the two logit maps
 * (each output the sum of its 3x3 neighbourhood / 9, zeros outside the map:
 * avg_pool2d with count_include_pad, the seed's fixed conv of ones/9 with
 * pad 1), then in PIXL_MODE_TRAIN the softmax (soft = 1) or the Gumbel
 * softmax at temperature t (pixl_gumbel_softmax), and in the evaluation
 * modes (EVAL, EVAL_GRAD) the hard one-hot of the argmax of the logits (no
 * gradient). Returns the gates (N, 2, H', W'), H' = (H - 1) / stride + 1:
 * channel 1 = compute. */
typedef struct pixl_gate_opts {
    int soft;   /* 1: plain softmax when training (the seed's gate inserters); 0: Gumbel softmax */
    float t;    /* Gumbel temperature, > 0; 0 -> 1 */
    int blur;   /* fixed 3x3 box blur of the logits */
    int stride; /* the block's stride; 0 -> 1 */
    pixl_tensor *noise; /* Gumbel noise u in [0, 1), the shape of the gates; NULL: drawn from the ctx stream */
    int train_skip;     /* PIXL_MODE_TRAIN: hard straight-through gates (pixl_gumbel_softmax_st), so that
                         * pixl_nn_gated_conv3x3 computes only the active pixels; not with soft */
    float init_on;      /* initialisation of a new gate: 0, the seed's N(0, 1) weights and zero biases; > 0,
                         * weights N(0, 0.01^2) and the compute logit's bias init_on, so that the gate starts
                         * computing nearly everywhere (for fine-tuning a trained network) */
} pixl_gate_opts;
pixl_tensor *pixl_nn_gate(pixl_ctx *ctx, const char *name, pixl_tensor *x, const pixl_gate_opts *o);
/* The gated 3x3 conv of a PAG bottleneck on h1 (N, C, H, W) with gates g
 * (N, 2, H, W): h2 = ReLU(BN(conv3x3(h1))) with parameters conv.weight
 * (C, C, 3, 3) (no bias; PyTorch's default init) and the BatchNorm2d
 * parameters and buffers under bn (eps 1e-5, momentum 0.1), padding =
 * dilation (0 -> 1), mixed z = g[:,0] h1 + g[:,1] h2. TRAIN (BN on batch
 * statistics) and EVAL_GRAD (running statistics): dense h2 and
 * pixl_mask_gating(rule). EVAL: pixl_gated_conv3x3_ex with the BN folded
 * (h2 only where the hard gate is on; g must hold 0/1 values). TRAIN with
 * g the output of pixl_gumbel_softmax_st (pixl_nn_gate with train_skip):
 * pixl_gated_conv3x3_train, h2 only at the active pixels, BN statistics over
 * them, the gate gradient approximated at the inactive ones (see there);
 * num_batches_tracked is then left as it is. */
pixl_tensor *pixl_nn_gated_conv3x3(pixl_ctx *ctx, const char *conv, const char *bn, pixl_tensor *h1, pixl_tensor *g,
                                   int dilation, pixl_gate_grad_rule rule);
/* MultiPool (PAG §3.4) on x (N, C, H, W): branch 0 = x, branch k (k = 1..K)
 * = ReLU(gamma_k * conv3x3_dil(d_k)(x) + beta_k) (padding d_k;
 * name.branchk.weight (C, C, 3, 3) no bias, init N(0, 2/C);
 * name.branchk.affine.weight / .bias (C), init 1, 0: the seed's
 * attentionChannel with its fixed mean 0 and variance 1), mixed per pixel
 * by the attention a (N, K+1, H, W) =
 * Gumbel(conv1x1(ReLU(BN(conv3x3(ReLU(BN(conv1x1(x))))))): name.att.0
 * (hidden0, C, 1, 1) no bias, name.att.1 BN, name.att.3 (hidden1, hidden0,
 * 3, 3) no bias, padding 1, name.att.4 BN, name.att.6 (K+1, hidden1, 1, 1)
 * + bias (the att convs with PyTorch's default init; BN eps 1e-5).
 * TRAIN: out = sum_k a_k * branch_k (true gradient, a relaxed); EVAL_GRAD:
 * the same dense sum with a one-hot (no gradient into the attention);
 * EVAL: a is one-hot and each dilated branch is computed only at the
 * pixels that chose it (pixl_gated_conv3x3_ex, one call per branch).
 * *attention (may be NULL) receives a. */
#define PIXL_MULTIPOOL_MAX 8
typedef struct pixl_multipool_opts {
    int n_scales;                  /* K dilated branches, 1..PIXL_MULTIPOOL_MAX */
    int scales[PIXL_MULTIPOOL_MAX]; /* their dilations, >= 1 */
    int hidden[2];                 /* attention widths; 0 -> 128, 32 */
    float t;                       /* Gumbel temperature; 0 -> 1 */
    pixl_tensor *noise;            /* Gumbel noise (N, K+1, H, W) in [0, 1); NULL: drawn from the ctx stream */
    int dense;                     /* 1: EVAL computes every branch at every pixel and mixes by the
                                    * one-hot (the seed's way; for speed comparisons) */
} pixl_multipool_opts;
pixl_tensor *pixl_nn_multipool(pixl_ctx *ctx, const char *name, pixl_tensor *x, const pixl_multipool_opts *o,
                               pixl_tensor **attention);

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
#define PIXL_CRF_MAX_KERNEL 99    /* a pairwise term's kernel size, odd */
#define PIXL_CRF_MAX_DILATION 1024 /* its dilation and blur */
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
/* The keys of o that differ from pixl_crf_defaults() as "key=value;..." in
 * the order above ("steps=3;terms=4d:5:16:1,4d:5:4:1"); "" for the defaults. */
int pixl_crf_format(const pixl_crf_opts *o, char *buf, size_t len);
/* o = pixl_crf_defaults() + the "key=value;..." pairs of pixl_crf_format(). */
int pixl_crf_parse_pairs(const char *pairs, pixl_crf_opts *o);
pixl_tensor *pixl_nn_paccrf(pixl_ctx *ctx, const char *name, pixl_tensor *unary, int n_feats,
                            pixl_tensor *const *edge_feats, const pixl_crf_opts *o);
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
/* A NaN or infinity in the state is refused (an error naming the tensor and
 * element; the state is unchanged) unless flags has PIXL_LOAD_ALLOW_NONFINITE;
 * pixl_optim_load() is pixl_optim_load_ex(opt, path, 0). */
int pixl_optim_load(pixl_optim *opt, const char *path);
int pixl_optim_load_ex(pixl_optim *opt, const char *path, unsigned flags);

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

#ifdef __cplusplus
}
#endif
#endif /* PIXL_H */
