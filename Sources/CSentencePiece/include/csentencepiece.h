// A small C API over SentencePiece so that Swift never needs C++ interop (see shared/STYLE.md).
// The shim holds no logic: it converts C++ statuses into codes and keeps the last error message per thread.
#ifndef CSENTENCEPIECE_H
#define CSENTENCEPIECE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes: 0 is success, 1..16 are SentencePiece's own `util::StatusCode` values.
#define CSP_OK 0
/// The caller's buffer is too small; `*out_count` holds the size needed (call again with a larger buffer).
#define CSP_BUFFER_TOO_SMALL 100
/// SentencePiece threw a C++ exception (a file it could not read as it expected); the message says which.
#define CSP_EXCEPTION 101

/// An opaque loaded model (a `sentencepiece::SentencePieceProcessor`). Immutable once loaded: every call
/// taking a `const csp_processor *` may run concurrently from several threads.
typedef struct csp_processor csp_processor;

/// The message of the last failed call on this thread ("" if none). Valid until the next call on this thread.
const char *csp_last_error(void);

/// Loads the model file at `path` (NUL-terminated). On success `*out` owns the model: release it with `csp_free`.
int csp_load(const char *path, csp_processor **out);
void csp_free(csp_processor *processor);

int csp_piece_size(const csp_processor *processor);
int csp_unk_id(const csp_processor *processor);

/// Encodes `len` bytes of UTF-8 into at most `capacity` ids; `*out_count` receives the number of ids
/// (the number needed when CSP_BUFFER_TOO_SMALL is returned).
int csp_encode_ids(const csp_processor *processor, const char *utf8, size_t len, int32_t *out_ids, size_t capacity,
                   size_t *out_count);

/// Decodes `count` ids into UTF-8 (not NUL-terminated); `*out_len` receives the byte length (the length needed when
/// CSP_BUFFER_TOO_SMALL is returned). Ids outside [0, piece size) fail with code 11 (out of range).
int csp_decode_ids(const csp_processor *processor, const int32_t *ids, size_t count, char *out, size_t capacity,
                   size_t *out_len);

/// The id of the piece spelled by `len` bytes of UTF-8, or the unknown id when the model has no such piece.
int csp_piece_to_id(const csp_processor *processor, const char *utf8, size_t len);

/// The piece of `id` in UTF-8 with the same buffer protocol as `csp_decode_ids`.
int csp_id_to_piece(const csp_processor *processor, int32_t id, char *out, size_t capacity, size_t *out_len);

/// Runs `sentencepiece::SentencePieceTrainer::Train` with a command-line style argument string
/// ("--input=... --model_prefix=... --vocab_size=..."). The trainer's informational log is silenced.
int csp_train(const char *arguments);

/// Like `csp_train`, but the sentences come from `len` bytes of UTF-8 text (one sentence per line) and the model
/// is returned instead of written: `*out_model` (free it with `csp_free_bytes`) holds `*out_size` bytes of the
/// serialized model. Neither an input path nor a model prefix is recorded in the model, so the same text and
/// options give the same bytes wherever they run.
int csp_train_from_text(const char *arguments, const char *text, size_t len, char **out_model, size_t *out_size);
void csp_free_bytes(char *bytes);

#ifdef __cplusplus
}
#endif
#endif
