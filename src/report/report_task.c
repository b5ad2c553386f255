/* report_task.c — which task writes the body of the report: chosen by the
 * task of the run's training set (segmentation when it cannot be opened). */
#include "report/report_impl.h"

int pixl__report_task_section(pixl__report *R, FILE *o)
{
    switch (R->task) {
    case PIXL_TASK_EDGES: return pixl__report_section_edges(R, o);
    case PIXL_TASK_NORMALS: return pixl__report_section_normals(R, o);
    default: return pixl__report_section_seg(R, o);
    }
}
