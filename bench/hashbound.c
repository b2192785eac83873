/* hashbound: how many password hashes per second this machine can do.
 *
 * The login bound of a password server: N threads (one per core) hash at
 * once for T seconds; also the time of one hash alone (best of --singles:
 * the least disturbed by a noisy machine; the median is printed too).
 * Two algorithms:
 *   argon2id  libsodium crypto_pwhash_str_alg, as Tessera stores passwords
 *   pbkdf2    PBKDF2-HMAC-SHA256 with nettle's nettle_pbkdf2_hmac_sha256, the
 *             very function Glewlwyd 2.7 calls (150,000 iterations default)
 *
 * usage: hashbound [--alg argon2id|pbkdf2] [--ops N] [--mem-kib N]
 *                  [--iter N] [--threads N] [--seconds T] [--singles N]
 * prints one JSON object on stdout.
 */
#include <errno.h>
#include <nettle/pbkdf2.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *alg = "argon2id";
static unsigned long long ops = 2;
static size_t mem_kib = 19456;
static int iter = 150000;
static int nthreads = 0;
static double seconds = 5.0;
static int singles = 5;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hash_once(unsigned seq) {
  char pw[64];
  int n = snprintf(pw, sizeof pw, "bench-password-%u", seq);
  if (strcmp(alg, "argon2id") == 0) {
    char out[crypto_pwhash_STRBYTES];
    return crypto_pwhash_str_alg(out, pw, (unsigned long long)n, ops, mem_kib * 1024,
                                 crypto_pwhash_ALG_ARGON2ID13);
  }
  unsigned char salt[16], key[32];
  randombytes_buf(salt, sizeof salt);
  nettle_pbkdf2_hmac_sha256((size_t)n, (const uint8_t *)pw, (unsigned)iter, sizeof salt, salt,
                            sizeof key, key);
  return 0;
}

struct worker {
  pthread_t th;
  unsigned id;
  double deadline, started, finished;
  long count;
  int failed;
};

static void *run(void *arg) {
  struct worker *w = arg;
  w->started = now();
  do {
    if (hash_once(w->id * 1000003u + (unsigned)w->count) != 0) { w->failed = 1; break; }
    w->count++;
    w->finished = now();
  } while (w->finished < w->deadline);
  return NULL;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) { fprintf(stderr, "hashbound: %s needs a value\n", a); return 2; }
    if (!strcmp(a, "--alg")) alg = v;
    else if (!strcmp(a, "--ops")) ops = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--mem-kib")) mem_kib = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--iter")) iter = atoi(v);
    else if (!strcmp(a, "--threads")) nthreads = atoi(v);
    else if (!strcmp(a, "--seconds")) seconds = atof(v);
    else if (!strcmp(a, "--singles")) singles = atoi(v);
    else { fprintf(stderr, "hashbound: unknown option %s\n", a); return 2; }
    i++;
  }
  if (strcmp(alg, "argon2id") && strcmp(alg, "pbkdf2")) {
    fprintf(stderr, "hashbound: --alg argon2id|pbkdf2\n");
    return 2;
  }
  if (sodium_init() < 0) return 1;
  if (nthreads <= 0) nthreads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (singles < 1) singles = 1;

  /* one hash alone: best and median of a few */
  double *one = calloc((size_t)singles, sizeof *one);
  hash_once(0); /* warm up (page faults of the argon2 arena) */
  for (int i = 0; i < singles; i++) {
    double t0 = now();
    if (hash_once((unsigned)i + 1) != 0) { fprintf(stderr, "hashbound: hash failed\n"); return 1; }
    one[i] = now() - t0;
  }
  qsort(one, (size_t)singles, sizeof *one, cmp_d);
  double single_ms = one[0] * 1e3, single_median_ms = one[singles / 2] * 1e3;

  /* N at once */
  struct worker *ws = calloc((size_t)nthreads, sizeof *ws);
  double deadline = now() + seconds;
  for (int i = 0; i < nthreads; i++) {
    ws[i].id = (unsigned)i + 1;
    ws[i].deadline = deadline;
    if (pthread_create(&ws[i].th, NULL, run, &ws[i]) != 0) { perror("pthread_create"); return 1; }
  }
  double rate = 0, lat_sum = 0;
  long total = 0;
  for (int i = 0; i < nthreads; i++) {
    pthread_join(ws[i].th, NULL);
    if (ws[i].failed) { fprintf(stderr, "hashbound: hash failed\n"); return 1; }
    double el = ws[i].finished - ws[i].started;
    rate += (double)ws[i].count / el; /* each thread's own rate: no half-finished hash */
    lat_sum += el / (double)ws[i].count;
    total += ws[i].count;
  }
  printf("{\"alg\":\"%s\",", alg);
  if (!strcmp(alg, "argon2id"))
    printf("\"opslimit\":%llu,\"memlimit_kib\":%zu,", ops, mem_kib);
  else
    printf("\"iterations\":%d,\"prf\":\"HMAC-SHA256\",", iter);
  printf("\"threads\":%d,\"seconds\":%.1f,\"hashes\":%ld,\"hashes_per_s\":%.2f,"
         "\"ms_per_hash_loaded\":%.2f,\"single_ms\":%.2f,\"single_median_ms\":%.2f,\"singles\":%d}\n",
         nthreads, seconds, total, rate, lat_sum / nthreads * 1e3, single_ms, single_median_ms, singles);
  return 0;
}
