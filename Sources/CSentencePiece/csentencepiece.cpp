#include "csentencepiece.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
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

// Feeds the lines of an in-memory text to the trainer.
class LineIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(std::string text) : text_(std::move(text)) { Next(); }
  bool done() const override { return done_; }
  void Next() override {
    if (position_ > text_.size()) {
      done_ = true;
      return;
    }
    const size_t end = std::min(text_.find('\n', position_), text_.size());
    line_ = text_.substr(position_, end - position_);
    position_ = end + 1;
    if (line_.empty() && position_ > text_.size()) done_ = true;  // nothing after a final newline
  }
  const std::string &value() const override { return line_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  std::string text_, line_;
  size_t position_ = 0;
  bool done_ = false;
};

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

// Runs `body`, turning a C++ exception into CSP_EXCEPTION: none may cross the C boundary (it would abort).
template <typename Body>
static int guarded(Body body) {
  try {
    return body();
  } catch (const std::exception &error) {
    last_error = error.what();
  } catch (...) {
    last_error = "unknown C++ exception";
  }
  return CSP_EXCEPTION;
}

extern "C" {

const char *csp_last_error(void) { return last_error.c_str(); }

int csp_load(const char *path, csp_processor **out) {
  *out = nullptr;
  return guarded([&]() -> int {
    auto processor = std::make_unique<csp_processor>();
    if (int code = fail(processor->sp.Load(path))) return code;
    *out = processor.release();
    return CSP_OK;
  });
}

void csp_free(csp_processor *processor) { delete processor; }

int csp_piece_size(const csp_processor *processor) { return processor->sp.GetPieceSize(); }

int csp_unk_id(const csp_processor *processor) { return processor->sp.unk_id(); }

int csp_encode_ids(const csp_processor *processor, const char *utf8, size_t len, int32_t *out_ids, size_t capacity,
                   size_t *out_count) {
  return guarded([&]() -> int {
    std::vector<int> ids;
    if (int code = fail(processor->sp.Encode(absl::string_view(utf8, len), &ids))) return code;
    std::vector<int32_t> narrow(ids.begin(), ids.end());
    return copy_out(narrow.data(), narrow.size(), sizeof(int32_t), out_ids, capacity, out_count);
  });
}

int csp_decode_ids(const csp_processor *processor, const int32_t *ids, size_t count, char *out, size_t capacity,
                   size_t *out_len) {
  return guarded([&]() -> int {
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
  });
}

int csp_piece_to_id(const csp_processor *processor, const char *utf8, size_t len) {
  return processor->sp.PieceToId(absl::string_view(utf8, len));
}

int csp_id_to_piece(const csp_processor *processor, int32_t id, char *out, size_t capacity, size_t *out_len) {
  return guarded([&]() -> int {
    if (id < 0 || id >= processor->sp.GetPieceSize()) {
      last_error = "id " + std::to_string(id) + " is outside the model's pieces";
      return static_cast<int>(sentencepiece::util::StatusCode::kOutOfRange);
    }
    const std::string &piece = processor->sp.IdToPiece(id);
    return copy_out(piece.data(), piece.size(), 1, out, capacity, out_len);
  });
}

// Training runs one at a time: the log level it lowers is process-wide.
static std::mutex training;

int csp_train(const char *arguments) {
  return guarded([&]() -> int {
    std::lock_guard<std::mutex> lock(training);
    const int level = sentencepiece::logging::GetMinLogLevel();
    sentencepiece::logging::SetMinLogLevel(2);  // keep errors, drop INFO and WARNING chatter
    const int code = fail(sentencepiece::SentencePieceTrainer::Train(arguments));
    sentencepiece::logging::SetMinLogLevel(level);
    return code;
  });
}

int csp_train_from_text(const char *arguments, const char *text, size_t len, char **out_model, size_t *out_size) {
  return guarded([&]() -> int {
    LineIterator lines(std::string(text, len));
    std::string model;
    std::lock_guard<std::mutex> lock(training);
    const int level = sentencepiece::logging::GetMinLogLevel();
    sentencepiece::logging::SetMinLogLevel(2);
    const int code = fail(sentencepiece::SentencePieceTrainer::Train(arguments, &lines, &model));
    sentencepiece::logging::SetMinLogLevel(level);
    *out_model = nullptr;
    *out_size = 0;
    if (code != CSP_OK) return code;
    *out_model = static_cast<char *>(std::malloc(model.size() + 1));
    std::memcpy(*out_model, model.data(), model.size());
    *out_size = model.size();
    return CSP_OK;
  });
}

void csp_free_bytes(char *bytes) { std::free(bytes); }

}  // extern "C"
