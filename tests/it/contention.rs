//! Contention on the real binary: 64 management clients hammer a few
//! organizations (adds, role changes including to and from owner, removals,
//! invites accepted by two clients at once) while decision clients keep
//! asking. No 5xx (so no "database is locked"), and afterwards every org
//! still has an owner and no invite was accepted twice.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::support::*;

const CLIENTS: usize = 64;
const ORGS: usize = 8;
const OPS_PER_CLIENT: usize = 12;
const DECISION_CLIENTS: usize = 4;
const ROLES: [&str; 4] = ["owner", "admin", "accounting", "member"];

/// Answers that may legitimately come back under contention.
fn acceptable(status: u16) -> bool {
    matches!(status, 200..=299 | 403 | 404 | 409)
}

struct Calls {
    base: String,
    client: reqwest::Client,
    server_errors: AtomicUsize,
    unexpected: std::sync::Mutex<Vec<String>>,
}

impl Calls {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.send_as(method, path, body, "127.0.0.1").await
    }

    /// As the host would: naming the end user's address, so per-user
    /// limits (failed token attempts) count each end user apart.
    async fn send_as(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        end_user: &str,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .header("x-forwarded-for", end_user);
        if let Some(body) = &body {
            req = req.json(body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let json: Value = resp.json().await.unwrap_or(Value::Null);
        if status >= 500 {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        if !acceptable(status) {
            self.unexpected
                .lock()
                .unwrap()
                .push(format!("{method} {path} {body:?} -> {status} {json}"));
        }
        (status, json)
    }
}

async fn management_client(calls: Arc<Calls>, c: usize) {
    use reqwest::Method;
    let mut rng = rand::rngs::StdRng::seed_from_u64(c as u64);
    let mut mine: Vec<(String, String)> = Vec::new();
    for k in 0..OPS_PER_CLIENT {
        let org = format!("busy{}", rng.random_range(0..ORGS));
        match rng.random_range(0..5) {
            0 | 1 => {
                let user = format!("c{c}u{k}");
                let role = ROLES[rng.random_range(0..ROLES.len())];
                let body = json!({"email": format!("{user}@example.com"), "role": role});
                let (status, _) = calls
                    .send(
                        Method::PUT,
                        &format!("/v1/orgs/{org}/members/{user}"),
                        Some(body),
                    )
                    .await;
                if status == 201 || status == 200 {
                    mine.push((org, user));
                }
            }
            2 => {
                // Any member, the first owner included: demoting the last
                // owner must be refused however the calls interleave.
                let (org, user) = if mine.is_empty() || rng.random_bool(0.3) {
                    (org.clone(), format!("{org}-founder"))
                } else {
                    mine[rng.random_range(0..mine.len())].clone()
                };
                let role = ROLES[rng.random_range(0..ROLES.len())];
                calls
                    .send(
                        Method::PATCH,
                        &format!("/v1/orgs/{org}/members/{user}"),
                        Some(json!({"role": role})),
                    )
                    .await;
            }
            3 => {
                let (org, user) = if mine.is_empty() || rng.random_bool(0.3) {
                    (org.clone(), format!("{org}-founder"))
                } else {
                    mine.swap_remove(rng.random_range(0..mine.len()))
                };
                calls
                    .send(
                        Method::DELETE,
                        &format!("/v1/orgs/{org}/members/{user}"),
                        None,
                    )
                    .await;
            }
            _ => {
                let email = format!("c{c}i{k}@example.com");
                let body =
                    json!({"invites": [{"email": email, "role": "member"}], "send_email": false});
                let (status, created) = calls
                    .send(Method::POST, &format!("/v1/orgs/{org}/invites"), Some(body))
                    .await;
                if status != 201 {
                    continue;
                }
                let token = created["invites"][0]["token"].as_str().unwrap().to_owned();
                // Two clients race to accept the same invite.
                let accept = |id: &str| {
                    let calls = calls.clone();
                    let body = json!({"token": token, "user": {"id": id, "email": email}});
                    let end_user = format!("10.0.{c}.{k}");
                    async move {
                        calls
                            .send_as(Method::POST, "/v1/invites/accept", Some(body), &end_user)
                            .await
                            .0
                    }
                };
                let (a, b) =
                    tokio::join!(accept(&format!("c{c}a{k}")), accept(&format!("c{c}b{k}")));
                let wins = [a, b].iter().filter(|s| **s == 200).count();
                assert_eq!(wins, 1, "two concurrent accepts: {a} and {b}");
            }
        }
    }
}

async fn decision_client(calls: Arc<Calls>, stop: Arc<std::sync::atomic::AtomicBool>) -> usize {
    let mut asked = 0;
    while !stop.load(Ordering::Relaxed) {
        let body = json!({
            "principal": {"type": "User", "id": format!("busy{}-founder", asked % ORGS)},
            "action": {"type": "Action", "id": "org.update"},
            "resource": {"type": "Organization", "id": format!("busy{}", asked % ORGS)},
        });
        let (status, _) = calls
            .send(reqwest::Method::POST, "/v1/is_authorized", Some(body))
            .await;
        assert_eq!(status, 200);
        asked += 1;
    }
    asked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_and_readers_keep_every_invariant() {
    let dir = workdir();
    // The calls name each end user as one proxy would.
    let server = Server::start(dir.path(), &[], &[("TENANTGATE_TRUSTED_PROXY_HOPS", "1")]);
    let calls = Arc::new(Calls {
        base: server.base.clone(),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(CLIENTS * 2)
            .build()
            .unwrap(),
        server_errors: AtomicUsize::new(0),
        unexpected: std::sync::Mutex::new(Vec::new()),
    });
    for i in 0..ORGS {
        let org = format!("busy{i}");
        let body = json!({"id": org, "name": org, "owner": {"id": format!("{org}-founder"), "email": format!("founder{i}@example.com")}});
        let (status, _) = calls
            .send(reqwest::Method::POST, "/v1/orgs", Some(body))
            .await;
        assert_eq!(status, 201);
    }

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let deciders: Vec<_> = (0..DECISION_CLIENTS)
        .map(|_| tokio::spawn(decision_client(calls.clone(), stop.clone())))
        .collect();
    let managers: Vec<_> = (0..CLIENTS)
        .map(|c| tokio::spawn(management_client(calls.clone(), c)))
        .collect();
    for m in managers {
        tokio::time::timeout(Duration::from_secs(240), m)
            .await
            .expect("a management client hung")
            .unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let mut decisions = 0;
    for d in deciders {
        decisions += d.await.unwrap();
    }
    assert!(decisions > 0);
    assert_eq!(
        calls.server_errors.load(Ordering::Relaxed),
        0,
        "{:?}",
        calls.unexpected.lock().unwrap()
    );
    assert!(
        calls.unexpected.lock().unwrap().is_empty(),
        "{:?}",
        calls.unexpected.lock().unwrap()
    );

    for i in 0..ORGS {
        let org = format!("busy{i}");
        let (_, members) = calls
            .send(
                reqwest::Method::GET,
                &format!("/v1/orgs/{org}/members?limit=200"),
                None,
            )
            .await;
        let members = members["items"].as_array().unwrap().clone();
        assert!(
            members.iter().any(|m| m["role"] == "owner"),
            "{org} lost its last owner: {members:?}"
        );
        // Each invite was accepted at most once.
        let mut accepts: BTreeMap<String, usize> = BTreeMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = match &cursor {
                Some(c) => format!("/v1/orgs/{org}/audit?limit=200&cursor={c}"),
                None => format!("/v1/orgs/{org}/audit?limit=200"),
            };
            let (_, audit) = calls.send(reqwest::Method::GET, &page, None).await;
            for e in audit["items"].as_array().unwrap() {
                if e["action"] == "invite.accept" {
                    let invite = e["details"]["invite"].as_str().unwrap().to_owned();
                    *accepts.entry(invite).or_default() += 1;
                }
            }
            match audit["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert!(accepts.values().all(|n| *n == 1), "{org}: {accepts:?}");
        let (_, accepted) = calls
            .send(
                reqwest::Method::GET,
                &format!("/v1/orgs/{org}/invites?status=accepted&limit=200"),
                None,
            )
            .await;
        assert_eq!(
            accepted["items"].as_array().unwrap().len(),
            accepts.len(),
            "{org}"
        );
    }
}
