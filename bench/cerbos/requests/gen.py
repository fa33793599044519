#!/usr/bin/env python3
"""Deterministic request mix for the Cerbos-vs-tenantgate decision benchmark.

Builds a small world (orgs with workspaces, users with 1-3 org memberships and
a few workspace roles), then draws a mix of management and workspace decisions,
some on the user's own orgs (mostly allow), some on foreign ones (deny).

Writes, next to this script (or into --out), one line per request, all aligned:
  cerbos.jsonl      POST /api/check/resources bodies (one resource, one action)
  tenantgate.jsonl  the same decisions as POST /v1/is_authorized bodies; they
                    only hold if the sidecar's database holds world.json
  expected.txt      allow|deny per line, from the permission matrix in
                    shared/DESIGN.md (reference model below)
  world.json        orgs, workspaces, users, memberships
  probe_allow.json, probe_deny.json   one known-allow / known-deny Cerbos body
Stdlib only; fixed seed.
"""
import argparse
import json
import os
import random

ORG_ROLES = [("owner", 1), ("admin", 2), ("accounting", 1.5), ("member", 5.5)]
# (action, resource kind, weight)
MIX = [
    ("org.read", "organization", 18),
    ("org.update", "organization", 8),
    ("org.delete", "organization", 4),
    ("member.invite", "organization", 12),
    ("billing.read", "organization", 8),
    ("invoice.read", "organization", 6),
    ("invoice.read", "workspace", 10),
    ("workspace.read", "workspace", 34),
]
FOREIGN_SHARE = 0.15  # requests on an org/workspace the user has no role in


def decide(user, action, kind, rid, ws_org, grant_role=None):
    """Reference model of tenantgate's default policies (DESIGN.md matrix)."""
    org = rid if kind == "organization" else ws_org[rid]
    r = user["orgs"].get(org, "")
    wr = user["workspaces"].get(rid, "") if kind == "workspace" else ""
    owner, admin = r == "owner", r in ("owner", "admin")
    acct, member = r == "accounting", r != ""
    if action == "org.read":
        return member
    if action == "org.update":
        return admin
    if action == "org.delete":
        return owner
    if action == "member.invite":
        return admin and (grant_role != "owner" or owner)
    if action == "billing.read":
        return admin or acct
    if action == "invoice.read":
        return owner or acct
    if action == "workspace.read":
        return admin or acct or wr != ""
    raise ValueError(action)


def build_world(rng, n_orgs, n_users):
    orgs = []
    ws_org = {}
    for i in range(n_orgs):
        oid = f"org_{i:04d}"
        wss = [f"ws_{i:04d}_{j}" for j in range(rng.randint(3, 6))]
        for w in wss:
            ws_org[w] = oid
        orgs.append({"id": oid, "workspaces": wss})
    roles, weights = zip(*ORG_ROLES)
    users = []
    for i in range(n_users):
        uid = f"user_{i:05d}"
        picked = rng.sample(orgs, rng.randint(1, 3))
        users.append({"id": uid, "email": f"{uid}@example.test",
                      "orgs": {o["id"]: rng.choices(roles, weights)[0] for o in picked},
                      "workspaces": {}})
    # Every org has at least one owner (tenantgate's invariant) and one member.
    by_org = {o["id"]: [] for o in orgs}
    for u in users:
        for oid in u["orgs"]:
            by_org[oid].append(u)
    for o in orgs:
        ms = by_org[o["id"]]
        if not ms:
            u = rng.choice([u for u in users if len(u["orgs"]) < 3])
            u["orgs"][o["id"]] = "owner"
            ms.append(u)
        elif not any(u["orgs"][o["id"]] == "owner" for u in ms):
            rng.choice(ms)["orgs"][o["id"]] = "owner"
    # A few workspace roles, only in orgs the user belongs to.
    org_ws = {o["id"]: o["workspaces"] for o in orgs}
    for u in users:
        for oid in u["orgs"]:
            for w in rng.sample(org_ws[oid], rng.randint(0, 2)):
                u["workspaces"][w] = "admin" if rng.random() < 0.25 else "member"
    return orgs, users, ws_org


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--orgs", type=int, default=200)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    orgs, users, ws_org = build_world(rng, a.orgs, a.users)
    all_ws = list(ws_org)
    actions, kinds, weights = zip(*MIX)
    idx = list(range(len(MIX)))

    cerbos, tg, expected = [], [], []
    for _ in range(a.requests):
        u = rng.choice(users)
        k = rng.choices(idx, weights)[0]
        action, kind = actions[k], kinds[k]
        foreign = rng.random() < FOREIGN_SHARE
        if kind == "organization":
            if foreign:
                rid = rng.choice([o["id"] for o in rng.sample(orgs, 8) if o["id"] not in u["orgs"]])
            else:
                rid = rng.choice(sorted(u["orgs"]))
        else:
            if foreign:
                rid = rng.choice([w for w in rng.sample(all_ws, 8) if ws_org[w] not in u["orgs"]])
            elif u["workspaces"] and rng.random() < 0.5:
                rid = rng.choice(sorted(u["workspaces"]))
            else:
                oid = rng.choice(sorted(u["orgs"]))
                rid = rng.choice(orgs[int(oid[4:])]["workspaces"])
        grant = None
        res_attr = {}
        ctx = {}
        if kind == "workspace":
            res_attr["org"] = ws_org[rid]
        if action == "member.invite":
            grant = rng.choices(["owner", "admin", "accounting", "member"], [1, 2, 1, 6])[0]
            res_attr["role"] = grant
            ctx["role"] = grant
        cerbos.append({
            "principal": {"id": u["id"], "roles": ["user"],
                          "attr": {"orgs": u["orgs"], "workspaces": u["workspaces"]}},
            "resources": [{"actions": [action],
                           "resource": {"kind": kind, "id": rid, "attr": res_attr}}],
        })
        body = {"principal": {"type": "User", "id": u["id"]},
                "action": {"type": "Action", "id": action},
                "resource": {"type": "Organization" if kind == "organization" else "Workspace",
                             "id": rid}}
        if ctx:
            body["context"] = ctx
        tg.append(body)
        expected.append("allow" if decide(u, action, kind, rid, ws_org, grant) else "deny")

    out = a.out
    os.makedirs(out, exist_ok=True)

    def write_lines(name, rows):
        with open(os.path.join(out, name), "w") as f:
            for r in rows:
                f.write((r if isinstance(r, str) else json.dumps(r, separators=(",", ":"))) + "\n")

    write_lines("cerbos.jsonl", cerbos)
    write_lines("tenantgate.jsonl", tg)
    write_lines("expected.txt", expected)
    with open(os.path.join(out, "world.json"), "w") as f:
        json.dump({"seed": a.seed, "orgs": orgs, "users": users}, f, indent=1)
    for want in ("allow", "deny"):
        i = expected.index(want)
        with open(os.path.join(out, f"probe_{want}.json"), "w") as f:
            json.dump(cerbos[i], f)
            f.write("\n")
    n_allow = expected.count("allow")
    stats = {}
    for c, e in zip(cerbos, expected):
        key = c["resources"][0]["actions"][0] + "/" + c["resources"][0]["resource"]["kind"][:3]
        s = stats.setdefault(key, [0, 0])
        s[0 if e == "allow" else 1] += 1
    print(f"gen.py: {len(cerbos)} requests ({n_allow} allow, {len(cerbos) - n_allow} deny), "
          f"{len(orgs)} orgs, {len(ws_org)} workspaces, {len(users)} users -> {out}")
    print("gen.py: allow/deny by action: " +
          ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(stats.items())))


if __name__ == "__main__":
    main()
