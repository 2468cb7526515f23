// StreamDecoder: buffers a fragmented byte stream and yields whole packets.
#include <span>

#include "mqtt/codec/decoder.h"

namespace mqtt::codec {

void StreamDecoder::feed(std::span<const uint8_t> bytes) {
  if (failed_ || bytes.empty()) return;
  // Drop consumed bytes before growing: views from the last packet are no
  // longer valid once feed() is called.
  if (start_ != 0) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(start_));
    stream_offset_ += start_;
    start_ = 0;
  }
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

DecodeResult StreamDecoder::next(Packet& out) {
  if (failed_) return failure_;
  if (start_ == buf_.size() && start_ != 0) {
    stream_offset_ += start_;
    buf_.clear();
    start_ = 0;
  }
  DecodeResult r =
      decode(std::span<const uint8_t>(buf_.data() + start_, buf_.size() - start_), opts_, out);
  switch (r.status) {
    case DecodeStatus::Ok:
      start_ += r.consumed;
      break;
    case DecodeStatus::NeedMore:
      break;
    case DecodeStatus::Error:
      r.error_offset += stream_offset_ + start_;
      failed_ = true;
      failure_ = r;
      break;
  }
  return r;
}

}  // namespace mqtt::codec
