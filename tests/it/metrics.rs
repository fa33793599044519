//! `GET /metrics`: the recorded counters and histograms, then the state
//! gauges. The recorder is one per process and the tests run in parallel,
//! so counters are checked for presence and growth, never exact totals.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

/// The sum of the samples of `name` carrying every label of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let Some((set, value)) = rest.strip_prefix('{').and_then(|r| r.split_once("} ")) else {
            continue;
        };
        let parts: Vec<&str> = set.split(',').collect();
        if labels
            .iter()
            .all(|(k, v)| parts.contains(&format!("{k}=\"{v}\"").as_str()))
        {
            *found.get_or_insert(0.0) += value.trim().parse::<f64>().unwrap();
        }
    }
    found
}

async fn scrape(t: &TestApp) -> String {
    let resp = t.get("/metrics", None).await.expect(200);
    assert!(resp.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    resp.body.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn decisions_requests_and_reloads_are_counted() {
    let t = TestApp::new();
    t.seed_acme().await;
    let allow = [("decision", "Allow"), ("action", "org.read")];
    let before = sample(&scrape(&t).await, "tenantgate_decisions_total", &allow).unwrap_or(0.0);

    assert!(t.allowed("olive", "org.read", org("acme"), json!({})).await);
    // The string form of the action counts under the same label.
    let string_form = t
        .post(
            "/v1/is_authorized",
            None,
            json!({"principal": "User::\"mia\"", "action": "Action::\"org.read\"", "resource": "Organization::\"acme\""}),
        )
        .await
        .expect(200);
    assert_eq!(string_form.body["decision"], "Allow");
    assert!(!t.allowed("mia", "org.delete", org("acme"), json!({})).await);
    let batch = t
        .post(
            "/v1/is_authorized/batch",
            None,
            json!({"requests": [
                {"principal": {"type": "User", "id": "adam"}, "action": {"type": "Action", "id": "org.read"}, "resource": org("acme")},
                {"principal": {"type": "User", "id": "stranger"}, "action": {"type": "Action", "id": "org.read"}, "resource": org("acme")},
            ]}),
        )
        .await
        .expect(200);
    assert_eq!(batch.body["results"][0]["decision"], "Allow");
    assert_eq!(batch.body["results"][1]["decision"], "Deny");
    // An action the schema does not declare is refused, and never becomes a label.
    t.post(
        "/v1/is_authorized",
        None,
        json!({"principal": "User::\"mia\"", "action": "Action::\"made-up-by-caller\"", "resource": "Organization::\"acme\""}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.get("/v1/no/such/route/made-up-path", None)
        .await
        .expect_error(404, "not_found");

    // A rejected reload, then one that ends the failure.
    let broken = t.policies_dir().join("broken.cedar");
    std::fs::write(&broken, "permit(principal, action, resource").unwrap();
    t.app.authz.reload().unwrap_err();
    std::fs::remove_file(&broken).unwrap();
    t.app.authz.reload().unwrap();

    let text = scrape(&t).await;
    let after = sample(&text, "tenantgate_decisions_total", &allow).unwrap();
    assert!(after >= before + 3.0, "{before} -> {after}\n{text}");
    assert!(
        sample(
            &text,
            "tenantgate_decisions_total",
            &[("decision", "Deny"), ("action", "org.delete")]
        )
        .unwrap()
            >= 1.0,
        "{text}"
    );
    assert!(text.contains("tenantgate_decisions_total{"), "{text}");
    assert!(!text.contains("made-up-by-caller"), "{text}");
    assert!(!text.contains("made-up-path"), "{text}");
    assert!(
        sample(
            &text,
            "tenantgate_decision_duration_seconds_bucket",
            &[("le", "+Inf")]
        )
        .unwrap()
            >= 4.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "tenantgate_http_requests_total",
            &[
                ("route", "/v1/is_authorized"),
                ("method", "POST"),
                ("status", "200")
            ]
        )
        .unwrap()
            >= 2.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "tenantgate_http_requests_total",
            &[("route", "/v1/is_authorized/batch"), ("status", "200")]
        )
        .is_some(),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "tenantgate_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        )
        .is_some(),
        "{text}"
    );
    assert!(
        text.contains("tenantgate_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "tenantgate_policy_reloads_total",
            &[("outcome", "rejected")]
        )
        .unwrap()
            >= 1.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "tenantgate_policy_reloads_total",
            &[("outcome", "ok")]
        )
        .unwrap()
            >= 1.0,
        "{text}"
    );
    // The state gauges follow, from this sidecar's own state.
    assert!(
        text.contains("tenantgate_policy_last_reload_ok 1"),
        "{text}"
    );
    assert!(text.contains("tenantgate_organizations 1"), "{text}");
    assert!(text.contains("tenantgate_mail_outbox_depth 0"), "{text}");
}

#[tokio::test]
async fn a_repeated_rejection_counts_once() {
    let t = TestApp::new();
    let broken = t.policies_dir().join("broken.cedar");
    std::fs::write(&broken, "permit(principal, action, resource").unwrap();
    t.app.authz.reload().unwrap_err();
    let rejected = |text: &str| {
        sample(
            text,
            "tenantgate_policy_reloads_total",
            &[("outcome", "rejected")],
        )
        .unwrap()
    };
    let first = rejected(&scrape(&t).await);
    // The periodic re-check of the same broken files is not news; other
    // tests may still add rejections of their own, so only this test's
    // sidecar reloads here, many times.
    for _ in 0..50 {
        t.app.authz.reload().unwrap_err();
    }
    let text = scrape(&t).await;
    assert!(
        text.contains("tenantgate_policy_last_reload_ok 0"),
        "{text}"
    );
    assert!(rejected(&text) < first + 50.0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_outcomes_and_the_outbox_depth() {
    let queued = TestApp::new();
    queued.seed_acme().await;
    queued
        .post(
            "/v1/orgs/acme/invites",
            Some("olive"),
            json!({"invites": [{"email": "q@example.com", "role": "member"}], "send_email": true}),
        )
        .await
        .expect(201);
    // Nothing sends for this sidecar: the message waits in the outbox.
    let text = scrape(&queued).await;
    assert!(text.contains("tenantgate_mail_outbox_depth 1"), "{text}");

    let t = TestApp::builder().with_background().build();
    t.seed_acme().await;
    let sent = |text: &str| {
        sample(
            text,
            "tenantgate_mail_delivery_total",
            &[("outcome", "sent")],
        )
        .unwrap_or(0.0)
    };
    let before = sent(&scrape(&t).await);
    t.post(
        "/v1/orgs/acme/invites",
        Some("olive"),
        json!({"invites": [{"email": "s@example.com", "role": "member"}], "send_email": true}),
    )
    .await
    .expect(201);
    let delivered = eventually(Duration::from_secs(15), || async {
        let text = scrape(&t).await;
        sent(&text) > before && text.contains("tenantgate_mail_outbox_depth 0")
    })
    .await;
    assert!(delivered, "{}", scrape(&t).await);
}
