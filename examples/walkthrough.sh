#!/usr/bin/env bash
# The README's five-minute walkthrough, as a script that checks every answer.
#
#   cargo run --release -- serve          # in one terminal, from the repo root
#   bash examples/walkthrough.sh          # in another
#
# Settings (environment):
#   TENANTGATE_URL       the sidecar            (default http://127.0.0.1:8180)
#   TENANTGATE_POLICIES  its policy folder, which the reload step edits
#                                               (default ./policies)
#   TENANTGATE_KEY       an `admin` API key, when the sidecar requires keys
#                        (default: none, for development mode)
#   TENANTGATE_DATA_DIR  the sidecar's data folder; when set (and the sidecar
#                        has no SMTP URL), the script also checks that the
#                        invitation email lands in its mail/ folder
#                        (default: unset, the check is skipped)
#
# Every id is suffixed with a per-run tag, so the script can run any number
# of times against the same sidecar. It stops with a message and a non-zero
# status on the first unexpected answer, and prints `walkthrough: ok` at the end.

set -euo pipefail

URL="${TENANTGATE_URL:-http://127.0.0.1:8180}"
URL="${URL%/}"
POLICIES="${TENANTGATE_POLICIES:-./policies}"
KEY="${TENANTGATE_KEY:-}"
DATA_DIR="${TENANTGATE_DATA_DIR:-}"

RUN="$(date +%s)-$$"
ORG="acme-$RUN"
OLIVE="olive-$RUN" # the owner
ADAM="adam-$RUN"   # an admin
MIA="mia-$RUN"     # a member
EVE="eve-$RUN"     # not a member yet
NORA="nora-$RUN"   # invited by email, as accounting
PAT="pat-$RUN"     # invited by email, tries to accept with another address
WS="design-$RUN"   # a workspace
DEMO_POLICY="$POLICIES/zz-demo.cedar"

WORK="$(mktemp -d)"
cleanup() {
    rm -rf "$WORK"
    # Never leave the demo policy behind, even when a step fails.
    if [[ -n "${DEMO_WRITTEN:-}" ]]; then
        rm -f "$DEMO_POLICY"
    fi
}
trap cleanup EXIT

fail() {
    echo "walkthrough: FAILED: $*" >&2
    exit 1
}

step() {
    echo
    echo "== $*"
}

command -v curl >/dev/null || fail "curl is not installed"
command -v python3 >/dev/null || fail "python3 is not installed"
[[ -d "$POLICIES" ]] || fail "policy folder '$POLICIES' does not exist (set TENANTGATE_POLICIES)"

# call METHOD PATH [BODY] [ACTOR]: one request. Sets STATUS, CTYPE and BODY.
call() {
    local method="$1" path="$2" body="${3:-}" actor="${4:-}"
    local args=(-sS --max-time 10 -X "$method" -o "$WORK/body" -w '%{http_code} %{content_type}')
    if [[ -n "$body" ]]; then
        args+=(-H 'Content-Type: application/json' --data "$body")
    fi
    if [[ -n "$actor" ]]; then
        args+=(-H "X-Actor-Id: $actor")
    fi
    if [[ -n "$KEY" ]]; then
        args+=(-H "Authorization: Bearer $KEY")
    fi
    local out
    if ! out="$(curl "${args[@]}" "$URL$path" 2>"$WORK/curl.err")"; then
        fail "$method $path: no answer from $URL ($(cat "$WORK/curl.err"))"
    fi
    STATUS="${out%% *}"
    CTYPE="${out#* }"
    BODY="$(cat "$WORK/body")"
}

# show METHOD PATH: prints the request and its answer.
show() {
    echo "$1 $2 -> $STATUS"
    if [[ -n "$BODY" ]]; then
        echo "  $BODY"
    fi
}

# field EXPR: evaluates a Python expression over the JSON body bound to `j`;
# strings print bare, everything else as JSON.
field() {
    python3 -c '
import json, sys
j = json.loads(sys.argv[1])
v = eval(sys.argv[2], {"j": j})
print(v if isinstance(v, str) else json.dumps(v))
' "$BODY" "$1" 2>/dev/null || fail "cannot read $1 from the answer: $BODY"
}

# expect_status CODE WHAT
expect_status() {
    [[ "$STATUS" == "$1" ]] || fail "$2: expected HTTP $1, got $STATUS: $BODY"
}

# expect_field EXPR VALUE WHAT
expect_field() {
    local got
    got="$(field "$1")"
    [[ "$got" == "$2" ]] || fail "$3: expected $1 == $2, got $got in $BODY"
}

