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
 *     pixl_tensor *L = pixl_cross_entropy(ctx, h, y, NULL, &(pixl_ce_opts){.ignore_index = 255});
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
 *   Kernels run with OpenMP on pixl_num_threads() threads (set by
 *   pixl_set_num_threads() or the PIXL_NUM_THREADS environment variable).
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

/* --------------------------------------------------------------- library */

const char *pixl_version(void);
/* Number of threads kernels use; defaults to PIXL_NUM_THREADS or all cores. */
int pixl_num_threads(void);
void pixl_set_num_threads(int n);

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
 * metadata (key/value arrays, may be NULL). Written to PATH.tmp, fsync'd
 * and renamed over PATH: a failure leaves the old PATH intact. */
int pixl_checkpoint_save(pixl_params *P, const char *path, int n_meta, const char *const *keys,
                         const char *const *values);
/* Load into existing entries. Every entry must be in the file with the same
 * shape (F32/F64/F16/BF16 converted; I64/I32 for integer buffers); a tensor
 * of the file that P lacks is an error unless `allow_extra`. P is unchanged
 * when loading fails. */
int pixl_checkpoint_load(pixl_params *P, const char *path, int allow_extra);
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
    int count_include_pad; /* avg pool: PyTorch default is 1; set exclude_pad instead */
    int exclude_pad;       /* avg pool: 1 = count_include_pad=False */
} pixl_pool2d_opts;

pixl_tensor *pixl_max_pool2d(pixl_ctx *ctx, pixl_tensor *x, const pixl_pool2d_opts *o);
/* The argmax of a max_pool2d node: int32 flat index into each H*W input
 * plane (PyTorch's return_indices), shape of the pooled output. */
pixl_tensor *pixl_max_pool2d_indices(pixl_ctx *ctx, pixl_tensor *pooled);
/* x (N,C,h,w), indices (N,C,h,w) int32 -> (N,C,out_h,out_w) */
pixl_tensor *pixl_max_unpool2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *indices, int out_h, int out_w);
pixl_tensor *pixl_avg_pool2d(pixl_ctx *ctx, pixl_tensor *x, const pixl_pool2d_opts *o);
pixl_tensor *pixl_adaptive_avg_pool2d(pixl_ctx *ctx, pixl_tensor *x, int out_h, int out_w);

typedef struct pixl_bn_opts { float eps, momentum; } pixl_bn_opts; /* 0 -> 1e-5, 0.1 */
/* TRAIN mode: batch statistics, running_mean/var (and num_batches_tracked
 * if non-NULL) updated in forward as PyTorch does. EVAL: running stats.
 * weight/bias may be NULL (affine=False). */
pixl_tensor *pixl_batch_norm2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *weight, pixl_tensor *bias,
                               pixl_tensor *running_mean, pixl_tensor *running_var,
                               pixl_tensor *num_batches_tracked, const pixl_bn_opts *o);
pixl_tensor *pixl_group_norm(pixl_ctx *ctx, pixl_tensor *x, int groups, pixl_tensor *weight, pixl_tensor *bias,
                             float eps);

pixl_tensor *pixl_relu(pixl_ctx *ctx, pixl_tensor *x);
pixl_tensor *pixl_leaky_relu(pixl_ctx *ctx, pixl_tensor *x, float slope);
/* weight (1) or (C) */
pixl_tensor *pixl_prelu(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *weight);
pixl_tensor *pixl_elu(pixl_ctx *ctx, pixl_tensor *x, float alpha);
pixl_tensor *pixl_sigmoid(pixl_ctx *ctx, pixl_tensor *x);
pixl_tensor *pixl_tanh(pixl_ctx *ctx, pixl_tensor *x);
/* Identity in EVAL mode; in TRAIN zeroes elements (or whole channels) with
 * probability p and scales the rest by 1/(1-p). */
pixl_tensor *pixl_dropout(pixl_ctx *ctx, pixl_tensor *x, float p);
pixl_tensor *pixl_dropout2d(pixl_ctx *ctx, pixl_tensor *x, float p);

