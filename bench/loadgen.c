/* loadgen: open-loop HTTP/1.1 load at a fixed rate, for bench/run.sh.
 *
 * Requests are scheduled at start + i/rate whatever the server does (open
 * loop, like wrk2); each goes out on an idle keep-alive connection, or a new
 * one while fewer than --conns are open, or waits for one. Latency is taken
 * from the *scheduled* time (no coordinated omission) and also from the
 * moment the request was written ("service" latency). Latencies are kept per
 * status class so rejected (503) answers can be timed apart from 200s.
 *
 * usage: loadgen --port P [--host 127.0.0.1] [--method POST] --path /x
 *                [--body STR] [--header 'K: V']... --rate R --duration S
 *                [--conns N] [--grace S]
 * prints one JSON object on stdout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { C_FREE, C_CONNECTING, C_BUSY, C_IDLE };

struct conn {
  int fd, state, reused;
  double intended, sent;
  char *req;       /* bytes still to write */
  size_t req_left;
  char *buf;
  size_t len, cap;
};

struct lat { double *v; size_t n, cap; };

static struct conn *conns;
static int max_conns = 256, open_conns = 0;
static int *idle_stack, idle_n = 0;
static int ep;
static struct sockaddr_in addr;
static char *request;
static size_t request_len;

static double *pending; /* ring of intended times waiting for a connection */
static size_t pend_head = 0, pend_n = 0, pend_cap = 0;

static long sent_n = 0, done_n = 0, err_n = 0, status_n[600];
static struct lat lat_all, lat_ok, lat_503, lat_other, svc_ok, svc_503;
static double t_start, t_end_sched;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void lat_add(struct lat *l, double v) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 4096;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    if (!l->v) { perror("realloc"); exit(1); }
  }
  l->v[l->n++] = v;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double pct(struct lat *l, double p) {
  if (!l->n) return -1;
  size_t i = (size_t)ceil(p / 100.0 * (double)l->n);
  if (i > 0) i--;
  if (i >= l->n) i = l->n - 1;
  return l->v[i] * 1e3;
}

static void print_lat(const char *name, struct lat *l, int comma) {
  qsort(l->v, l->n, sizeof *l->v, cmp_d);
  printf("\"%s\":{\"n\":%zu,\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"max\":%.2f}%s", name, l->n,
         pct(l, 50), pct(l, 90), pct(l, 99), l->n ? l->v[l->n - 1] * 1e3 : -1.0, comma ? "," : "");
}

static void pend_push(double t) {
  if (pend_n == pend_cap) {
    size_t nc = pend_cap ? pend_cap * 2 : 1024;
    double *np = malloc(nc * sizeof *np);
    for (size_t i = 0; i < pend_n; i++) np[i] = pending[(pend_head + i) % pend_cap];
    free(pending);
    pending = np, pend_head = 0, pend_cap = nc;
  }
  pending[(pend_head + pend_n++) % pend_cap] = t;
}

static double pend_pop(void) {
  double t = pending[pend_head];
  pend_head = (pend_head + 1) % pend_cap, pend_n--;
  return t;
}

static void conn_close(int i) {
  struct conn *c = &conns[i];
  if (c->fd >= 0) { close(c->fd); open_conns--; }
  c->fd = -1, c->state = C_FREE, c->len = 0, c->reused = 0;
}

static void try_write(int i) {
  struct conn *c = &conns[i];
  while (c->req_left) {
    ssize_t w = send(c->fd, c->req, c->req_left, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        return;
      }
      return; /* the read side will see the error */
    }
    c->req += w, c->req_left -= (size_t)w;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void start_on(int i, double intended) {
  struct conn *c = &conns[i];
  c->intended = intended, c->sent = now(), c->len = 0;
  c->req = request, c->req_left = request_len;
  c->state = C_BUSY;
  sent_n++;
  try_write(i);
}

static int open_conn(void) {
  int i;
  for (i = 0; i < max_conns; i++)
    if (conns[i].state == C_FREE) break;
  if (i == max_conns) return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int r = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  if (r < 0 && errno != EINPROGRESS) { close(fd); return -1; }
  conns[i].fd = fd, conns[i].state = C_CONNECTING, conns[i].len = 0, conns[i].reused = 0;
  open_conns++;
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)i};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  return i;
}

static void dispatch(void) {
  while (pend_n) {
    if (idle_n) {
      int i = idle_stack[--idle_n];
      conns[i].reused = 1;
      start_on(i, pend_pop());
    } else if (open_conns < max_conns) {
      int i = open_conn();
      if (i < 0) return;
      conns[i].intended = pend_pop(); /* sent once connected */
    } else {
      return;
    }
  }
}