# expect_fields WHAT EXPR VALUE [EXPR VALUE ...]: expect_field for several
# fields of the answer at once (one python3 run).
expect_fields() {
    local what="$1" out
    shift
    out="$(python3 -c '
import json, sys
j = json.loads(sys.argv[1])
args = sys.argv[2:]
for expr, want in zip(args[0::2], args[1::2]):
    try:
        v = eval(expr, {"j": j})
    except Exception as e:
        sys.exit(f"cannot read {expr}: {e!r}")
    got = v if isinstance(v, str) else json.dumps(v)
    if got != want:
        sys.exit(f"expected {expr} == {want}, got {got}")
' "$BODY" "$@" 2>&1)" || fail "$what: $out in $BODY"
}

# decide USER ACTION TYPE ID: asks POST /v1/is_authorized.
decide() {
    call POST /v1/is_authorized "{
        \"principal\": {\"type\": \"User\", \"id\": \"$1\"},
        \"action\":    {\"type\": \"Action\", \"id\": \"$2\"},
        \"resource\":  {\"type\": \"$3\", \"id\": \"$4\"}
    }"
    expect_status 200 "is_authorized($1, $2, $3::$4)"
}

# until_true SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds.
until_true() {
    local seconds="$1"
    shift
    local tries=$((seconds * 5))
    for ((i = 0; i < tries; i++)); do
        if "$@"; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

adam_billing_is() {
    decide "$ADAM" billing.read Organization "$ORG"
    [[ "$(field 'j["decision"]')" == "$1" ]]
}

# invite_mail_found INVITE_ID: whether the .eml file of the invite's email is
# in $DATA_DIR/mail/; sets MAIL_FILE.
invite_mail_found() {
    local f
    for f in "$DATA_DIR/mail/$1".*.eml; do
        if [[ -f "$f" ]]; then
            MAIL_FILE="$f"
            return 0
        fi
    done
    return 1
}

# mail_link FILE PREFIX SUFFIX: prints the accept link of an .eml file (its
# body is quoted-printable: decoded first), i.e. PREFIX<token>SUFFIX.
mail_link() {
    python3 -c '
import quopri, re, sys
text = quopri.decodestring(open(sys.argv[1], "rb").read()).decode("utf-8", "replace")
m = re.search(re.escape(sys.argv[2]) + r"tgi_[A-Za-z0-9_-]+" + re.escape(sys.argv[3]), text)
print(m.group(0) if m else "")
' "$1" "$2" "$3"
}

last_reload_ok_is() {
    call GET /v1/policies
    expect_status 200 "GET /v1/policies"
    [[ "$(field 'j["last_reload"]["ok"]')" == "$1" ]]
}

echo "walkthrough against $URL (run $RUN, policies in $POLICIES${DATA_DIR:+, data in $DATA_DIR})"

step "0. the sidecar is up"
call GET /readyz
show GET /readyz
expect_status 200 "GET /readyz"
expect_field 'j["status"]' ready "GET /readyz"

step "1. create an organization (a system call: no X-Actor-Id), owned by $OLIVE"
call POST /v1/orgs "{\"id\": \"$ORG\", \"name\": \"Acme\", \"owner\": {\"id\": \"$OLIVE\", \"email\": \"$OLIVE@example.com\"}}"
show POST /v1/orgs
expect_status 201 "create the organization"
expect_field 'j["id"]' "$ORG" "create the organization"
expect_field 'j["member_count"]' 1 "create the organization"

step "2. the owner adds $ADAM as an admin"
call PUT "/v1/orgs/$ORG/members/$ADAM" "{\"email\": \"$ADAM@example.com\", \"role\": \"admin\"}" "$OLIVE"
show PUT "/v1/orgs/$ORG/members/$ADAM"
expect_status 201 "add the admin"
expect_field 'j["role"]' admin "add the admin"

step "3. the admin adds $MIA as a member"
call PUT "/v1/orgs/$ORG/members/$MIA" "{\"email\": \"$MIA@example.com\", \"role\": \"member\"}" "$ADAM"
show PUT "/v1/orgs/$ORG/members/$MIA"
expect_status 201 "add the member"
expect_field 'j["role"]' member "add the member"

step "4. the admin creates workspace $WS and puts $MIA in it"
call POST "/v1/orgs/$ORG/workspaces" "{\"id\": \"$WS\", \"name\": \"Design\"}" "$ADAM"
show POST "/v1/orgs/$ORG/workspaces"
expect_status 201 "create the workspace"
expect_field 'j["id"]' "$WS" "create the workspace"
expect_field 'j["org_id"]' "$ORG" "create the workspace"
call PUT "/v1/orgs/$ORG/workspaces/$WS/members/$MIA" '{"role": "member"}' "$ADAM"
show PUT "/v1/orgs/$ORG/workspaces/$WS/members/$MIA"
expect_status 200 "add the member to the workspace"
expect_field 'j["role"]' member "add the member to the workspace"

step "5. decisions"
decide "$ADAM" billing.read Organization "$ORG"
show POST "/v1/is_authorized ($ADAM billing.read $ORG)"
expect_field 'j["decision"]' Allow "admin reads billing"
expect_field 'j["reasons"]' '["admins-and-accounting-read-billing"]' "admin reads billing"
expect_field 'j["errors"]' '[]' "admin reads billing"
expect_field 'j["policy_revision"].startswith("sha256:")' true "admin reads billing"
expect_field 'isinstance(j["data_revision"], int) and j["data_revision"] > 0' true "admin reads billing"
POLICY_REVISION="$(field 'j["policy_revision"]')"

decide "$MIA" billing.read Organization "$ORG"
show POST "/v1/is_authorized ($MIA billing.read $ORG)"
expect_field 'j["decision"]' Deny "member reads billing"
expect_field 'j["reasons"]' '[]' "member reads billing"

decide "$MIA" workspace.read Workspace "$WS"
show POST "/v1/is_authorized ($MIA workspace.read $WS)"
expect_field 'j["decision"]' Allow "member reads her workspace"
expect_field 'j["reasons"]' '["workspace-members-read-workspace"]' "member reads her workspace"

step "6. a denied management call: the admin tries to make $EVE an owner"
call PUT "/v1/orgs/$ORG/members/$EVE" "{\"email\": \"$EVE@example.com\", \"role\": \"owner\"}" "$ADAM"
show PUT "/v1/orgs/$ORG/members/$EVE"
expect_status 403 "admin grants owner"
[[ "$CTYPE" == application/problem+json* ]] || fail "admin grants owner: expected application/problem+json, got '$CTYPE'"
expect_field 'j["code"]' forbidden "admin grants owner"
expect_field 'j["status"]' 403 "admin grants owner"
call GET "/v1/orgs/$ORG/members?role=owner" "" "$OLIVE"
expect_status 200 "list owners"
expect_field '[m["user_id"] for m in j["items"]]' "[\"$OLIVE\"]" "the owners did not change"

step "7. invitations: the owner invites $NORA@example.com as accounting"
call POST "/v1/orgs/$ORG/invites" "{\"invites\": [{\"email\": \"$NORA@example.com\", \"role\": \"accounting\"}]}" "$OLIVE"
show POST "/v1/orgs/$ORG/invites"
expect_status 201 "create the invite"
expect_fields "create the invite" \
    'len(j["invites"])' 1 \
    'j["invites"][0]["email"]' "$NORA@example.com" \
    'j["invites"][0]["role"]' accounting \
    'j["invites"][0]["status"]' pending \
    'j["invites"][0]["invited_by"]' "$OLIVE" \
    'j["invites"][0]["token"].startswith("tgi_")' true \
    'j["invites"][0]["token"] in j["invites"][0]["accept_url"]' true \
    'j["invites"][0]["delivery"]["status"] in ("queued", "sent")' true
INVITE_ID="$(field 'j["invites"][0]["id"]')"
TOKEN="$(field 'j["invites"][0]["token"]')"
ACCEPT_URL="$(field 'j["invites"][0]["accept_url"]')"
# The accept link around the token, to find the email's own link.
LINK_PREFIX="${ACCEPT_URL%%"$TOKEN"*}"
LINK_SUFFIX="${ACCEPT_URL#*"$TOKEN"}"

call GET "/v1/orgs/$ORG/invites?status=pending" "" "$ADAM"
expect_status 200 "list pending invites"
expect_fields "list pending invites (never with a token)" \
    '[i["id"] for i in j["items"]]' "[\"$INVITE_ID\"]" \
    '"token" in j["items"][0]' false

MAIL_TOKEN=""
if [[ -n "$DATA_DIR" ]]; then
    until_true 10 invite_mail_found "$INVITE_ID" ||
        fail "no email for invite $INVITE_ID in $DATA_DIR/mail/ within 10 s: $(ls -A "$DATA_DIR/mail" 2>&1)"
    grep -qi "^To: *$NORA@example.com" "$MAIL_FILE" || fail "$MAIL_FILE is not addressed to $NORA@example.com"
    MAIL_LINK="$(mail_link "$MAIL_FILE" "$LINK_PREFIX" "$LINK_SUFFIX")"
    [[ -n "$MAIL_LINK" ]] || fail "$MAIL_FILE carries no accept link ${LINK_PREFIX}tgi_…${LINK_SUFFIX}"
    MAIL_TOKEN="${MAIL_LINK#"$LINK_PREFIX"}"
    MAIL_TOKEN="${MAIL_TOKEN%"$LINK_SUFFIX"}"
    echo "email: $MAIL_FILE"
    echo "  link: $MAIL_LINK"
    # The email's token is minted at delivery: another token, the same invite.
    [[ "$MAIL_TOKEN" != "$TOKEN" ]] || fail "the email carries the token of the create response"
    call POST /v1/invites/lookup "{\"token\": \"$MAIL_TOKEN\"}"
    show POST "/v1/invites/lookup (the email's token)"
    expect_status 200 "look up the email's token"
    expect_fields "look up the email's token" \
        'j["org"]["id"]' "$ORG" \
        'j["status"]' pending
    call GET "/v1/orgs/$ORG/invites/$INVITE_ID" "" "$OLIVE"
    expect_status 200 "read the invite"
    expect_field 'j["delivery"]["status"]' sent "the invite records its email as sent"
else
    echo "(TENANTGATE_DATA_DIR is not set: the email check is skipped)"
fi

step "8. $NORA looks the invite up, accepts it, and is allowed right away"
call POST /v1/invites/lookup "{\"token\": \"$TOKEN\"}"
show POST /v1/invites/lookup
expect_status 200 "look up the invite"
expect_fields "look up the invite" \
    'j["org"]' "{\"id\": \"$ORG\", \"name\": \"Acme\"}" \
    'j["role"]' accounting \
    'j["invited_by"]' "$OLIVE" \
    'j["status"]' pending

decide "$NORA" invoice.read Organization "$ORG"
expect_field 'j["decision"]' Deny "not a member yet: no invoices"

call POST /v1/invites/accept "{\"token\": \"$TOKEN\", \"user\": {\"id\": \"$NORA\", \"email\": \"$NORA@example.com\"}}"
show POST /v1/invites/accept
expect_status 200 "accept the invite"
expect_field 'j' "{\"org_id\": \"$ORG\", \"user_id\": \"$NORA\", \"role\": \"accounting\"}" "accept the invite"

decide "$NORA" invoice.read Organization "$ORG"
show POST "/v1/is_authorized ($NORA invoice.read $ORG)"
expect_fields "the new member reads invoices" \
    'j["decision"]' Allow \
    'j["reasons"]' '["owners-and-accounting-manage-billing"]'

call POST /v1/invites/accept "{\"token\": \"$TOKEN\", \"user\": {\"id\": \"$NORA\", \"email\": \"$NORA@example.com\"}}"
show POST "/v1/invites/accept (the same token again)"
expect_status 404 "accept a used token"
expect_field 'j["code"]' invite_not_found "accept a used token"
if [[ -n "$MAIL_TOKEN" ]]; then
    call POST /v1/invites/lookup "{\"token\": \"$MAIL_TOKEN\"}"
    expect_status 404 "the email's token died with the acceptance"
    expect_field 'j["code"]' invite_not_found "the email's token died with the acceptance"
fi
call GET "/v1/orgs/$ORG/invites/$INVITE_ID" "" "$OLIVE"
expect_status 200 "read the accepted invite"
expect_fields "read the accepted invite" \
    'j["status"]' accepted \
    'j["accepted_by"]' "$NORA"

step "9. an invite accepted with another email address is refused, and stays usable"
call POST "/v1/orgs/$ORG/invites" "{\"invites\": [{\"email\": \"$PAT@example.com\", \"role\": \"member\"}], \"send_email\": false}" "$ADAM"
show POST "/v1/orgs/$ORG/invites"
expect_status 201 "create the second invite"
expect_field 'j["invites"][0]["delivery"]["status"]' disabled "an invite created with send_email: false"
PAT_INVITE="$(field 'j["invites"][0]["id"]')"
PAT_TOKEN="$(field 'j["invites"][0]["token"]')"
call POST "/v1/orgs/$ORG/invites" "{\"invites\": [{\"email\": \"$PAT@example.com\", \"role\": \"member\"}]}" "$ADAM"
expect_status 409 "invite the same email twice"
expect_field 'j["code"]' invite_exists "invite the same email twice"
call POST /v1/invites/accept "{\"token\": \"$PAT_TOKEN\", \"user\": {\"id\": \"$PAT\", \"email\": \"$EVE@example.com\"}}"
show POST "/v1/invites/accept (as $EVE@example.com)"
expect_status 403 "accept with another email"
expect_field 'j["code"]' invite_email_mismatch "accept with another email"
call POST /v1/invites/lookup "{\"token\": \"$PAT_TOKEN\"}"
expect_status 200 "look up after the mismatch"
expect_field 'j["status"]' pending "the invite stays usable after a mismatch"
call DELETE "/v1/orgs/$ORG/invites/$PAT_INVITE" "" "$ADAM"
show DELETE "/v1/orgs/$ORG/invites/$PAT_INVITE"
expect_status 200 "revoke the second invite"
expect_field 'j["status"]' revoked "revoke the second invite"
call POST /v1/invites/lookup "{\"token\": \"$PAT_TOKEN\"}"
expect_status 404 "look up a revoked invite"
expect_field 'j["code"]' invite_not_found "look up a revoked invite"

step "10. hot reload: add $DEMO_POLICY, which forbids billing.read in $ORG"
call GET /v1/policies
expect_status 200 "GET /v1/policies"
expect_field 'j["revision"]' "$POLICY_REVISION" "GET /v1/policies"
DEMO_WRITTEN=1
cat >"$DEMO_POLICY" <<EOF
// Demo: freeze billing in one organization (added and removed by the walkthrough).
@id("demo-freeze-billing")
forbid (principal, action == Action::"billing.read", resource)
when { resource == Organization::"$ORG" };
EOF
until_true 10 adam_billing_is Deny || fail "the decision did not flip to Deny within 10 s of writing $DEMO_POLICY: $BODY"
show POST "/v1/is_authorized ($ADAM billing.read $ORG)"
expect_field 'j["reasons"]' '["demo-freeze-billing"]' "decision under the demo policy"
DEMO_REVISION="$(field 'j["policy_revision"]')"
[[ "$DEMO_REVISION" != "$POLICY_REVISION" ]] || fail "the policy revision did not change"
call GET /v1/policies
expect_status 200 "GET /v1/policies"
expect_field 'j["revision"]' "$DEMO_REVISION" "GET /v1/policies after the change"
expect_field 'j["last_reload"]["ok"]' true "GET /v1/policies after the change"
expect_field '[f["policy_ids"] for f in j["files"] if f["path"].endswith("zz-demo.cedar")]' '[["demo-freeze-billing"]]' "GET /v1/policies after the change"
echo "GET /v1/policies -> revision $DEMO_REVISION (was $POLICY_REVISION)"

step "11. remove the demo policy: the decision flips back"
rm -f "$DEMO_POLICY"
until_true 10 adam_billing_is Allow || fail "the decision did not flip back to Allow within 10 s of removing $DEMO_POLICY: $BODY"
show POST "/v1/is_authorized ($ADAM billing.read $ORG)"
expect_field 'j["policy_revision"]' "$POLICY_REVISION" "decision after removing the demo policy"

step "12. a broken policy file is rejected whole; the last good set keeps serving"
echo 'permit (principal, action == Action::"billing.read", resource' >"$DEMO_POLICY"
until_true 10 last_reload_ok_is false || fail "the broken file was not reported within 10 s: $BODY"
echo "GET /v1/policies -> last_reload: $(field 'j["last_reload"]')"
expect_field 'j["revision"]' "$POLICY_REVISION" "revision while the broken file is present"
decide "$ADAM" billing.read Organization "$ORG"
expect_field 'j["decision"]' Allow "decision while the broken file is present"
expect_field 'j["policy_revision"]' "$POLICY_REVISION" "decision while the broken file is present"
rm -f "$DEMO_POLICY"
until_true 10 last_reload_ok_is true || fail "the reload status did not recover within 10 s of removing the broken file: $BODY"
echo "GET /v1/policies -> last_reload ok again"

step "13. operations"
call GET /healthz
show GET /healthz
expect_status 200 "GET /healthz"
expect_field 'j["status"]' ok "GET /healthz"
call GET /metrics
expect_status 200 "GET /metrics"
grep -q "^tenantgate_policy_info{revision=\"$POLICY_REVISION\"} 1$" <<<"$BODY" ||
    fail "GET /metrics does not show the serving policy revision: $BODY"
echo "GET /metrics -> 200 ($(grep -c '^tenantgate_' <<<"$BODY") samples)"

echo
echo "walkthrough: ok"
