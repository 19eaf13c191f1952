#include "csentencepiece.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstring>
#include <string>
#include <vector>

// Exported by libsentencepiece (0.1.9x) but absent from its public headers.
namespace sentencepiece::logging {
int GetMinLogLevel();
void SetMinLogLevel(int level);
}  // namespace sentencepiece::logging

struct csp_processor {
  sentencepiece::SentencePieceProcessor sp;
};

static thread_local std::string last_error;

static int fail(const sentencepiece::util::Status &status) {
  if (status.ok()) return CSP_OK;
  last_error = status.message();
  return static_cast<int>(status.code());
}

static int copy_out(const void *data, size_t size, size_t element, void *out, size_t capacity, size_t *out_count) {
  *out_count = size;
  if (size > capacity) {
    last_error = "output buffer too small";
    return CSP_BUFFER_TOO_SMALL;
  }
  if (size > 0) std::memcpy(out, data, size * element);
  return CSP_OK;
}

extern "C" {

const char *csp_last_error(void) { return last_error.c_str(); }

int csp_load(const char *path, csp_processor **out) {
  auto *processor = new csp_processor();
  if (int code = fail(processor->sp.Load(path))) {
    delete processor;
    *out = nullptr;
    return code;
  }
  *out = processor;
  return CSP_OK;
}

void csp_free(csp_processor *processor) { delete processor; }

int csp_piece_size(const csp_processor *processor) { return processor->sp.GetPieceSize(); }

int csp_unk_id(const csp_processor *processor) { return processor->sp.unk_id(); }

int csp_encode_ids(const csp_processor *processor, const char *utf8, size_t len, int32_t *out_ids, size_t capacity,
                   size_t *out_count) {
  std::vector<int> ids;
  if (int code = fail(processor->sp.Encode(absl::string_view(utf8, len), &ids))) return code;
  std::vector<int32_t> narrow(ids.begin(), ids.end());
  return copy_out(narrow.data(), narrow.size(), sizeof(int32_t), out_ids, capacity, out_count);
}

int csp_decode_ids(const csp_processor *processor, const int32_t *ids, size_t count, char *out, size_t capacity,
                   size_t *out_len) {
  const int pieces = processor->sp.GetPieceSize();
  for (size_t i = 0; i < count; ++i) {
    if (ids[i] < 0 || ids[i] >= pieces) {
      last_error = "id " + std::to_string(ids[i]) + " is outside [0, " + std::to_string(pieces) + ")";
      return static_cast<int>(sentencepiece::util::StatusCode::kOutOfRange);
    }
  }
  std::string text;
  if (int code = fail(processor->sp.Decode(std::vector<int>(ids, ids + count), &text))) return code;
  return copy_out(text.data(), text.size(), 1, out, capacity, out_len);
}

int csp_id_to_piece(const csp_processor *processor, int32_t id, char *out, size_t capacity, size_t *out_len) {
  if (id < 0 || id >= processor->sp.GetPieceSize()) {
    last_error = "id " + std::to_string(id) + " is outside the model's pieces";
    return static_cast<int>(sentencepiece::util::StatusCode::kOutOfRange);
  }
  const std::string &piece = processor->sp.IdToPiece(id);
  return copy_out(piece.data(), piece.size(), 1, out, capacity, out_len);
}

int csp_train(const char *arguments) {
  const int level = sentencepiece::logging::GetMinLogLevel();
  sentencepiece::logging::SetMinLogLevel(2);  // keep errors, drop INFO and WARNING chatter
  const int code = fail(sentencepiece::SentencePieceTrainer::Train(arguments));
  sentencepiece::logging::SetMinLogLevel(level);
  return code;
}

}  // extern "C"
