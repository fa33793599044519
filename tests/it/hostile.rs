//! Hostile input: every kind has a clean 4xx (or 503) with a stable code,
//! never a 5xx, and a bounded cost. The connection-level limits run against
//! the real binary over TCP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::json;

use crate::support::*;

fn raw(method: Method, path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

fn decision_body(context: serde_json::Value) -> serde_json::Value {
    json!({
        "principal": {"type": "User", "id": "olive"},
        "action": {"type": "Action", "id": "member.invite"},
        "resource": {"type": "Organization", "id": "acme"},
        "context": context,
    })
}

#[tokio::test]
async fn deeply_nested_json_is_refused() {
    let t = TestApp::new();
    let depth = 100_000;
    let nested = format!(
        r#"{{"principal":"User::\"a\"","action":"Action::\"org.read\"","resource":"Organization::\"x\"","context":{{"a":{}{}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let resp = t
        .send(raw(Method::POST, "/v1/is_authorized", nested))
        .await
        .expect_error(400, "invalid_request");
    assert!(
        resp.body["detail"].as_str().unwrap().contains("recursion"),
        "{:?}",
        resp.body
    );
}

#[tokio::test]
async fn huge_bodies_strings_and_arrays_are_bounded() {
    let t = TestApp::new();
    // Over the body limit (1 MiB by default): refused before parsing.
    let big = format!(r#"{{"name": "{}"}}"#, "a".repeat(2 * 1024 * 1024));
    t.send(raw(Method::POST, "/v1/orgs", big))
        .await
        .expect_error(413, "payload_too_large");
    // Under it, but a string far over a field's limit.
    let long_id = "a".repeat(500_000);
    t.post(
        "/v1/orgs",
        None,
        json!({"id": long_id, "name": "x", "owner": {"id": "u", "email": "u@example.com"}}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.post(
        "/v1/orgs",
        None,
        json!({"name": "n".repeat(201), "owner": {"id": "u", "email": "u@example.com"}}),
    )
    .await
    .expect_error(400, "invalid_request");
    // Too many items in every list the API takes.
    let entities: Vec<_> = (0..20_000)
        .map(|i| json!({"uid": {"type": "Document", "id": format!("d{i}")}, "attrs": {}, "parents": []}))
        .collect();
    let mut body = decision_body(json!({"role": "member"}));
    body["entities"] = json!(entities);
    let resp = t.post("/v1/is_authorized", None, body).await;
    assert!(
        resp.status == 400 || resp.status == 413,
        "{:?} {:?}",
        resp.status,
        resp.body
    );
    let requests: Vec<_> = (0..101)
        .map(|_| json!({"principal": "User::\"a\"", "action": "Action::\"org.read\"", "resource": "Organization::\"x\""}))
        .collect();
    t.post(
        "/v1/is_authorized/batch",
        None,
        json!({"requests": requests}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.create_org("acme", "olive").await;
    let invites: Vec<_> = (0..101)
        .map(|i| json!({"email": format!("p{i}@example.com"), "role": "member"}))
        .collect();
    t.post(
        "/v1/orgs/acme/invites",
        Some("olive"),
        json!({"invites": invites}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.get("/v1/orgs/acme/members?limit=100000", Some("olive"))
        .await
        .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn invalid_utf8_and_control_characters_are_refused() {
    let t = TestApp::new();
    t.create_org("acme", "olive").await;
    let mut bytes = br#"{"name": "ok"#.to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(br#""}"#);
    t.send(raw(Method::PATCH, "/v1/orgs/acme", bytes))
        .await
        .expect_error(400, "invalid_request");
    // Percent-encoded invalid UTF-8 and control characters in path ids.
    for path in [
        "/v1/orgs/acme%FF",
        "/v1/orgs/ac%0Ame",
        "/v1/orgs/acme/workspaces/w%00s",
    ] {
        let resp = t.get(path, Some("olive")).await;
        assert_eq!(resp.status, 400, "{path}: {:?}", resp.body);
        assert_eq!(resp.code(), "invalid_request", "{path}");
    }
    // Control characters in a name, an actor header and an email.
    t.patch("/v1/orgs/acme", Some("olive"), json!({"name": "a\u{7}b"}))
        .await
        .expect_error(400, "invalid_request");
    let req = Request::builder()
        .method(Method::GET)
        .uri("/v1/orgs/acme")
        .header("x-actor-id", "oli\tve")
        .body(Body::empty())
        .unwrap();
    t.send(req).await.expect_error(400, "invalid_request");
    t.put(
        "/v1/orgs/acme/members/bob",
        Some("olive"),
        json!({"email": "bob\r\n@example.com", "role": "member"}),
    )
    .await
    .expect_error(400, "invalid_request");
    // In a decision, a sidecar id with control characters is refused too.
    t.post(
        "/v1/is_authorized",
        None,
        json!({"principal": {"type": "User", "id": "a\u{0}b\nc"}, "action": "Action::\"org.read\"", "resource": "Organization::\"acme\""}),
    )
    .await
    .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn duplicate_keys_are_refused_at_any_depth() {
    let t = TestApp::new();
    t.seed_acme().await;
    // Admins may grant `member` but not `owner`: a body that says both must
    // not be read as either.
    let smuggled = r#"{"principal":{"type":"User","id":"adam"},"action":{"type":"Action","id":"member.invite"},"resource":{"type":"Organization","id":"acme"},"context":{"role":"owner","role":"member"}}"#;
    let resp = t
        .send(raw(Method::POST, "/v1/is_authorized", smuggled))
        .await
        .expect_error(400, "invalid_request");
    assert!(resp.body["detail"]
        .as_str()
        .unwrap()
        .contains("duplicate key `role`"));
    let top = r#"{"name":"a","name":"b"}"#;
    let req = Request::builder()
        .method(Method::PATCH)
        .uri("/v1/orgs/acme")
        .header("content-type", "application/json")
        .header("x-actor-id", "olive")
        .body(Body::from(top))
        .unwrap();
    t.send(req).await.expect_error(400, "invalid_request");
    assert_eq!(
        t.get("/v1/orgs/acme", Some("olive")).await.body["name"],
        "acme"
    );
}

#[tokio::test]
async fn failed_token_attempts_are_limited_per_key() {
    let t = TestApp::builder()
        .with_settings(|s| {
            s.invite_token_failures_per_minute = 5;
            s.trusted_proxy_hops = 1;
        })
        .build();
    for i in 0..5 {
        t.post(
            "/v1/invites/lookup",
            None,
            json!({"token": format!("guess-{i}")}),
        )
        .await
        .expect_error(404, "invite_not_found");
    }
    let resp = t
        .post(
            "/v1/invites/accept",
            None,
            json!({"token": "guess-6", "user": {"id": "m", "email": "m@example.com"}}),
        )
        .await
        .expect_error(429, "rate_limited");
    assert!(resp.headers.get("retry-after").is_some());
    t.post("/v1/invites/decline", None, json!({"token": "guess-7"}))
        .await
        .expect_error(429, "rate_limited");
    // Another end user behind the same host key, named by the host, is not
    // blocked by the first one's failures.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/invites/lookup")
        .header("content-type", "application/json")
        .header("x-forwarded-for", "203.0.113.9, 10.0.0.1")
        .body(Body::from(r#"{"token": "guess-8"}"#))
        .unwrap();
    t.send(req).await.expect_error(404, "invite_not_found");
}

/// A token guess naming `x-forwarded-for`.
async fn guess(t: &TestApp, xff: &str, token: &str) -> Resp {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/invites/lookup")
        .header("content-type", "application/json")
        .header("x-forwarded-for", xff)
        .body(Body::from(json!({ "token": token }).to_string()))
        .unwrap();
    t.send(req).await
}

#[tokio::test]
async fn a_client_written_forwarded_for_steers_no_token_limit() {
    // Default: the header is never read, so rotating it does not give a
    // fresh allowance.
    let t = TestApp::builder()
        .with_settings(|s| s.invite_token_failures_per_minute = 3)
        .build();
    for i in 0..3 {
        guess(&t, &format!("198.51.100.{i}"), &format!("g{i}"))
            .await
            .expect_error(404, "invite_not_found");
    }
    guess(&t, "198.51.100.99", "g9")
        .await
        .expect_error(429, "rate_limited");

    // One trusted proxy: its entry (the rightmost) names the end user; a
    // leftmost entry the client wrote is ignored, both to rotate and to
    // lock out a victim.
    let t = TestApp::builder()
        .with_settings(|s| {
            s.invite_token_failures_per_minute = 3;
            s.trusted_proxy_hops = 1;
        })
        .build();
    for i in 0..3 {
        guess(&t, &format!("192.0.2.{i}, 203.0.113.7"), &format!("g{i}"))
            .await
            .expect_error(404, "invite_not_found");
    }
    guess(&t, "192.0.2.50, 203.0.113.7", "g5")
        .await
        .expect_error(429, "rate_limited");
    // The attacker wrote the victim's address leftmost: the victim, seen by
    // the proxy as 203.0.113.8, is not locked out.
    for i in 0..3 {
        guess(&t, "203.0.113.8, 203.0.113.9", &format!("h{i}"))
            .await
            .expect_error(404, "invite_not_found");
    }
    guess(&t, "203.0.113.8", "victim")
        .await
        .expect_error(404, "invite_not_found");
}

/// A loopback TCP connection with bounded reads.
fn connect(server: &Server) -> TcpStream {
    let addr = server.base.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Sends a GET /healthz on `stream` and reads the head of the answer.
fn healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn a_client_trickling_its_headers_is_cut_off() {
    let dir = workdir();
    let server = Server::start(
        dir.path(),
        &[],
        &[("TENANTGATE_HEADER_READ_TIMEOUT_MS", "300")],
    );
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    // The head never completes: the server must close the connection (the
    // read returns end of stream or a reset), not wait for it forever.
    let mut buf = [0u8; 1024];
    match stream.read(&mut buf) {
        Ok(n) => {
            let text = String::from_utf8_lossy(&buf[..n]);
            assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
        }
        Err(e) => assert!(
            e.kind() == std::io::ErrorKind::ConnectionReset,
            "the connection was not closed: {e}"
        ),
    }
    // A well-behaved client is still served.
    assert!(healthz(&mut connect(&server)).starts_with("HTTP/1.1 200"));
}

#[test]
fn connections_over_the_cap_get_a_clean_503() {
    let dir = workdir();
    let server = Server::start(dir.path(), &[], &[("TENANTGATE_MAX_CONNECTIONS", "3")]);
    let mut held: Vec<TcpStream> = (0..3).map(|_| connect(&server)).collect();
    for stream in &mut held {
        assert!(healthz(stream).starts_with("HTTP/1.1 200"));
    }
    let mut extra = connect(&server);
    let head = healthz(&mut extra);
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    assert!(head.contains(r#""code":"unavailable""#), "{head}");
    // Closing one frees its slot.
    drop(held.pop());
    let served = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        healthz(&mut connect(&server)).starts_with("HTTP/1.1 200")
    });
    assert!(served, "the freed slot was never reused");
}

#[test]
fn requests_over_the_in_flight_limit_get_a_clean_503() {
    let dir = workdir();
    let server = Server::start(dir.path(), &[], &[("TENANTGATE_MAX_IN_FLIGHT", "2")]);
    // Two requests whose bodies never finish arriving stay in flight.
    let mut slow: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = connect(&server);
            s.write_all(
                b"POST /v1/is_authorized HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"princ",
            )
            .unwrap();
            s
        })
        .collect();
    let mut shed = false;
    // Generous bounds: on a loaded machine the slow bodies may take a while
    // to be read into flight.
    for _ in 0..200 {
        let head = healthz(&mut connect(&server));
        if head.starts_with("HTTP/1.1 503") {
            assert!(head.contains(r#""code":"unavailable""#), "{head}");
            shed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(shed, "a third request was never shed");
    slow.clear();
    let recovered = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        healthz(&mut connect(&server)).starts_with("HTTP/1.1 200")
    });
    assert!(recovered, "the limit was never released");
}
