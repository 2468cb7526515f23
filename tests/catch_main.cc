#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

// gcc 12 cannot see moodycamel ReaderWriterQueue's TSan annotations (they need
// __has_feature), so its fences look like races. Only under -fsanitize=thread.
#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_suppressions() {
  return "race:moodycamel::ReaderWriterQueue\n"
         "race:moodycamel::BlockingReaderWriterQueue\n";
}
#endif
