/* report_task.c — which task writes the body of the report: the task of
 * the run's training set (src/tasks/registry.c), through its
 * report_section. A task without one (or a run whose data set cannot be
 * opened) gets the generic part: the training curves and the run table. */
#include "report/report_impl.h"
#include "tasks/task.h"

static int generic_section(pixl__report *R, FILE *o, const char *task)
{
    R->best = -1;
    char why[4400];
    snprintf(why, sizeof why, "%s", task ? "this task has no report section of its own" : R->val_err);
    pixl__report_summary s = {{{"task", task ? task : "unknown", why}, {"validation records", "—", ""}}, NULL, NULL, NULL};
    char nv[32];
    snprintf(nv, sizeof nv, "%d", R->L.nva);
    s.cards[1].v = nv;
    pixl__report_header(R, o, &s);
    pixl__report_curves(R, o, NULL, 0);
    return 0;
}

int pixl__report_task_section(pixl__report *R, FILE *o)
{
    const pixl__task_def *d = R->task >= 0 ? pixl__task_find((pixl_task)R->task) : NULL;
    /* a run whose training set cannot be opened is shown as segmentation, as its log reads */
    if (!d && R->task < 0) d = pixl__task_find(PIXL_TASK_SEGMENTATION);
    if (d && d->report_section) return d->report_section(R, o);
    return generic_section(R, o, d ? d->name : NULL);
}
