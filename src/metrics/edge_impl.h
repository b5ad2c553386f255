/* edge_impl.h — private interface between the BSDS benchmark's files:
 * the correspondence solver (edge_match.c) and the thinning of a pixel
 * list (edge_nms.c), used by the benchmark (edge_bench.c) at every
 * threshold of every image with reusable workspaces. */
#ifndef PIXL_EDGE_IMPL_H
#define PIXL_EDGE_IMPL_H

#include "pixl_impl.h"

typedef struct pixl__edge_matcher pixl__edge_matcher;

/* a workspace for w x h maps: pairs within max_dist_px, unmatched pixels
 * cost outlier_cost * max_dist_px; NULL when out of memory (error set) */
pixl__edge_matcher *pixl__edge_matcher_new(int w, int h, double max_dist_px, double outlier_cost);
void pixl__edge_matcher_free(pixl__edge_matcher *m);
/* Match boundary map a against b (w x h of the workspace, 0/1): ma[p] / mb[q]
 * (optional, zeroed by the caller) get the index + 1 of the matched pixel,
 * hit_a (optional) 1 where a's pixel matched; n_matched the pairs, cost the
 * assignment's total cost (both optional). */
int pixl__edge_matcher_run(pixl__edge_matcher *m, const uint8_t *a, const uint8_t *b, int32_t *ma, int32_t *mb,
                           uint8_t *hit_a, int64_t *n_matched, double *cost, double max_dist_px, double outlier_cost);

/* Thin the 0/1 map b (w x h) in place as bwmorph 'thin' Inf; list holds
 * its n foreground pixel indices and is updated, del is scratch of n.
 * Returns the foreground count left. */
int pixl__edge_thin_list(uint8_t *b, int w, int h, int32_t *list, int n, int32_t *del);

#endif