static void finish(int i, int status, int keep) {
  struct conn *c = &conns[i];
  double t = now();
  double l = t - c->intended, s = t - c->sent;
  done_n++;
  if (status > 0 && status < 600) status_n[status]++;
  lat_add(&lat_all, l);
  if (status >= 200 && status < 300) lat_add(&lat_ok, l), lat_add(&svc_ok, s);
  else if (status == 503) lat_add(&lat_503, l), lat_add(&svc_503, s);
  else lat_add(&lat_other, l);
  if (keep) {
    c->state = C_IDLE, c->len = 0;
    idle_stack[idle_n++] = i;
  } else {
    conn_close(i);
  }
}

/* 1 = complete response parsed, 0 = need more, -1 = malformed */
static int parse(struct conn *c, int *status, int *keep) {
  char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
  if (!end) return 0;
  size_t hlen = (size_t)(end - c->buf) + 4;
  if (c->len < 12 || strncmp(c->buf, "HTTP/1.", 7)) return -1;
  *status = atoi(c->buf + 9);
  *keep = c->buf[7] == '1';
  long clen = -1;
  int chunked = 0;
  for (char *p = memchr(c->buf, '\n', hlen); p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
    p++;
    if (!strncasecmp(p, "content-length:", 15)) clen = atol(p + 15);
    else if (!strncasecmp(p, "transfer-encoding:", 18) && strstr(p, "chunked") && strstr(p, "chunked") < end) chunked = 1;
    else if (!strncasecmp(p, "connection:", 11)) {
      char *q = p + 11;
      while (*q == ' ') q++;
      if (!strncasecmp(q, "close", 5)) *keep = 0;
      else if (!strncasecmp(q, "keep-alive", 10)) *keep = 1;
    }
  }
  if (*status == 204 || *status == 304 || (*status >= 100 && *status < 200)) clen = 0;
  if (clen >= 0) return c->len >= hlen + (size_t)clen ? 1 : 0;
  if (chunked) {
    size_t off = hlen;
    for (;;) {
      char *nl = memmem(c->buf + off, c->len - off, "\r\n", 2);
      if (!nl) return 0;
      long sz = strtol(c->buf + off, NULL, 16);
      size_t data = (size_t)(nl - c->buf) + 2;
      if (sz == 0) return memmem(c->buf + data - 2, c->len - (data - 2), "\r\n\r\n", 4) ? 1 : 0;
      off = data + (size_t)sz + 2;
      if (off > c->len) return 0;
    }
  }
  *keep = 0; /* body runs to close */
  return 0;
}

