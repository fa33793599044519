//! Invitations end to end, with a real SMTP server on loopback that
//! receives and parses the messages.

use std::time::Duration;

use serde_json::{json, Value};

use crate::smtp::{dead_port, SilentServer, SmtpServer};
use crate::support::*;

const MAIL_WAIT: Duration = Duration::from_secs(20);

async fn invite(t: &TestApp, actor: &str, email: &str, role: &str, send_email: bool) -> Resp {
    t.post(
        "/v1/orgs/acme/invites",
        Some(actor),
        json!({"invites": [{"email": email, "role": role}], "send_email": send_email}),
    )
    .await
}

/// The first issued invite of a create answer.
fn issued(resp: &Resp) -> &Value {
    &resp.body["invites"][0]
}

async fn accept(t: &TestApp, token: &str, user: &str, email: &str) -> Resp {
    t.post(
        "/v1/invites/accept",
        None,
        json!({"token": token, "user": {"id": user, "email": email}}),
    )
    .await
}

fn with_smtp(url: String) -> TestApp {
    TestApp::builder()
        .with_background()
        .with_settings(move |s| s.smtp_url = Some(url))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emailed_link_joins_the_org_and_decisions_follow() {
    let smtp = SmtpServer::start().await;
    let t = with_smtp(smtp.url());
    t.seed_acme().await;
    let created = invite(&t, "adam", "Bob@Example.com", "admin", true)
        .await
        .expect(201);
    let inv = issued(&created).clone();
    assert_eq!(inv["email"], "bob@example.com");
    assert_eq!(inv["status"], "pending");
    assert_eq!(inv["delivery"]["status"], "queued");
    assert!(inv["accept_url"]
        .as_str()
        .unwrap()
        .ends_with(inv["token"].as_str().unwrap()));

    let mail = smtp.wait_for("bob@example.com", MAIL_WAIT).await;
    assert!(
        mail.subject.contains("acme") && mail.subject.contains("adam@example.com"),
        "{}",
        mail.subject
    );
    assert!(
        mail.text.contains("admin") && mail.text.contains("UTC"),
        "{}",
        mail.text
    );
    assert!(
        mail.text
            .contains("http://localhost:3000/invites/accept?token=tgi_"),
        "{}",
        mail.text
    );
    let token = mail.token();
    assert!(mail.html.contains(&token));

    let lookup = t
        .post("/v1/invites/lookup", None, json!({"token": token}))
        .await
        .expect(200);
    assert_eq!(lookup.body["org"], json!({"id": "acme", "name": "acme"}));
    assert_eq!(lookup.body["role"], "admin");
    assert_eq!(lookup.body["invited_by"], "adam");
    assert_eq!(lookup.body["status"], "pending");

    assert!(!t.allowed("bob", "org.update", org("acme"), json!({})).await);
    let accepted = accept(&t, &token, "bob", "BOB@example.com")
        .await
        .expect(200);
    assert_eq!(
        accepted.body,
        json!({"org_id": "acme", "user_id": "bob", "role": "admin"})
    );
    // The membership is in decisions the moment accept returns.
    assert!(t.allowed("bob", "org.update", org("acme"), json!({})).await);

    let id = inv["id"].as_str().unwrap();
    let read = t
        .get(&format!("/v1/orgs/acme/invites/{id}"), Some("olive"))
        .await
        .expect(200);
    assert_eq!(read.body["status"], "accepted");
    assert_eq!(read.body["accepted_by"], "bob");
    assert_eq!(read.body["delivery"]["status"], "sent");
    assert_eq!(read.body["delivery"]["attempts"], 1);
    // Both links are single use.
    accept(&t, &token, "bob2", "bob@example.com")
        .await
        .expect_error(404, "invite_not_found");
    accept(
        &t,
        inv["token"].as_str().unwrap(),
        "bob2",
        "bob@example.com",
    )
    .await
    .expect_error(404, "invite_not_found");
    let audit = t
        .get("/v1/orgs/acme/audit?limit=2", Some("olive"))
        .await
        .expect(200);
    assert_eq!(audit.body["items"][0]["action"], "invite.accept");
    assert_eq!(audit.body["items"][0]["actor"], "bob");
    assert_eq!(audit.body["items"][1]["action"], "invite.create");
    assert_eq!(smtp.count_to("bob@example.com"), 1);
}

#[tokio::test]
async fn a_bulk_invite_with_one_bad_item_creates_nothing() {
    let t = TestApp::new();
    t.seed_acme().await;
    let body = |second: Value| json!({"invites": [{"email": "a@example.com", "role": "member"}, second, {"email": "c@example.com", "role": "member"}]});
    let bad = t
        .post(
            "/v1/orgs/acme/invites",
            Some("olive"),
            body(json!({"email": "not-an-email", "role": "member"})),
        )
        .await
        .expect_error(400, "invalid_request");
    assert!(
        bad.body["detail"].as_str().unwrap().contains("invites[1]"),
        "{:#}",
        bad.body
    );
    t.post(
        "/v1/orgs/acme/invites",
        Some("olive"),
        body(json!({"email": "b@example.com", "role": "root"})),
    )
    .await
    .expect_error(400, "invalid_request");
    t.post(
        "/v1/orgs/acme/invites",
        Some("olive"),
        body(json!({"email": "A@example.com", "role": "admin"})),
    )
    .await
    .expect_error(400, "invalid_request");
    // mia is a member already (by email): the whole batch fails.
    t.post(
        "/v1/orgs/acme/invites",
        Some("olive"),
        body(json!({"email": "mia@example.com", "role": "member"})),
    )
    .await
    .expect_error(409, "already_member");
    let list = t
        .get("/v1/orgs/acme/invites", Some("olive"))
        .await
        .expect(200);
    assert_eq!(list.body["items"], json!([]));

    let ok = t
        .post(
            "/v1/orgs/acme/invites",
            Some("olive"),
            body(json!({"email": "b@example.com", "role": "admin"})),
        )
        .await
        .expect(201);
    assert_eq!(ok.body["invites"].as_array().unwrap().len(), 3);
    // One pending invite per (org, email), compared normalized.
    invite(&t, "olive", " B@EXAMPLE.com", "member", false)
        .await
        .expect_error(409, "invite_exists");
    for bad in [
        json!({"invites": []}),
        json!({"invites": [{"email": "x@example.com", "role": "member"}], "expires_in_days": 0}),
        json!({"invites": [{"email": "x@example.com", "role": "member"}], "expires_in_days": 31}),
        json!({"invites": [{"email": "x@example.com", "role": "member", "extra": 1}]}),
    ] {
        t.post("/v1/orgs/acme/invites", Some("olive"), bad)
            .await
            .expect_error(400, "invalid_request");
    }
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"email": format!("u{i}@example.com"), "role": "member"}))
        .collect();
    t.post(
        "/v1/orgs/acme/invites",
        Some("olive"),
        json!({"invites": many}),
    )
    .await
    .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn only_the_right_roles_invite_and_only_owners_invite_owners() {
    let t = TestApp::new();
    t.seed_acme().await;
    invite(&t, "adam", "o@example.com", "owner", false)
        .await
        .expect_error(403, "forbidden");
    invite(&t, "carl", "m@example.com", "member", false)
        .await
        .expect_error(403, "forbidden");
    invite(&t, "mia", "m@example.com", "member", false)
        .await
        .expect_error(403, "forbidden");
    invite(&t, "stranger", "m@example.com", "member", false)
        .await
        .expect_error(403, "forbidden");
    // One forbidden role in a batch fails the batch.
    t.post(
        "/v1/orgs/acme/invites",
        Some("adam"),
        json!({"invites": [{"email": "m@example.com", "role": "member"}, {"email": "o@example.com", "role": "owner"}]}),
    )
    .await
    .expect_error(403, "forbidden");
    assert_eq!(
        t.get("/v1/orgs/acme/invites", Some("olive")).await.body["items"],
        json!([])
    );
    let owner_invite = invite(&t, "olive", "o@example.com", "owner", false)
        .await
        .expect(201);
    let id = issued(&owner_invite)["id"].as_str().unwrap().to_owned();
    // An admin may not turn an owner invite into something else, nor a member invite into an owner one.
    t.patch(
        &format!("/v1/orgs/acme/invites/{id}"),
        Some("adam"),
        json!({"role": "member"}),
    )
    .await
    .expect_error(403, "forbidden");
    let member_invite = invite(&t, "adam", "m@example.com", "member", false)
        .await
        .expect(201);
    let mid = issued(&member_invite)["id"].as_str().unwrap().to_owned();
    t.patch(
        &format!("/v1/orgs/acme/invites/{mid}"),
        Some("adam"),
        json!({"role": "owner"}),
    )
    .await
    .expect_error(403, "forbidden");
    t.get("/v1/orgs/acme/invites", Some("carl"))
        .await
        .expect_error(403, "forbidden");
    t.post(
        &format!("/v1/orgs/acme/invites/{mid}/resend"),
        Some("mia"),
        json!({}),
    )
    .await
    .expect_error(403, "forbidden");
}

