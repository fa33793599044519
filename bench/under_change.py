#!/usr/bin/env python3
"""Decisions under change: wrk drives the decision mix at 64 connections
while (1) the policy set is reloaded 20 times, each time measuring how long
until a probe decision reflects the edit, and (2) a client makes management
writes (role changes, invites, accepts) as fast as it can. Reports decision
throughput, p99 and errors during all this, reload-to-effect times, and the
sustained write rates.

    python3 bench/under_change.py BINARY DATA_DIR POLICIES SCHEMA REQUESTS [SECONDS]

The data dir must hold a `tenantgate dataset` (org0 … with user ids userN).
"""
import json, os, re, statistics, subprocess, sys, threading, time, urllib.error, urllib.request

binary, data, policies, schema, requests = sys.argv[1:6]
seconds = int(sys.argv[6]) if len(sys.argv) > 6 else 30
here = os.path.dirname(os.path.abspath(__file__))

server = subprocess.Popen(
    [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data, "--policies", policies, "--schema", schema],
    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    env={**os.environ, "TENANTGATE_RELOAD_DEBOUNCE_MS": "50"})
url = None
for line in server.stdout:
    if line.startswith("tenantgate listening on "):
        url = line.split()[-1]
        break
if not url:
    sys.exit("under_change: the sidecar did not start")


def call(method, path, body=None, actor=None):
    req = urllib.request.Request(url + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    if body is not None:
        req.add_header("content-type", "application/json")
    if actor:
        req.add_header("x-actor-id", actor)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


PROBE = {"principal": {"type": "User", "id": "user0"}, "action": {"type": "Action", "id": "billing.read"},
         "resource": {"type": "Organization", "id": "org0"}}
FREEZE = '@id("bench-freeze")\nforbid (principal == User::"user0", action == Action::"billing.read", resource);\n'


def probe():
    return call("POST", "/v1/is_authorized", PROBE)[1]["decision"]


stop = threading.Event()
reload_times, write_stats = [], {"role": 0, "invite": 0, "accept": 0, "errors": 0, "codes": {}}


def reloads():
    path = os.path.join(policies, "zz-bench-freeze.cedar")
    time.sleep(2)
    for i in range(20):
        want = "Deny" if i % 2 == 0 else "Allow"
        start = time.monotonic()
        if want == "Deny":
            with open(path, "w") as f:
                f.write(FREEZE)
        else:
            os.remove(path)
        while probe() != want:
            if time.monotonic() - start > 20:
                raise SystemExit(f"reload {i} never took effect")
            time.sleep(0.005)
        reload_times.append((time.monotonic() - start) * 1000)
        time.sleep(0.3)
    if os.path.exists(path):
        os.remove(path)


def writes():
    n = 0
    while not stop.is_set():
        org = f"org{n % 1000}"
        # org members are userN: the owner of orgK is userK (see dataset.rs)
        owner = f"user{n % 1000}"
        s, body = call("GET", f"/v1/orgs/{org}/members?role=member&limit=1", actor=owner)
        if s == 200 and body["items"]:
            target = body["items"][0]["user_id"]
            s1, _ = call("PATCH", f"/v1/orgs/{org}/members/{target}", {"role": "accounting"}, actor=owner)
            s2, _ = call("PATCH", f"/v1/orgs/{org}/members/{target}", {"role": "member"}, actor=owner)
            write_stats["role"] += 2
            for s_ in (s1, s2):
                if s_ != 200:
                    write_stats["errors"] += 1
                    write_stats["codes"][s_] = write_stats["codes"].get(s_, 0) + 1
        email = f"bench{n}@example.net"
        s, body = call("POST", f"/v1/orgs/{org}/invites",
                       {"invites": [{"email": email, "role": "member"}], "send_email": False}, actor=owner)
        if s == 201:
            write_stats["invite"] += 1
            token = body["invites"][0]["token"]
            s, _ = call("POST", "/v1/invites/accept", {"token": token, "user": {"id": f"bench{n}", "email": email}})
            if s == 200:
                write_stats["accept"] += 1
            else:
                write_stats["errors"] += 1
                write_stats["codes"][s] = write_stats["codes"].get(s, 0) + 1
        else:
            write_stats["errors"] += 1
            write_stats["codes"][s] = write_stats["codes"].get(s, 0) + 1
        n += 1


assert probe() == "Allow", "the probe should be allowed before any edit"
# NO_DECISION_LOAD=1 measures the write rates alone (no wrk).
no_load = os.environ.get("NO_DECISION_LOAD") == "1"
wrk = subprocess.Popen(["sleep", str(seconds)] if no_load else
                       ["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", "-s",
                        os.path.join(here, "cerbos/wrk/post_bodies.lua"), url, "--", requests, "/v1/is_authorized"],
                       stdout=subprocess.PIPE, text=True)
t_reload = threading.Thread(target=reloads)
t_writes = threading.Thread(target=writes)
started = time.monotonic()
t_reload.start()
t_writes.start()
out, _ = wrk.communicate()
stop.set()
t_writes.join()
t_reload.join()
elapsed = time.monotonic() - started
server.terminate()
server.wait(timeout=10)

result = re.search(r"^RESULT .*$", out, re.M)
print(f"under-change decisions {result.group(0) if result else '(no decision load)'}")
print(f"under-change reloads n={len(reload_times)} reload_to_effect_ms median={statistics.median(reload_times):.0f} "
      f"max={max(reload_times):.0f}")
print(f"under-change writes role_changes={write_stats['role']} invites={write_stats['invite']} "
      f"accepts={write_stats['accept']} errors={write_stats['errors']} codes={write_stats['codes']} "
      f"invites_per_s={write_stats['invite'] / elapsed:.0f} accepts_per_s={write_stats['accept'] / elapsed:.0f} "
      f"writes_per_s={(write_stats['role'] + write_stats['invite'] + write_stats['accept']) / elapsed:.0f}")
