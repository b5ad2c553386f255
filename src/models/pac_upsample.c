/* pac_upsample.c — joint (guided) upsampling networks of pacnet's
 * task_jointUpsampling: PacJointUpsample, PacJointUpsampleLite (x4, x8, x16)
 * and the DJIF baseline, with pacnet's state_dict names.
 *
 * PacJointUpsample(factor): every conv 5x5 pad 2, n = log2(factor) stages.
 *   branch_t.conv1..3  target (1 channel, low resolution): 1 -> t1 -> t2 -> t3, ReLU between
 *   branch_g.conv1..3  guide (full resolution): 3 -> g1 -> g2 -> k_ch * n, ReLU between
 *   up_convts.i        PacConvTranspose2d(5x5, stride 2, pad 2, output_padding 1, Gaussian kernel)
 *                      guided by guide channels [i*k_ch, (i+1)*k_ch) resized bilinearly by
 *                      2^(i+1)/factor, then ReLU
 *   branch_f.conv1..2  -> f -> 1, ReLU between
 * Default widths 32 (k_ch 16); Lite: x4 g(12,22) t(12,16,22) f(12,16,22) k_ch 12;
 * x8 g(12,16) t(12,16,16) f(12,16,16,20) k_ch 12; x16 g(8,16) t(8,16,16) f(8,16,16,16,16) k_ch 10.
 * DJIF: branch_t / branch_g 9-1-5 convs (96, 48, 1) on the bilinearly
 * pre-upsampled target and on the guide, branch_joint 9-1-5 (64, 32, 1) on
 * their concatenation (paddings as pacnet: 2,2,2 in the branches — the 1x1 conv pads by 2 —, 4,0,2 joint).
 * JBU_<k>_<sc>_<ss>: pacnet's JointBilateral, a PacConvTranspose2d (k x k,
 * stride f) with identity weights and normalize_kernel on the guide
 * [colour * sc, y * ss, x * ss].
 * A target with C channels is processed as C independent 1-channel images
 * with the guide features repeated (pacnet's convert_to_single_channel);
 * the adapting kernels, which depend on the guide only, are computed once. */
#include <math.h>

#include "models_impl.h"

int pixl_jointup_check(const pixl_jointup_opts *o)
{
    if (!o) return pixl_set_error(PIXL_ERR_ARG, "jointup: no options");
    if (o->factor != 2 && o->factor != 4 && o->factor != 8 && o->factor != 16)
        return pixl_set_error(PIXL_ERR_ARG, "jointup: factor must be 2, 4, 8 or 16, got %d", o->factor);
    if (o->arch == PIXL_JU_PAC_LITE && o->factor == 2)
        return pixl_set_error(PIXL_ERR_ARG, "jointup: the Lite network exists for x4, x8, x16");
    if (o->arch == PIXL_JU_JBU && (o->jbu_kernel < o->factor || o->jbu_kernel % 2 == 0))
        return pixl_set_error(PIXL_ERR_ARG, "jointup: the JBU kernel %d must be odd and at least the factor %d",
                              o->jbu_kernel, o->factor);
    return PIXL_OK;
}

/* set key from the text [v, v + n) of a compact name */
static int set_part(pixl_jointup_opts *o, const char *key, const char *v, size_t n)
{
    char buf[64];
    if (n >= sizeof buf) return pixl_set_error(PIXL_ERR_ARG, "jointup: '%.*s' too long", (int)n, v);
    snprintf(buf, sizeof buf, "%.*s", (int)n, v);
    return pixl_jointup_set(o, key, buf);
}

/* The compact names are split into pixl_jointup_set's keys (arch, factor,
 * kernel, scale_color, scale_space): one set of checks for both spellings. */
