// Debian's libopenblas-dev installs OpenBLAS's cblas.h (with openblas_set_num_threads and
// openblas_get_corename) behind the cblas.h alternative.
#include <cblas.h>