static void on_readable(int i) {
  struct conn *c = &conns[i];
  for (;;) {
    if (c->cap - c->len < 4096) {
      c->cap = c->cap ? c->cap * 2 : 16384;
      c->buf = realloc(c->buf, c->cap);
    }
    ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
    if (r > 0) {
      c->len += (size_t)r;
      c->buf[c->len] = 0;
      continue;
    }
    if (r < 0 && errno == EAGAIN) break;
    /* EOF or error */
    if (c->state == C_IDLE) { /* server closed an idle keep-alive connection */
      for (int k = 0; k < idle_n; k++)
        if (idle_stack[k] == i) { idle_stack[k] = idle_stack[--idle_n]; break; }
      conn_close(i);
      return;
    }
    if (c->state == C_BUSY) {
      int status = 0, keep = 0;
      if (c->len && parse(c, &status, &keep) != -1 && status) {
        finish(i, status, 0); /* body ran to close */
        return;
      }
      if (c->len == 0 && c->reused) { /* lost a race with the idle timeout: retry */
        double t = c->intended;
        sent_n--;
        conn_close(i);
        pend_push(t);
        return;
      }
      err_n++, done_n++;
      lat_add(&lat_all, now() - c->intended);
      lat_add(&lat_other, now() - c->intended);
    }
    conn_close(i);
    return;
  }
  if (c->state != C_BUSY) return;
  int status = 0, keep = 1;
  int p = parse(c, &status, &keep);
  if (p == 1) finish(i, status, keep);
  else if (p < 0) { err_n++, done_n++; conn_close(i); }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *method = "GET", *path = "/", *body = NULL;
  int port = 0;
  double rate = 100, duration = 10, grace = 10;
  char headers[8192] = "";
  size_t hl = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) { fprintf(stderr, "loadgen: %s needs a value\n", a); return 2; }
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--method")) method = v;
    else if (!strcmp(a, "--path")) path = v;
    else if (!strcmp(a, "--body")) body = v;
    else if (!strcmp(a, "--header")) hl += (size_t)snprintf(headers + hl, sizeof headers - hl, "%s\r\n", v);
    else if (!strcmp(a, "--rate")) rate = atof(v);
    else if (!strcmp(a, "--duration")) duration = atof(v);
    else if (!strcmp(a, "--conns")) max_conns = atoi(v);
    else if (!strcmp(a, "--grace")) grace = atof(v);
    else { fprintf(stderr, "loadgen: unknown option %s\n", a); return 2; }
    i++;
  }
  if (!port || rate <= 0 || duration <= 0 || max_conns < 1) {
    fprintf(stderr, "usage: loadgen --port P --path /x --rate R --duration S [--conns N]\n");
    return 2;
  }
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { fprintf(stderr, "loadgen: bad host\n"); return 2; }
  size_t blen = body ? strlen(body) : 0;
  request = malloc(blen + sizeof headers + 1024);
  request_len = (size_t)sprintf(request, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%s", method, path, host, port, headers);
  if (body) request_len += (size_t)sprintf(request + request_len, "Content-Length: %zu\r\n", blen);
  request_len += (size_t)sprintf(request + request_len, "\r\n%s", body ? body : "");

  conns = calloc((size_t)max_conns, sizeof *conns);
  idle_stack = calloc((size_t)max_conns, sizeof *idle_stack);
  for (int i = 0; i < max_conns; i++) conns[i].fd = -1;
  ep = epoll_create1(EPOLL_CLOEXEC);

  long total = (long)llround(rate * duration), scheduled = 0;
  t_start = now() + 0.01;
  t_end_sched = t_start + duration;
  struct epoll_event evs[256];
  /* a timerfd wakes us at each scheduled time with ns precision */
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
  for (;;) {
    double t = now();
    while (scheduled < total && t_start + (double)scheduled / rate <= t)
      pend_push(t_start + (double)scheduled++ / rate);
    dispatch();
    if (scheduled == total && pend_n == 0 && done_n >= sent_n) break;
    if (scheduled == total && t > t_end_sched + grace) break;
    int timeout = 50;
    if (scheduled < total) {
      double next = t_start + (double)scheduled / rate;
      if (next <= now()) timeout = 0;
      else {
        struct itimerspec its = {0};
        its.it_value.tv_sec = (time_t)next;
        its.it_value.tv_nsec = (long)((next - (double)(time_t)next) * 1e9);
        timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
      }
    }
    int n = epoll_wait(ep, evs, 256, timeout);
    for (int k = 0; k < n; k++) {
      if (evs[k].data.u32 == UINT32_MAX) {
        uint64_t exp;
        if (read(tfd, &exp, sizeof exp) < 0) { /* nothing to drain */ }
        continue;
      }
      int i = (int)evs[k].data.u32;
      struct conn *c = &conns[i];
      if (c->fd < 0) continue;
      if (c->state == C_CONNECTING) {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e) { err_n++, done_n++, sent_n++; conn_close(i); continue; }
        start_on(i, c->intended);
        continue;
      }
      if ((evs[k].events & EPOLLOUT) && c->state == C_BUSY && c->req_left) try_write(i);
      if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(i);
    }
  }
  double wall = now() - t_start;
  long unfinished = sent_n - done_n + (long)pend_n + (total - scheduled);
  printf("{\"offered_rate\":%.2f,\"duration\":%.2f,\"wall\":%.2f,\"scheduled\":%ld,\"sent\":%ld,"
         "\"completed\":%ld,\"errors\":%ld,\"unfinished\":%ld,\"max_conns\":%d,\"status\":{",
         rate, duration, wall, total, sent_n, done_n, err_n, unfinished, max_conns);
  int first = 1;
  for (int s = 0; s < 600; s++)
    if (status_n[s]) printf("%s\"%d\":%ld", first ? "" : ",", s, status_n[s]), first = 0;
  printf("},\"ok_per_s\":%.2f,", (double)lat_ok.n / duration);
  print_lat("all", &lat_all, 1);
  print_lat("ok", &lat_ok, 1);
  print_lat("rejected_503", &lat_503, 1);
  print_lat("other", &lat_other, 1);
  print_lat("ok_service", &svc_ok, 1);
  print_lat("rejected_503_service", &svc_503, 0);
  printf("}\n");
  return 0;
}