int pixl_jointup_parse(const char *name, pixl_jointup_opts *o)
{
    if (!name || !o) return pixl_set_error(PIXL_ERR_ARG, "jointup: no name");
    pixl_jointup_opts d = pixl_jointup_defaults();
    const char *x = strrchr(name, 'x');
    size_t base = x ? (size_t)(x - name) : 0;
    if (!x || base < 2 || name[base - 1] != '_' || !x[1])
        return pixl_set_error(PIXL_ERR_ARG, "jointup '%s': expected NAME_x4, NAME_x8 or NAME_x16", name);
    char why[512];
    size_t n = base - 1;
    int rc = set_part(&d, "factor", x + 1, strlen(x + 1));
    if (!rc && n > 4 && (!strncmp(name, "jbu_", 4) || !strncmp(name, "JBU_", 4))) {
        /* jbu_<kernel>_<scale_color>_<scale_space> */
        const char *k = name + 4, *sc = memchr(k, '_', n - 4), *ss = sc ? memchr(sc + 1, '_', n - (size_t)(sc + 1 - name)) : NULL;
        if (!sc || !ss || memchr(ss + 1, '_', n - (size_t)(ss + 1 - name)))
            return pixl_set_error(PIXL_ERR_ARG,
                                  "jointup '%s': expected jbu_<kernel>_<scale_color>_<scale_space>_x<factor> "
                                  "(kernel 1..64, scales >= 0)",
                                  name);
        rc = pixl_jointup_set(&d, "arch", "jbu");
        if (!rc) rc = set_part(&d, "kernel", k, (size_t)(sc - k));
        if (!rc) rc = set_part(&d, "scale_color", sc + 1, (size_t)(ss - sc - 1));
        if (!rc) rc = set_part(&d, "scale_space", ss + 1, (size_t)(name + n - ss - 1));
    } else if (!rc) {
        if (n == 16 && !strncmp(name, "pacjointupsample", n)) rc = pixl_jointup_set(&d, "arch", "pacjointupsample");
        else if (n == 21 && !strncmp(name, "pacjointupsample_lite", n))
            rc = pixl_jointup_set(&d, "arch", "pacjointupsample_lite");
        else if (n == 4 && !strncmp(name, "djif", n)) rc = pixl_jointup_set(&d, "arch", "djif");
        else
            return pixl_set_error(PIXL_ERR_ARG,
                                  "jointup '%s': unknown network (pacjointupsample, pacjointupsample_lite, djif, "
                                  "jbu_<kernel>_<scale_color>_<scale_space>)",
                                  name);
    }
    if (!rc) rc = pixl_jointup_check(&d);
    if (rc) {
        snprintf(why, sizeof why, "%s", pixl_last_error());
        return pixl_set_error(PIXL_ERR_ARG, "jointup '%s': %s", name, why);
    }
    *o = d;
    return PIXL_OK;
}

static pixl_tensor *conv(pixl_ctx *c, const char *name, const char *leaf, pixl_tensor *x, int out, int k, int pad)
{
    return pixl_nn_conv2d(c, pixl__mname(c, name, "%s", leaf), x, out, k, k, &(pixl_conv2d_opts){.padding = {pad, pad}}, 1);
}

/* (B, k, ...) -> (B*C, k, ...), each sample repeated C times */
static pixl_tensor *repeat_for_channels(pixl_ctx *c, pixl_tensor *g, int C)
{
    if (!g || C == 1) return g;
    pixl_tensor *v[PIXL_MAX_SRC];
    for (int i = 0; i < C; i++) v[i] = g;
    pixl_tensor *cat = pixl_concat(c, C, v, 1);
    int64_t s[PIXL_MAX_DIMS];
    for (int d = 0; d < g->ndim; d++) s[d] = g->shape[d];
    s[0] *= C;
    return pixl_reshape(c, cat, g->ndim, s);
}