/* Elementwise with broadcasting of size-1 dims (numpy rules, right aligned). */
pixl_tensor *pixl_add(pixl_ctx *ctx, pixl_tensor *a, pixl_tensor *b);
pixl_tensor *pixl_mul(pixl_ctx *ctx, pixl_tensor *a, pixl_tensor *b);
pixl_tensor *pixl_scale(pixl_ctx *ctx, pixl_tensor *x, float s);
pixl_tensor *pixl_concat(pixl_ctx *ctx, int n, pixl_tensor *const *xs, int dim);
/* [start, end) along `dim` (crop = two slices, or pixl_crop2d). */
pixl_tensor *pixl_slice(pixl_ctx *ctx, pixl_tensor *x, int dim, int64_t start, int64_t end);
pixl_tensor *pixl_crop2d(pixl_ctx *ctx, pixl_tensor *x, int top, int left, int h, int w);
typedef enum pixl_pad_mode { PIXL_PAD_ZERO = 0, PIXL_PAD_REFLECT = 1, PIXL_PAD_REPLICATE = 2 } pixl_pad_mode;
/* pads = {left, right, top, bottom} as torch.nn.functional.pad; negative crops. */
pixl_tensor *pixl_pad2d(pixl_ctx *ctx, pixl_tensor *x, const int pads[4], pixl_pad_mode mode, float value);
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
/* x / max(||x||_2 over channels, eps) */
pixl_tensor *pixl_l2_normalize(pixl_ctx *ctx, pixl_tensor *x, float eps);

/* ---------------------------------------------------------------- losses */

typedef enum pixl_reduction { PIXL_REDUCE_MEAN = 0, PIXL_REDUCE_SUM = 1 } pixl_reduction;

typedef struct pixl_ce_opts {
    int ignore_index;         /* targets equal to this are skipped */
    int no_ignore;            /* 1: every target counts (ignore_index unused) */
    pixl_reduction reduction; /* MEAN divides by the summed weights of counted targets */
} pixl_ce_opts;
/* logits (N,C,H,W) or (N,C), target int32 (N,H,W)/(N), class weights (C) or NULL -> [1] */
pixl_tensor *pixl_cross_entropy(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *target, pixl_tensor *weight,
                                const pixl_ce_opts *o);
/* logits and target same shape (target float in [0,1]); pos_weight broadcast over dim 1 or NULL. */
pixl_tensor *pixl_bce_with_logits(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *target, pixl_tensor *pos_weight,
                                  pixl_reduction red);
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

/* ---------------------------------------------------- optimizers, schedules */

typedef enum pixl_optim_kind { PIXL_OPTIM_SGD = 0, PIXL_OPTIM_ADAM = 1, PIXL_OPTIM_ADAMW = 2 } pixl_optim_kind;

typedef struct pixl_optim_opts {
    pixl_optim_kind kind;
    float lr;
    float momentum, dampening; /* SGD */
    int nesterov;              /* SGD */
    float weight_decay;        /* SGD/Adam: L2 added to the gradient; AdamW: decoupled */
    float beta1, beta2, eps;   /* Adam/AdamW; 0 -> 0.9, 0.999, 1e-8 */
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
    float gamma;            /* STEP, MULTISTEP */
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

typedef struct pixl_model_opts {
    int n_classes;       /* 0 -> 11 */
    int in_channels;     /* 0 -> 3 */
    float width;         /* channel multiplier where the model has one, 0 -> 1 */
    const char *variant; /* model-specific variant name or NULL */
} pixl_model_opts;

/* Build the architecture `arch` on x (N,C,H,W): parameters are created in
 * ctx's params under PyTorch-style state_dict names; returns logits
 * (N,n_classes,H,W). NULL with an error on an unknown name (the message
 * lists the known ones) or a shape the model cannot take. */
pixl_tensor *pixl_model_build(pixl_ctx *ctx, const char *arch, pixl_tensor *x, const pixl_model_opts *o);
int pixl_model_count(void);
const char *pixl_model_name(int i);
const char *pixl_model_doc(int i);

/* ------------------------------------------------- images, datasets, loaders */
/* (section owned by src/data/) */

/* ------------------------------------------------------ metrics and configs */
/* (section owned by src/train/metrics.c and src/config/) */

#ifdef __cplusplus
}
#endif
#endif /* PIXL_H */
