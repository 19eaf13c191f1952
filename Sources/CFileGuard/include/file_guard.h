#ifndef GLMCLUSTER_FILE_GUARD_H
#define GLMCLUSTER_FILE_GUARD_H

#include <stddef.h>

// A file mapped into memory that shrinks while it is read (truncated or replaced in place by another process) makes
// the next read of a page past its new end raise SIGBUS. The guard turns that into an error message naming the
// file and exit status 1, instead of a crash: mapped files register their range, and the SIGBUS handler looks the
// faulting address up among them.

/// Records `[base, base + length)` as the mapping of `path` (copied); installs the handler on first use.
void file_guard_register(const void *base, size_t length, const char *path);

/// Forgets the mapping at `base` (before it is unmapped).
void file_guard_unregister(const void *base);

#endif