static pixl_tensor *pac_net(pixl_ctx *c, const char *name, pixl_tensor *t, pixl_tensor *g, const pixl_jointup_opts *o,
                            int C)
{
    int nu = 0;
    while ((1 << nu) < o->factor) nu++;
    int tf[3], gf[2], ff[8], nf = 1 + nu, kch;
    if (o->arch == PIXL_JU_PAC) {
        tf[0] = tf[1] = tf[2] = 32;
        gf[0] = gf[1] = 32;
        for (int i = 0; i < nf; i++) ff[i] = 32;
        kch = 16;
    } else if (o->factor == 4) {
        int t4[3] = {12, 16, 22}, g4[2] = {12, 22}, f4[3] = {12, 16, 22};
        memcpy(tf, t4, sizeof tf), memcpy(gf, g4, sizeof gf), memcpy(ff, f4, sizeof f4);
        kch = 12;
    } else if (o->factor == 8) {
        int t8[3] = {12, 16, 16}, g8[2] = {12, 16}, f8[4] = {12, 16, 16, 20};
        memcpy(tf, t8, sizeof tf), memcpy(gf, g8, sizeof gf), memcpy(ff, f8, sizeof f8);
        kch = 12;
    } else {
        int t16[3] = {8, 16, 16}, g16[2] = {8, 16}, f16[5] = {8, 16, 16, 16, 16};
        memcpy(tf, t16, sizeof tf), memcpy(gf, g16, sizeof gf), memcpy(ff, f16, sizeof f16);
        kch = 10;
    }
    /* target branch */
    pixl_tensor *x = t;
    for (int l = 0; l < 3; l++) {
        char leaf[32];
        snprintf(leaf, sizeof leaf, "branch_t.conv%d", l + 1);
        x = conv(c, name, leaf, x, tf[l], 5, 2);
        if (l < 2) x = pixl_relu(c, x);
    }
    /* guidance branch */
    pixl_tensor *h = g;
    int gch[3] = {gf[0], gf[1], kch * nu};
    for (int l = 0; l < 3; l++) {
        char leaf[32];
        snprintf(leaf, sizeof leaf, "branch_g.conv%d", l + 1);
        h = conv(c, name, leaf, h, gch[l], 5, 2);
        if (l < 2) h = pixl_relu(c, h);
    }
    /* up-sampling stages; channels: t3 -> ff[0] -> ... -> ff[nu-1] */
    for (int i = 0; i < nu && x && h; i++) {
        double scale = pow(2.0, i + 1) / o->factor;
        pixl_tensor *gc = pixl_slice(c, h, 1, (int64_t)i * kch, (int64_t)(i + 1) * kch);
        if (scale != 1.0 && gc)
            gc = pixl_resize(c, gc, (int)floor(gc->shape[2] * scale), (int)floor(gc->shape[3] * scale),
                             PIXL_RESIZE_BILINEAR, 0, scale, scale);
        pixl_pac_opts po = {.kernel = {5, 5}, .stride = {2, 2}, .padding = {2, 2}, .output_padding = {1, 1}};
        char leaf[32];
        snprintf(leaf, sizeof leaf, "up_convts.%d", i);
        const char *lname = pixl__mname(c, name, "%s", leaf);
        /* the adapting kernel depends on the guide only: computed once per image and repeated for the C
         * single-channel targets (pacnet repeats the guide features and recomputes it C times; same values) */
        pixl_pac_opts ko = po;
        ko.transposed = 1;
        pixl_tensor *k = gc ? repeat_for_channels(c, pixl_nn_packernel2d(c, lname, gc, NULL, ff[i], &ko), C) : NULL;
        x = k ? pixl_relu(c, pixl_nn_pacconv_transpose2d(c, lname, x, NULL, k, ff[i], &po, 1)) : NULL;
    }
    /* final branch: ff[nu-1] -> ff[nu] -> 1 */
    x = pixl_relu(c, conv(c, name, "branch_f.conv1", x, ff[nu], 5, 2));
    return conv(c, name, "branch_f.conv2", x, 1, 5, 2);
}

static pixl_tensor *djif(pixl_ctx *c, const char *name, pixl_tensor *t, pixl_tensor *g, const pixl_jointup_opts *o,
                         int C)
{
    int H = (int)g->shape[2], W = (int)g->shape[3];
    if (t->shape[3] < W) t = pixl_resize(c, t, H, W, PIXL_RESIZE_BILINEAR, 0, o->factor, o->factor);
    const int ks[3] = {9, 1, 5}, ptg[3] = {2, 2, 2}, pj[3] = {4, 0, 2}, ntg[3] = {96, 48, 1}, nf[3] = {64, 32, 1};
    pixl_tensor *a = t, *b = g;
    for (int l = 0; l < 3; l++) {
        char la[32], lb[32];
        snprintf(la, sizeof la, "branch_t.%d", 2 * l);
        snprintf(lb, sizeof lb, "branch_g.%d", 2 * l);
        a = conv(c, name, la, a, ntg[l], ks[l], ptg[l]);
        b = conv(c, name, lb, b, ntg[l], ks[l], ptg[l]);
        if (l < 2) a = pixl_relu(c, a), b = pixl_relu(c, b);
    }
    b = repeat_for_channels(c, b, C);
    pixl_tensor *v[2] = {a, b};
    pixl_tensor *x = pixl_concat(c, 2, v, 1);
    for (int l = 0; l < 3; l++) {
        char lj[32];
        snprintf(lj, sizeof lj, "branch_joint.%d", 2 * l);
        x = conv(c, name, lj, x, nf[l], ks[l], pj[l]);
        if (l < 2) x = pixl_relu(c, x);
    }
    return x;
}

/* JBU: pacnet's JointBilateral. stride = factor, padding 1 + floor((k - f - 1) / 2), output_padding (k - f) % 2,
 * so the output is exactly f times the input; one weight (1, 1, k, k) of ones shared by the C channels. */
