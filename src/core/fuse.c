/* fuse.c — plan-time fusion of EVAL graphs.
 *
 * A producer op (conv2d) may take the ops that follow it into its forward:
 * an eval BatchNorm (a per-channel affine), an activation (ReLU, hardtanh /
 * ReLU6) and a residual add, applied to each output tile while it is still
 * in cache instead of in separate passes over memory. The pass is generic:
 * ops describe themselves through two optional hooks of pixl_op_def
 * (epi_step for a follower, fuse for a producer); this file only finds the
 * chains.
 *
 * A chain grows from a producer p while the current end has exactly one
 * reader, that reader describes itself as an epilogue step of it, and the
 * current end is not a graph output, a kept node, a probe, an auxiliary
 * output or a loss (whose own value must survive). A residual add also
 * needs its other operand computed before p runs (a lower node index) and
 * of the same shape. The producer takes a prefix of the chain; every node
 * taken becomes a view of p's output (the values at the chain's end) with a
 * forward that does nothing, and remembers its op in unfused_def.
 *
 * On by default: the producer applies the chain to its accumulators in
 * registers, so the fused graph skips the passes over memory (ResNet-50 at
 * 360x480: 124-130 ms fused against 134-140 ms unfused, docs/benchmarks.md)
 * and its arena shrinks by a fifth. pixl_ctx_set_fusion(ctx, 0) or
 * PIXL_FUSION=0 turns it off. */
#include <stdlib.h>

#include "pixl_impl.h"

#define MAX_CHAIN 8

static int fused_fwd(pixl_tensor *n)
{
    (void)n; /* computed by n->fused_into's forward */
    return PIXL_OK;
}

static const pixl_op_def fused_def = {"fused", fused_fwd, NULL, NULL, NULL, 0, NULL, NULL};

int pixl_ctx_set_fusion(pixl_ctx *ctx, int on)
{
    if (!ctx) return pixl_set_error(PIXL_ERR_ARG, "pixl_ctx_set_fusion: NULL context");
    if (ctx->planned) return pixl_set_error(PIXL_ERR_STATE, "pixl_ctx_set_fusion: the context is already planned");
    ctx->fusion = on ? 1 : -1;
    return PIXL_OK;
}

int pixl_ctx_fused_count(const pixl_ctx *ctx) { return ctx ? ctx->n_fused : 0; }

static int fusion_on(const pixl_ctx *c)
{
    if (c->fusion) return c->fusion > 0;
    const char *e = getenv("PIXL_FUSION");
    return !(e && !strcmp(e, "0"));
}

/* a node whose own value is read after forward */
static int pinned(const pixl_ctx *c, const pixl_tensor *t, const int *readers)
{
    if (t->flags & (PIXL_FLAG_KEEP | PIXL_FLAG_VIEW) || readers[t->id] == 0) return 1;
    for (int i = 0; i < c->n_probe; i++)
        if (c->probe[i] == t) return 1;
    for (int i = 0; i < c->n_aux; i++)
        if (c->aux[i] == t) return 1;
    for (int i = 0; i < c->n_loss; i++)
        if (c->loss[i] == t) return 1;
    return 0;
}

int pixl__fuse_eval(pixl_ctx *c)
{
    if (c->mode != PIXL_MODE_EVAL || !fusion_on(c) || c->n_nodes == 0) return PIXL_OK;
    const int n = c->n_nodes;
    int *readers = calloc((size_t)n, sizeof *readers), *reader = malloc((size_t)n * sizeof *reader);
    if (!readers || !reader) {
        free(readers);
        free(reader);
        return pixl_set_error(PIXL_ERR_NOMEM, "pixl_ctx_plan: out of memory (fusion)");
    }
    /* readers of each node (a node reading the same input twice counts twice); views read their root */
    for (int j = 0; j < n; j++) {
        pixl_tensor *t = c->nodes[j];
        for (int k = 0; k < t->n_src; k++)
            if (t->src[k]) {
                readers[t->src[k]->id]++;
                reader[t->src[k]->id] = j;
            }
        if (t->view_of && !(t->n_src > 0 && t->src[0] == t->view_of)) {
            readers[t->view_of->id]++;
            reader[t->view_of->id] = j;
        }
    }
    for (int i = 0; i < n; i++) {
        pixl_tensor *p = c->nodes[i];
        if (!p->def || !p->def->fuse || p->fused_into || (p->flags & PIXL_FLAG_VIEW)) continue;
        pixl_epi_step st[MAX_CHAIN];
        pixl_tensor *chain[MAX_CHAIN];
        int k = 0;
        pixl_tensor *end = p;
        while (k < MAX_CHAIN && readers[end->id] == 1 && !pinned(c, end, readers)) {
            pixl_tensor *next = c->nodes[reader[end->id]];
            if (!next->def || !next->def->epi_step || next->fused_into) break;
            pixl_epi_step s = {0};
            if (!next->def->epi_step(next, end, &s)) break;
            s.node = next;
            if (s.kind == PIXL_EPI_ADD && (!s.other || s.other->id >= p->id || s.other->numel != next->numel ||
                                           s.other->dtype != PIXL_F32))
                break;
            st[k] = s;
            chain[k++] = next;
            end = next;
        }
        int took = k ? p->def->fuse(p, st, k) : 0;
        if (took < 0) {
            free(readers);
            free(reader);
            return took;
        }
        if (took > 0 && readers[chain[took - 1]->id] == 0) p->flags |= PIXL_FLAG_KEEP; /* a graph output */
        for (int m = 0; m < took; m++) {
            pixl_tensor *f = chain[m];
            f->unfused_def = f->def;
            f->def = &fused_def;
            f->flags |= PIXL_FLAG_VIEW;
            f->view_of = p;
            f->view_aux = 0;
            f->fused_into = p;
            c->n_fused++;
        }
    }
    free(readers);
    free(reader);
    return PIXL_OK;
}
