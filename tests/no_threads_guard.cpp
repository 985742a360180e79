// Linked into every test executable that is not marked THREADS (tests/CMakeLists.txt). The
// ThreadSanitizer build runs only the marked ones; a test whose code starts a thread without the
// mark would leave that code out of it unnoticed. This definition takes the place of the C
// library's pthread_create (std::thread and every library thread go through it) and stops the
// test with a message naming the fix.
#include <pthread.h>

#include <cstdio>
#include <cstdlib>

extern "C" int pthread_create(pthread_t* /*thread*/, const pthread_attr_t* /*attr*/,
                              void* (* /*start*/)(void*), void* /*arg*/) noexcept {
  std::fputs(
      "this test starts a thread: mark it THREADS in its equalis_add_test() so that the "
      "ThreadSanitizer build runs it (tests/CMakeLists.txt)\n",
      stderr);
  std::abort();
}
