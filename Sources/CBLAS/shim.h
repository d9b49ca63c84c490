// The one C header the project uses: Debian's OpenBLAS CBLAS interface plus the OpenBLAS
// extensions needed to pick the right kernels at run time (DESIGN.md §5, pitfall 1).
#include <cblas.h>
char *openblas_get_corename(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
void gotoblas_dynamic_quit(void);
void gotoblas_dynamic_init(void);
int openblas_read_env(void);
int blas_thread_init(void);
int blas_thread_shutdown_(void);
