/* test_zoo_fill.c — the C fill equals the python one (scripts/ref/zoo_fill.py)
 * on values printed by that script for a few names. */
#include <math.h>

#include "test.h"
#include "zoo_fill.h"

PIXL_TEST(zoo_fill_matches_python)
{
    /* /usr/bin/python3 -c "import sys; sys.path.insert(0,'scripts/ref'); import zoo_fill as z;
     *   print(z.values('conv1.weight',(4,3,3,3)).ravel()[:3], z.values('bn1.running_var',(4,)),
     *         z.values('fc.bias',(5,))[4], z.values('bn1.weight',(4,))[1])" */
    int64_t cs[4] = {4, 3, 3, 3}, vs[1] = {4}, bs[1] = {5};
    CHECK_NEAR(pixl_test_zoo_value("conv1.weight", 4, cs, 0), 0.302945882, 1e-7);
    CHECK_NEAR(pixl_test_zoo_value("conv1.weight", 4, cs, 2), -0.19197607, 1e-7);
    CHECK_NEAR(pixl_test_zoo_value("bn1.running_var", 1, vs, 3), 1.08736467, 1e-7);
    CHECK_NEAR(pixl_test_zoo_value("fc.bias", 1, bs, 4), -0.0968523696, 1e-7);
    CHECK_NEAR(pixl_test_zoo_value("bn1.weight", 1, vs, 1), 0.824279785, 1e-7);
}
