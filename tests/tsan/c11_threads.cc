// C11 threads for ThreadSanitizer builds (PROMOWATCH_TSAN): librdkafka
// creates its threads and takes its locks with C11's thrd_create, mtx_lock
// and cnd_wait. clang-14's TSan intercepts the pthread functions but not
// these, and glibc implements them with internal calls it cannot see: a
// thread librdkafka starts had no TSan state and crashed in its first
// malloc, and its locking would be invisible (false races on what it hands
// over). Defined here, in the executable, they take precedence over
// glibc's and are built on the pthread calls TSan does intercept.
#include <errno.h>
#include <pthread.h>
#include <threads.h>

#include <cstdint>

namespace {

int Result(int rc) {
  switch (rc) {
    case 0:
      return thrd_success;
    case ETIMEDOUT:
      return thrd_timedout;
    case EBUSY:
      return thrd_busy;
    case ENOMEM:
      return thrd_nomem;
    default:
      return thrd_error;
  }
}

struct Start {
  thrd_start_t func;
  void* arg;
};

void* Run(void* p) {
  const Start start = *static_cast<Start*>(p);
  delete static_cast<Start*>(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.func(start.arg)));
}

pthread_mutex_t* M(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* C(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

static_assert(sizeof(mtx_t) >= sizeof(pthread_mutex_t));
static_assert(sizeof(cnd_t) >= sizeof(pthread_cond_t));
static_assert(sizeof(thrd_t) == sizeof(pthread_t));

}  // namespace

extern "C" {

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  auto* start = new Start{func, arg};
  const int rc = pthread_create(reinterpret_cast<pthread_t*>(thr), nullptr, Run, start);
  if (rc != 0) delete start;
  return Result(rc);
}

int thrd_join(thrd_t thr, int* res) {
  void* out = nullptr;
  const int rc = pthread_join(static_cast<pthread_t>(thr), &out);
  if (rc == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<intptr_t>(out));
  return Result(rc);
}

int thrd_detach(thrd_t thr) { return Result(pthread_detach(static_cast<pthread_t>(thr))); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if ((type & mtx_recursive) != 0) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int rc = pthread_mutex_init(M(m), &attr);
  pthread_mutexattr_destroy(&attr);
  return Result(rc);
}
int mtx_lock(mtx_t* m) { return Result(pthread_mutex_lock(M(m))); }
int mtx_trylock(mtx_t* m) { return Result(pthread_mutex_trylock(M(m))); }
int mtx_timedlock(mtx_t* __restrict m, const struct timespec* __restrict t) {
  return Result(pthread_mutex_timedlock(M(m), t));
}
int mtx_unlock(mtx_t* m) { return Result(pthread_mutex_unlock(M(m))); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(M(m)); }

int cnd_init(cnd_t* c) { return Result(pthread_cond_init(C(c), nullptr)); }
int cnd_signal(cnd_t* c) { return Result(pthread_cond_signal(C(c))); }
int cnd_broadcast(cnd_t* c) { return Result(pthread_cond_broadcast(C(c))); }
int cnd_wait(cnd_t* c, mtx_t* m) { return Result(pthread_cond_wait(C(c), M(m))); }
int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m, const struct timespec* __restrict t) {
  return Result(pthread_cond_timedwait(C(c), M(m), t));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy(C(c)); }

}  // extern "C"