static pixl_tensor *jbu(pixl_ctx *c, const char *name, pixl_tensor *t, pixl_tensor *g, const pixl_jointup_opts *o,
                        int C)
{
    const int k = o->jbu_kernel, f = o->factor;
    if (k < f || k > 64) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "joint_upsample '%s': JBU kernel %d (factor %d .. 64)", name, k, f);
        return NULL;
    }
    const int64_t B = g->shape[0], H = g->shape[2], W = g->shape[3];
    int64_t ps[4] = {B, 2, H, W};
    float *pos = malloc(sizeof(float) * (size_t)(B * 2 * H * W));
    if (!pos) {
        pixl__ctx_fail(c, PIXL_ERR_NOMEM, "joint_upsample '%s': out of memory", name);
        return NULL;
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++) {
                pos[((b * 2 + 0) * H + y) * W + x] = (float)y * o->jbu_scale_space;
                pos[((b * 2 + 1) * H + y) * W + x] = (float)x * o->jbu_scale_space;
            }
    pixl_tensor *p = pixl_constant(c, pixl__mname(c, name, "convt.positions"), PIXL_F32, 4, ps, pos);
    free(pos);
    pixl_tensor *v[2] = {pixl_scale(c, g, o->jbu_scale_color), p};
    pixl_tensor *feat = p && v[0] ? pixl_concat(c, 2, v, 1) : NULL;
    int pad = 1 + (int)floor((k - f - 1) / 2.0), op = (k - f) % 2;
    pixl_pac_opts po = {.kernel = {k, k}, .stride = {f, f}, .padding = {pad, pad}, .output_padding = {op, op},
                        .normalize = 1, .transposed = 1};
    const char *lname = pixl__mname(c, name, "convt");
    pixl_tensor *kern = feat ? repeat_for_channels(c, pixl_nn_packernel2d(c, lname, feat, NULL, 1, &po), C) : NULL;
    int64_t ws[4] = {1, 1, k, k};
    pixl_tensor *w = pixl__nn_param(c, lname, "weight", PIXL_PARAM, PIXL_F32, 4, ws,
                                   (pixl_init_spec){PIXL_INIT_ONES, 0, 0}, NULL);
    return kern && w ? pixl_pacconv_transpose2d(c, t, kern, w, NULL, &po) : NULL;
}

pixl_tensor *pixl_nn_joint_upsample(pixl_ctx *c, const char *name, pixl_tensor *target, pixl_tensor *guide,
                                    const pixl_jointup_opts *o)
{
    if (!c || !target || !guide || !o) return NULL;
    if (!name) name = "";
    const int f = o->factor;
    if (f < 2 || f > 16 || (f & (f - 1)) || (o->arch == PIXL_JU_PAC_LITE && f == 2) || (int)o->arch < 0 ||
        o->arch > PIXL_JU_JBU) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "joint_upsample '%s': network %d with factor %d (2, 4, 8, 16; Lite 4, 8, 16)",
                      name, (int)o->arch, f);
        return NULL;
    }
    if (target->ndim != 4 || guide->ndim != 4 || target->shape[0] != guide->shape[0] ||
        target->shape[2] * f != guide->shape[2] || target->shape[3] * f != guide->shape[3] ||
        guide->shape[1] != (o->guide_channels > 0 ? o->guide_channels : 3)) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE,
                      "joint_upsample '%s': target %s x %d must match guide %s (batch, height, width; %d guide channels)",
                      name, pixl__tshape(target), f, pixl__tshape(guide), o->guide_channels > 0 ? o->guide_channels : 3);
        return NULL;
    }
    const int C = (int)target->shape[1];
    if (C < 1 || C > PIXL_MAX_SRC) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE, "joint_upsample '%s': %d target channels (1..%d)", name, C, PIXL_MAX_SRC);
        return NULL;
    }
    int64_t s1[4] = {target->shape[0] * C, 1, target->shape[2], target->shape[3]};
    pixl_tensor *t = C == 1 ? target : pixl_reshape(c, target, 4, s1);
    pixl_tensor *y = o->arch == PIXL_JU_DJIF  ? djif(c, name, t, guide, o, C)
                     : o->arch == PIXL_JU_JBU ? jbu(c, name, t, guide, o, C)
                                              : pac_net(c, name, t, guide, o, C);
    if (!y || C == 1) return y;
    int64_t s2[4] = {guide->shape[0], C, guide->shape[2], guide->shape[3]};
    return pixl_reshape(c, y, 4, s2);
}
