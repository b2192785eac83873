#!/usr/bin/env python3
"""Counts per request, not timed (so the machine's noise does not matter):
heap calls (bench/mcount.so preloaded) and syscalls (strace -c -f) of the
server for GET /v1/auth/me and POST /v1/auth/refresh, one keep-alive
connection, N requests after a warm-up, minus a run with the warm-up only.

    python3 bench/counts.py build/tessera [N]     (bench/counts.sh builds mcount.so)
"""
import http.client, json, os, signal, socket, subprocess, sys, tempfile, time

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/tessera")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
HERE = os.path.dirname(os.path.abspath(__file__))
MCOUNT = os.path.join(HERE, "out", "mcount.so")
PASSWORD = "quartz harbour 7731 ilex lantern"
WARM = 50


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def post(c, path, body, tok=None):
    h = {"Content-Type": "application/json"}
    c.request("POST", path, json.dumps(body), h)
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        raise SystemExit(f"{path}: {r.status} {data[:200]!r}")
    return json.loads(data)


def run(what, n, strace):
    d = tempfile.mkdtemp(prefix="tessera-counts-")
    db = f"sqlite:{d}/t.db"
    subprocess.run([BIN, "tenant", "add", "bench", "--db", db], check=True, capture_output=True)
    subprocess.run([BIN, "user", "add", "--tenant", "bench", "--email", "b@example.com", "--verified",
                    "--db", db], input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    port = free_port()
    env = dict(os.environ, LD_PRELOAD=MCOUNT, MCOUNT_OUT=f"{d}/mcount")
    srv = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--db", db,
                            "--default-tenant", "bench", "--issuer", f"http://127.0.0.1:{port}",
                            "--log-level", "warn", "--rl-ip-per-min", "0", "--rl-account-per-min", "0"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            break
        except OSError:
            time.sleep(0.01)
    c = http.client.HTTPConnection("127.0.0.1", port)
    login = post(c, "/v1/auth/login", {"email": "b@example.com", "password": PASSWORD})
    tok, rt = login["token"], login["refresh_token"]

    def one():
        nonlocal rt
        if what == "me":
            c.request("GET", "/v1/auth/me", headers={"Authorization": f"Bearer {tok}"})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit(f"me: {r.status}")
        else:
            rt = post(c, "/v1/auth/refresh", {"refresh_token": rt})["refresh_token"]

    for _ in range(WARM):
        one()
    st = None
    if strace:
        st = subprocess.Popen(["strace", "-c", "-f", "-p", str(srv.pid), "-o", f"{d}/strace"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    for _ in range(n):
        one()
    if st:
        time.sleep(0.3)
        st.send_signal(signal.SIGINT)
        st.wait()
    c.close()
    srv.send_signal(signal.SIGINT)
    srv.wait()
    heap = [int(x) for x in open(f"{d}/mcount").read().split()]
    calls = {}
    if strace:
        for line in open(f"{d}/strace"):
            f = line.split()
            if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
                calls[f[-1]] = int(f[3])
    subprocess.run(["rm", "-rf", d])
    return heap, calls


def main():
    out = {}
    for what in ("me", "refresh"):
        base, _ = run(what, 0, False)
        full, _ = run(what, N, False)
        _, sc = run(what, N, True)
        heap = [(b - a) / N for a, b in zip(base, full)]
        total = sum(sc.values()) / N
        top = sorted(((v / N, k) for k, v in sc.items()), reverse=True)[:8]
        out[what] = {"allocations": round(heap[0] + heap[1] + heap[2], 1),
                     "malloc_calloc_realloc_free": [round(x, 1) for x in heap],
                     "syscalls": round(total, 1),
                     "by_syscall": {k: round(v, 1) for v, k in top}}
        print(f"{what}: {out[what]['allocations']} heap allocations per request "
              f"(malloc/calloc/realloc/free {'/'.join(str(round(x, 1)) for x in heap)}), "
              f"{total:.1f} syscalls: " + ", ".join(f"{k} {v:.1f}" for v, k in top))
    with open(os.path.join(HERE, "out", "counts.json"), "w") as f:
        json.dump(out, f, indent=2)


main()
