#!/usr/bin/env python3
"""Sends every Cerbos body once (one keep-alive connection on loopback) and
compares each effect with expected.txt. Exit 1 on any mismatch or error."""
import http.client
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
addr = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:3592"
host, port = addr.rsplit(":", 1)
bodies = open(os.path.join(here, "cerbos.jsonl")).read().splitlines()
expected = open(os.path.join(here, "expected.txt")).read().split()
conn = http.client.HTTPConnection(host, int(port), timeout=5)
bad = 0
for i, (body, want) in enumerate(zip(bodies, expected)):
    conn.request("POST", "/api/check/resources", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        print(f"verify: line {i + 1}: HTTP {resp.status}: {data[:200]!r}", file=sys.stderr)
        bad += 1
        continue
    req = json.loads(body)
    action = req["resources"][0]["actions"][0]
    got = json.loads(data)["results"][0]["actions"][action]
    got = {"EFFECT_ALLOW": "allow", "EFFECT_DENY": "deny"}.get(got, got)
    if got != want:
        bad += 1
        if bad <= 10:
            print(f"verify: line {i + 1}: {action} on {req['resources'][0]['resource']}"
                  f" by {req['principal']['attr']}: got {got}, want {want}", file=sys.stderr)
print(f"verify: {len(bodies) - bad} of {len(bodies)} decisions as expected")
sys.exit(1 if bad else 0)
