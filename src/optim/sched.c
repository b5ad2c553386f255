/* sched.c — learning-rate schedules as closed forms of the step:
 * constant, step, multistep, poly and cosine, each optionally preceded by a
 * linear warm-up.
 *
 * WARM-UP CONVENTION ("warm-up, then the schedule over the remaining steps")
 *   With W = warmup_steps > 0:
 *     step < W:   lr * (s + (1 - s) * step / W), s = warmup_start
 *                 (torch LinearLR(start_factor=s, total_iters=W))
 *     step >= W:  the main schedule evaluated at t = step - W. POLY and
 *                 COSINE run over T = max_steps - W, so they still end at
 *                 max_steps (poly reaches exactly 0 there); STEP's step_size
 *                 and MULTISTEP's milestones count from the end of the
 *                 warm-up.
 *   This equals torch SequentialLR([LinearLR(s, total_iters=W), main],
 *   milestones=[W]) with main built for T = max_steps - W steps, and is
 *   continuous: the warm-up ends at lr, where every main schedule starts.
 *
 * Other conventions: negative steps count as 0; gamma 0 -> 0.1 and power
 * 0 -> 0.9 (PyTorch's defaults); step_size <= 0 means no step decay;
 * max_steps <= 0 means POLY/COSINE do not decay. After their end POLY stays
 * at 0 and COSINE at min_lr (torch's CosineAnnealingLR would rise again). */
#include <math.h>

#include "pixl_impl.h"

static double main_factor(const pixl_sched *s, double lr, int64_t t, int64_t T)
{
    double gamma = s->gamma != 0 ? s->gamma : 0.1;
    switch (s->kind) {
    case PIXL_SCHED_CONSTANT:
        return lr;
    case PIXL_SCHED_STEP:
        if (s->step_size <= 0) return lr;
        return lr * pow(gamma, (double)(t / s->step_size));
    case PIXL_SCHED_MULTISTEP: {
        int n = s->n_milestones < 0 ? 0 : s->n_milestones > 16 ? 16 : s->n_milestones, k = 0;
        for (int i = 0; i < n; i++) k += s->milestones[i] <= t;
        return lr * pow(gamma, k);
    }
    case PIXL_SCHED_POLY: {
        if (s->max_steps <= 0) return lr;
        if (t >= T) return 0;
        double power = s->power != 0 ? s->power : 0.9;
        return lr * pow(1.0 - (double)t / (double)T, power);
    }
    case PIXL_SCHED_COSINE: {
        if (s->max_steps <= 0) return lr;
        double mn = s->min_lr;
        if (t >= T) return mn;
        return mn + (lr - mn) * (1.0 + cos(M_PI * (double)t / (double)T)) / 2.0;
    }
    }
    return lr;
}

float pixl_sched_lr(const pixl_sched *s, float lr, int64_t step)
{
    if (!s) return lr;
    if (step < 0) step = 0;
    int64_t W = s->warmup_steps > 0 ? s->warmup_steps : 0;
    if (step < W) {
        double st = s->warmup_start;
        return (float)((double)lr * (st + (1.0 - st) * (double)step / (double)W));
    }
    return (float)main_factor(s, lr, step - W, s->max_steps - W);
}
