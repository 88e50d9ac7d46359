// Built into the sanitizer copy of the extension only (fuzz.mk, ext-asan).
// PostgreSQL overwrites its environment area with the process title, and the
// sanitizer runtimes read their options from /proc/self/environ, so options
// set in the environment of the postmaster never reach them in a backend.
// These hooks give the runtimes their options from the library itself.
extern "C" {
__attribute__((visibility("default"), used)) const char* __asan_default_options() {
  // detect_leaks=0: PostgreSQL frees its memory contexts wholesale, not at exit.
  // verify_asan_link_order=0: the runtime comes in with the extension (see
  // test/fuzz/README.md), not first in the initial library list.
  return "detect_leaks=0:verify_asan_link_order=0:print_summary=1:log_path=" SANITIZER_LOG_DIR
         "/asan";
}
__attribute__((visibility("default"), used)) const char* __ubsan_default_options() {
  return "print_stacktrace=1:log_path=" SANITIZER_LOG_DIR "/ubsan";
}
}
