// CBLAS: OpenBLAS's cblas.h plus its thread-count controls, imported as is.
#ifndef CBLAS_SHIM_H
#define CBLAS_SHIM_H
#include <cblas.h>
#endif