#[tokio::test]
async fn a_role_change_before_accepting_is_the_role_granted() {
    let t = TestApp::new();
    t.seed_acme().await;
    let created = invite(&t, "adam", "dora@example.com", "member", false)
        .await
        .expect(201);
    let (id, token) = (
        issued(&created)["id"].as_str().unwrap(),
        issued(&created)["token"].as_str().unwrap(),
    );
    let changed = t
        .patch(
            &format!("/v1/orgs/acme/invites/{id}"),
            Some("adam"),
            json!({"role": "accounting"}),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["role"], "accounting");
    let accepted = accept(&t, token, "dora", "dora@example.com")
        .await
        .expect(200);
    assert_eq!(accepted.body["role"], "accounting");
    assert!(
        t.allowed("dora", "invoice.read", org("acme"), json!({}))
            .await
    );
    t.patch(
        &format!("/v1/orgs/acme/invites/{id}"),
        Some("adam"),
        json!({"role": "member"}),
    )
    .await
    .expect_error(409, "invite_not_pending");
}

#[tokio::test]
async fn resend_rotates_the_token_and_restarts_the_expiry() {
    let t = TestApp::new();
    t.seed_acme().await;
    let created = t
        .post(
            "/v1/orgs/acme/invites",
            Some("olive"),
            json!({"invites": [{"email": "eve@example.com", "role": "member"}], "send_email": false, "expires_in_days": 2}),
        )
        .await
        .expect(201);
    let first = issued(&created).clone();
    assert_eq!(first["delivery"]["status"], "disabled");
    let id = first["id"].as_str().unwrap();
    let resent = t
        .post(
            &format!("/v1/orgs/acme/invites/{id}/resend"),
            Some("adam"),
            json!({}),
        )
        .await
        .expect(200);
    assert_ne!(resent.body["token"], first["token"]);
    assert!(resent.body["expires_at"].as_str() >= first["expires_at"].as_str());
    assert_eq!(resent.body["delivery"]["status"], "queued");
    t.post("/v1/invites/lookup", None, json!({"token": first["token"]}))
        .await
        .expect_error(404, "invite_not_found");
    accept(
        &t,
        first["token"].as_str().unwrap(),
        "eve",
        "eve@example.com",
    )
    .await
    .expect_error(404, "invite_not_found");
    accept(
        &t,
        resent.body["token"].as_str().unwrap(),
        "eve",
        "eve@example.com",
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn revoke_and_decline_end_an_invite() {
    let t = TestApp::new();
    t.seed_acme().await;
    let a = invite(&t, "adam", "fay@example.com", "member", false)
        .await
        .expect(201);
    let (id, token) = (
        issued(&a)["id"].as_str().unwrap(),
        issued(&a)["token"].as_str().unwrap(),
    );
    let revoked = t
        .delete(&format!("/v1/orgs/acme/invites/{id}"), Some("adam"))
        .await
        .expect(200);
    assert_eq!(revoked.body["status"], "revoked");
    accept(&t, token, "fay", "fay@example.com")
        .await
        .expect_error(404, "invite_not_found");
    t.delete(&format!("/v1/orgs/acme/invites/{id}"), Some("adam"))
        .await
        .expect_error(409, "invite_not_pending");
    t.post(
        &format!("/v1/orgs/acme/invites/{id}/resend"),
        Some("adam"),
        json!({}),
    )
    .await
    .expect_error(409, "invite_not_pending");
    // A revoked invite does not block a new one for the same email.
    let b = invite(&t, "adam", "fay@example.com", "member", false)
        .await
        .expect(201);
    let (bid, btoken) = (
        issued(&b)["id"].as_str().unwrap(),
        issued(&b)["token"].as_str().unwrap(),
    );
    t.post("/v1/invites/decline", None, json!({"token": btoken}))
        .await
        .expect(204);
    t.post("/v1/invites/decline", None, json!({"token": btoken}))
        .await
        .expect_error(404, "invite_not_found");
    accept(&t, btoken, "fay", "fay@example.com")
        .await
        .expect_error(404, "invite_not_found");
    let read = t
        .get(&format!("/v1/orgs/acme/invites/{bid}"), Some("olive"))
        .await
        .expect(200);
    assert_eq!(read.body["status"], "declined");
    let by_status = t
        .get("/v1/orgs/acme/invites?status=revoked", Some("olive"))
        .await
        .expect(200);
    assert_eq!(by_status.body["items"].as_array().unwrap().len(), 1);
    let by_email = t
        .get("/v1/orgs/acme/invites?email=FAY@example.com", Some("olive"))
        .await
        .expect(200);
    assert_eq!(by_email.body["items"].as_array().unwrap().len(), 2);
    t.get("/v1/orgs/acme/invites?status=lost", Some("olive"))
        .await
        .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn a_wrong_email_is_refused_and_leaves_the_invite_usable() {
    let t = TestApp::new();
    t.seed_acme().await;
    let a = invite(&t, "adam", "gil@example.com", "member", false)
        .await
        .expect(201);
    let token = issued(&a)["token"].as_str().unwrap();
    accept(&t, token, "gil", "someone@example.com")
        .await
        .expect_error(403, "invite_email_mismatch");
    assert!(!t.allowed("gil", "org.read", org("acme"), json!({})).await);
    accept(&t, token, "gil", "gil@example.com")
        .await
        .expect(200);
    for junk in [
        "",
        "nope",
        "tgi_",
        "tgi_unknownunknownunknownunknownunknownunknow",
    ] {
        accept(&t, junk, "gil", "gil@example.com")
            .await
            .expect_error(404, "invite_not_found");
        t.post("/v1/invites/lookup", None, json!({"token": junk}))
            .await
            .expect_error(404, "invite_not_found");
    }
}

#[tokio::test]
async fn expired_invites_read_as_expired_and_cannot_be_accepted() {
    let t = TestApp::new();
    t.seed_acme().await;
    let a = invite(&t, "adam", "hal@example.com", "member", false)
        .await
        .expect(201);
    let (id, token) = (
        issued(&a)["id"].as_str().unwrap().to_owned(),
        issued(&a)["token"].as_str().unwrap().to_owned(),
    );
    // Move its expiry into the past.
    t.app
        .store
        .write_untracked(|db| db.restart_invite(&id, "2000-01-01T00:00:00.000000Z"))
        .unwrap();
    let read = t
        .get(&format!("/v1/orgs/acme/invites/{id}"), Some("olive"))
        .await
        .expect(200);
    assert_eq!(read.body["status"], "expired");
    let expired = t
        .get("/v1/orgs/acme/invites?status=expired", Some("olive"))
        .await
        .expect(200);
    assert_eq!(expired.body["items"][0]["id"], id.as_str());
    assert_eq!(
        t.get("/v1/orgs/acme/invites?status=pending", Some("olive"))
            .await
            .body["items"],
        json!([])
    );
    let lookup = t
        .post("/v1/invites/lookup", None, json!({"token": token}))
        .await
        .expect(200);
    assert_eq!(lookup.body["status"], "expired");
    accept(&t, &token, "hal", "hal@example.com")
        .await
        .expect_error(404, "invite_not_found");
    t.patch(
        &format!("/v1/orgs/acme/invites/{id}"),
        Some("adam"),
        json!({"role": "admin"}),
    )
    .await
    .expect_error(409, "invite_not_pending");
    // The sweep records the expiry in the audit log, once.
    assert_eq!(t.app.tenancy.sweep_expired_invites().await.unwrap(), 1);
    assert_eq!(t.app.tenancy.sweep_expired_invites().await.unwrap(), 0);
    let audit = t
        .get("/v1/orgs/acme/audit?limit=1", Some("olive"))
        .await
        .expect(200);
    assert_eq!(audit.body["items"][0]["action"], "invite.expire");
    assert_eq!(audit.body["items"][0]["actor"], "system");
    // An expired invite does not block a new one.
    invite(&t, "adam", "hal@example.com", "member", false)
        .await
        .expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_accepts_exactly_one_wins() {
    let t = TestApp::new();
    t.seed_acme().await;
    for round in 0..5 {
        let email = format!("ivy{round}@example.com");
        let a = invite(&t, "adam", &email, "member", false)
            .await
            .expect(201);
        let token = issued(&a)["token"].as_str().unwrap().to_owned();
        let (ua, ub) = (format!("ivy{round}a"), format!("ivy{round}b"));
        let (x, y) = tokio::join!(
            accept(&t, &token, &ua, &email),
            accept(&t, &token, &ub, &email)
        );
        let mut statuses = [x.status.as_u16(), y.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 404],
            "round {round}: {:#} / {:#}",
            x.body,
            y.body
        );
    }
    let members = t
        .get("/v1/orgs/acme/members?limit=200", Some("olive"))
        .await
        .expect(200);
    let ivies = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["user_id"].as_str().unwrap().starts_with("ivy"))
        .count();
    assert_eq!(ivies, 5);
}

#[tokio::test]
async fn invite_creation_is_rate_limited_per_org() {
    let t = TestApp::builder()
        .with_settings(|s| s.invite_rate_per_hour = 3)
        .build();
    t.seed_acme().await;
    t.create_org("globex", "gus").await;
    let two = json!({"invites": [{"email": "j1@example.com", "role": "member"}, {"email": "j2@example.com", "role": "member"}], "send_email": false});
    t.post("/v1/orgs/acme/invites", Some("olive"), two.clone())
        .await
        .expect(201);
    let limited = t.post("/v1/orgs/acme/invites", Some("olive"), json!({"invites": [{"email": "j3@example.com", "role": "member"}, {"email": "j4@example.com", "role": "member"}], "send_email": false}))
        .await
        .expect_error(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(
        t.get("/v1/orgs/acme/invites", Some("olive")).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Another organization has its own budget.
    t.post("/v1/orgs/globex/invites", Some("gus"), two)
        .await
        .expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_is_retried_until_the_smtp_server_is_back() {
    let port = dead_port();
    let t = with_smtp(format!("smtp://{port}"));
    t.seed_acme().await;
    let created = invite(&t, "olive", "kim@example.com", "member", true)
        .await
        .expect(201);
    let id = issued(&created)["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/orgs/acme/invites/{id}");
    let failing = eventually(MAIL_WAIT, || async {
        let d = t.get(&path, Some("olive")).await.body["delivery"].clone();
        d["status"] == "queued" && d["attempts"].as_u64() >= Some(2) && d["last_error"].is_string()
    })
    .await;
    assert!(failing, "{:#}", t.get(&path, Some("olive")).await.body);

    let smtp = SmtpServer::start_on(port).await;
    let mail = smtp.wait_for("kim@example.com", MAIL_WAIT).await;
    let sent = eventually(MAIL_WAIT, || async {
        t.get(&path, Some("olive")).await.body["delivery"]["status"] == "sent"
    })
    .await;
    assert!(sent);
    let delivery = t.get(&path, Some("olive")).await.body["delivery"].clone();
    assert!(delivery["attempts"].as_u64().unwrap() >= 3, "{delivery}");
    assert_eq!(delivery["last_error"], Value::Null);
    assert_eq!(smtp.count_to("kim@example.com"), 1);
    accept(&t, &mail.token(), "kim", "kim@example.com")
        .await
        .expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_smtp_server_times_out_and_the_mail_is_retried_not_lost() {
    let port = dead_port();
    let silent = SilentServer::start_on(port);
    let url = format!("smtp://{port}");
    let t = TestApp::builder()
        .with_background()
        .with_settings(move |s| {
            s.smtp_url = Some(url);
            s.smtp_timeout_ms = 300;
            s.mail_max_attempts = 50;
        })
        .build();
    t.seed_acme().await;
    let created = invite(&t, "olive", "hana@example.com", "member", true)
        .await
        .expect(201);
    let path = format!(
        "/v1/orgs/acme/invites/{}",
        issued(&created)["id"].as_str().unwrap()
    );
    // Attempts end by timeout (the server never answers) and are retried.
    let timing_out = eventually(MAIL_WAIT, || async {
        let d = t.get(&path, Some("olive")).await.body["delivery"].clone();
        d["status"] == "queued" && d["attempts"].as_u64() >= Some(2)
    })
    .await;
    assert!(timing_out, "{:#}", t.get(&path, Some("olive")).await.body);
    let error = t.get(&path, Some("olive")).await.body["delivery"]["last_error"].clone();
    assert!(
        error.as_str().unwrap().to_lowercase().contains("time"),
        "{error}"
    );
    // Decisions and management calls were never held up by it.
    t.get("/v1/orgs/acme", Some("olive")).await.expect(200);

    drop(silent);
    let smtp = SmtpServer::start_on(port).await;
    smtp.wait_for("hana@example.com", MAIL_WAIT).await;
    let sent = eventually(MAIL_WAIT, || async {
        t.get(&path, Some("olive")).await.body["delivery"]["status"] == "sent"
    })
    .await;
    assert!(sent);
    assert_eq!(smtp.count_to("hana@example.com"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_gives_up_after_the_maximum_attempts() {
    let port = dead_port();
    let url = format!("smtp://{port}");
    let t = TestApp::builder()
        .with_background()
        .with_settings(move |s| {
            s.smtp_url = Some(url);
            s.mail_max_attempts = 2;
        })
        .build();
    t.seed_acme().await;
    let created = invite(&t, "olive", "lou@example.com", "member", true)
        .await
        .expect(201);
    let path = format!(
        "/v1/orgs/acme/invites/{}",
        issued(&created)["id"].as_str().unwrap()
    );
    let failed = eventually(MAIL_WAIT, || async {
        t.get(&path, Some("olive")).await.body["delivery"]["status"] == "failed"
    })
    .await;
    assert!(failed);
    let delivery = t.get(&path, Some("olive")).await.body["delivery"].clone();
    assert_eq!(delivery["attempts"], 2);
    assert!(
        delivery["last_error"].as_str().unwrap().contains("SMTP"),
        "{delivery}"
    );
    // The invite itself is still usable with the link from the create answer.
    accept(
        &t,
        issued(&created)["token"].as_str().unwrap(),
        "lou",
        "lou@example.com",
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn no_token_is_stored_or_listed() {
    let smtp = SmtpServer::start().await;
    let t = with_smtp(smtp.url());
    t.seed_acme().await;
    let created = invite(&t, "olive", "max@example.com", "member", true)
        .await
        .expect(201);
    let link_token = issued(&created)["token"].as_str().unwrap().to_owned();
    let mail_token = smtp.wait_for("max@example.com", MAIL_WAIT).await.token();
    assert_ne!(
        link_token, mail_token,
        "the emailed link carries its own token"
    );
    for path in [
        "/v1/orgs/acme/invites",
        &format!(
            "/v1/orgs/acme/invites/{}",
            issued(&created)["id"].as_str().unwrap()
        ),
    ] {
        let body = t
            .get(path, Some("olive"))
            .await
            .expect(200)
            .body
            .to_string();
        assert!(
            !body.contains("tgi_") && !body.contains("\"token\""),
            "{body}"
        );
    }
    let audit = t
        .get("/v1/orgs/acme/audit?limit=200", Some("olive"))
        .await
        .body
        .to_string();
    assert!(!audit.contains("tgi_"));
    let data = t.app.settings.data_dir.clone();
    for file in std::fs::read_dir(&data).unwrap() {
        let path = file.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            for token in [&link_token, &mail_token] {
                let needle = &token.as_bytes()[4..];
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{} holds a raw token",
                    path.display()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_mail_survives_a_restart_and_tokens_stay_out_of_logs() {
    let dir = workdir();
    let port = dead_port();
    let log = dir.path().join("sidecar.log");
    let smtp_url = format!("smtp://{port}");
    let envs = [
        ("TENANTGATE_SMTP_URL", smtp_url.as_str()),
        ("TENANTGATE_MAIL_RETRY_BASE_MS", "100"),
        ("TENANTGATE_MAIL_RETRY_MAX_MS", "300"),
        ("TENANTGATE_MAIL_POLL_MS", "50"),
        ("RUST_LOG", "debug"),
    ];
    let http = client();
    let first = Server::start_logging(dir.path(), &[], &envs, Some(&log));
    http.post(first.url("/v1/orgs"))
        .json(&json!({"id": "acme", "name": "Acme", "owner": {"id": "olive", "email": "olive@example.com"}}))
        .send()
        .await
        .unwrap();
    let created: Value = http
        .post(first.url("/v1/orgs/acme/invites"))
        .header("x-actor-id", "olive")
        .json(&json!({"invites": [{"email": "noa@example.com", "role": "admin"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let invite = created["invites"][0].clone();
    let path = format!("/v1/orgs/acme/invites/{}", invite["id"].as_str().unwrap());
    let get = |base: String| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            http.get(url)
                .header("x-actor-id", "olive")
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let tried = eventually(MAIL_WAIT, || async {
        get(first.base.clone()).await["delivery"]["attempts"].as_u64() >= Some(1)
    })
    .await;
    assert!(tried);
    drop(first); // SIGKILL: no chance to finish anything

    let smtp = SmtpServer::start_on(port).await;
    let second = Server::start_logging(dir.path(), &[], &envs, Some(&log));
    let mail = smtp.wait_for("noa@example.com", MAIL_WAIT).await;
    let sent = eventually(MAIL_WAIT, || async {
        get(second.base.clone()).await["delivery"]["status"] == "sent"
    })
    .await;
    assert!(sent);
    let accepted = http
        .post(second.url("/v1/invites/accept"))
        .json(&json!({"token": mail.token(), "user": {"id": "noa", "email": "noa@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    assert_eq!(smtp.count_to("noa@example.com"), 1, "mail was duplicated");
    drop(second);

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("invite email sent"),
        "the log is not the sidecar's: {logged}"
    );
    for token in [invite["token"].as_str().unwrap(), mail.token().as_str()] {
        assert!(!logged.contains(&token[4..]), "a token reached the log");
    }
}
