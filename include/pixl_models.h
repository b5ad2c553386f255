/* pixl_models.h — the models layer of pixl: named network architectures
 * built from the core's ops and layers (the zoo: pixl_model_build()), the
 * model object (pixl_model: architecture, options, parameters, input
 * normalisation, class names and colours; create, load, save, predict),
 * pacnet's joint-upsampling networks and the PixelNet model with its head
 * options.
 *
 * CONTRACT
 *   - Owns: a pixl_model owns its pixl_params and the inference graphs it
 *     builds and caches per input size (freed by pixl_model_free()). Graphs
 *     built with pixl_model_build() belong to the caller's ctx as in the core.
 *   - Uses the core only: no image, data-set, metric, YAML or training code.
 *     Inputs are float NCHW arrays already normalised (pixl_model_mean()/
 *     _std() say how); decoding images is the data layer's business.
 *   - Errors and threads: as in the core (pixl.h). A pixl_model must not be
 *     used by two threads at once; its kernels run with
 *     pixl_model_set_threads()'s count.
 *   - Links: build/libpixl_models.a build/libpixl_core.a and the core's
 *     system libraries (-lopenblas -lcjson -lm -fopenmp); nothing more.
 */
#ifndef PIXL_MODELS_H
#define PIXL_MODELS_H

#include "pixl.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* PAG (pixel-wise attentional gating, Kong & Fowlkes 2019) options of the
 * model "pag_resnet50" (docs/pag.md). Defaults in pixl_pag_defaults(); keys
 * (config: model.options.pag.KEY) at pixl_pag_set(). */
#define PIXL_PAG_MAX_GATES 16
typedef enum pixl_pag_loss {
    PIXL_PAG_LOSS_KL = 0,       /* KL to lambda per gate (pixl_gate_kl_loss), weight * weights[i] */
    PIXL_PAG_LOSS_COMBINED = 1, /* one KL of all gates pooled by pixel count (pixl_gate_kl_combined_loss) */
    PIXL_PAG_LOSS_MILD = 2,     /* the seed's "mild" loss per gate (pixl_gate_mild_loss) */
    PIXL_PAG_LOSS_NONE = 3
} pixl_pag_loss;
typedef enum pixl_pag_anneal {
    PIXL_PAG_T_EXP = 0,      /* t_start * (t_end / t_start)^(epoch / (epochs - 1)) */
    PIXL_PAG_T_LINEAR = 1,   /* t_start + (t_end - t_start) * epoch / (epochs - 1) */
    PIXL_PAG_T_SEED = 2,     /* the seed's list: max(t_end, t_start - 0.03 * floor(epoch / 2)) */
    PIXL_PAG_T_CONSTANT = 3  /* t_start */
} pixl_pag_anneal;
typedef struct pixl_pag_opts {
    float lambda;                 /* target fraction of pixels that compute, (0, 1] */
    pixl_pag_loss loss;
    float weight;                 /* weight of each gate's budget loss (of the combined loss) */
    int n_weights;                /* 0, or one multiplier per gate */
    float weights[PIXL_PAG_MAX_GATES];
    int n_gates;                  /* blocks with a gate, "res2_1" .. "res5_3" */
    char gates[PIXL_PAG_MAX_GATES][8];
    int softmax;                  /* 1: plain softmax gates in training; 0: Gumbel softmax */
    float t_start, t_end;         /* Gumbel temperature schedule over the training's epochs */
    pixl_pag_anneal anneal;
    int blur;                     /* 3x3 box blur of the gate logits */
    int train_skip;               /* training with hard straight-through gates and each gated 3x3 conv computed at
                                   * its active pixels only (pixl_gated_conv3x3_train); not with softmax */
    float gate_lr_mult;           /* learning-rate multiplier of the gates' 1x1 convs (the seed: 10) */
    float gate_init;              /* 0: the seed's N(0, 1) gate weights; > 0: small weights and this bias on the
                                   * compute logit, every gate starting on (fine-tuning a trained network) */
    pixl_gate_grad_rule grad_rule;
    int dense;                    /* 1: inference computes every gated conv and MultiPool branch at every
                                   * pixel and multiplies by the mask (the seed's way; for comparison) */
    int n_scales;                 /* MultiPool dilations on res5 (0: no MultiPool) */
    int scales[PIXL_MULTIPOOL_MAX];
} pixl_pag_opts;
pixl_pag_opts pixl_pag_defaults(void);
/* Set one key from text (errors name "pag.KEY"); format / parse the keys
 * that differ from the defaults as "key=value;..." (checkpoint metadata). */
int pixl_pag_set(pixl_pag_opts *o, const char *key, const char *value);
int pixl_pag_format(const pixl_pag_opts *o, char *buf, size_t len);
int pixl_pag_parse_pairs(const char *pairs, pixl_pag_opts *o);
/* Check the options against the blocks of pag_resnet50 (gate names,
 * weights count, lambda, temperatures); the error names the key. */
int pixl_pag_check(const pixl_pag_opts *o);
/* The temperature of epoch e (0-based) of a training of `epochs` epochs. */
float pixl_pag_temperature(const pixl_pag_opts *o, int epoch, int epochs);

typedef struct pixl_model_opts {
    int n_classes;       /* 0 -> 11 */
    int in_channels;     /* 0 -> 3 */
    float width;         /* channel multiplier where the model has one, 0 -> 1 */
    const char *variant; /* model-specific variant name or NULL */
    const char *backbone;  /* encoder by name where the model takes one (NULL = the model's default) */
    int output_stride;     /* dilated encoders: 8, 16 or 32; 0 = the model's default */
    int aux;               /* 1: also build auxiliary (deep-supervision) heads, see pixl_ctx_aux */
    const pixl_pn_head_opts *head; /* pixelnet: the head; NULL = parse `variant` (pixl_pn_head_parse) */
    /* A PacCRF on the network's logits (NULL = none): arch "enet" with crf
     * {steps 5, terms [4d:5:16:1, 4d:5:4:1]} and crf_frozen 1 is the network
     * of the compact name "enetfrozen_crfi5p4d5161p4d541" (same parameters,
     * names and initialisation). Not together with such a compact name. */
    const pixl_crf_opts *crf;
    int crf_frozen; /* with crf: the network's own parameters are frozen (pacnet's first stage) */
    const pixl_pag_opts *pag; /* pag_resnet50: the gates; NULL = pixl_pag_defaults() */
} pixl_model_opts;

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
 * from its metadata, the CRF's as "crf" (pixl_crf_format) and "crf_frozen";
 * every tensor checked by name and shape). */
pixl_model *pixl_model_load(const char *path);
/* The same with PIXL_LOAD_ flags (pixl.h): PIXL_LOAD_ALLOW_NONFINITE loads a
 * checkpoint holding NaN/Inf values, which pixl_model_load() refuses. */
pixl_model *pixl_model_load_ex(const char *path, unsigned flags);
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

/* ------------------------------------------------ joint upsampling networks */

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

/* ---------------------------------------------------------------- PixelNet */
/* (src/models/pixelnet.c; its hypercolumn ops are in the core (pixl.h), its
 * pixel samplers and training graph in the training layer (pixl_train.h))
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
 * pixl_model_opts.backbone names the trunk (the backbone registry's names,
 * src/models/backbones.c, or "pixelnet_tiny": three conv3x3+ReLU stages with
 * 2x2 max pools, for tests).
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
#endif /* PIXL_MODELS_H */
