// libdeflate: its CRC-32 folds with PCLMULQDQ (VPCLMULQDQ where present), chosen at run time.
#include <libdeflate.h>
