//! Durability of the real binary: writers stream management calls, the
//! process is killed with SIGKILL at a random moment, restarted, and every
//! change it acknowledged must be there, with nothing half-applied (each
//! org has its owner and audit row, each invite its outbox row and audit
//! row, each member an audit row). SIGTERM lets requests in flight finish.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::support::*;

/// Writers at once, kill rounds, and the longest a round runs before the kill.
const WRITERS: usize = 4;
const ROUNDS: usize = 3;
const MAX_ROUND_MS: u64 = 700;

/// What the sidecar acknowledged with a 2xx.
#[derive(Debug, Default)]
struct Acked {
    orgs: BTreeSet<String>,
    /// `(org, user)` → the last role acknowledged.
    members: BTreeMap<(String, String), String>,
    /// `(org, invite id)`.
    invites: BTreeSet<(String, String)>,
    /// `(org, workspace)`.
    workspaces: BTreeSet<(String, String)>,
}

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> Option<Value> {
    let mut req = client().request(method, url);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.ok()?;
    if !resp.status().is_success() {
        panic!(
            "a write was refused: {} {:?}",
            resp.status(),
            resp.text().await
        );
    }
    Some(resp.json().await.unwrap_or(Value::Null))
}

/// One writer: org after org, each with a member, an invite, a role change
/// and a workspace, until the server goes away.
async fn writer(base: String, prefix: String, acked: Arc<Mutex<Acked>>) {
    use reqwest::Method;
    for n in 0.. {
        let org = format!("{prefix}n{n}");
        let url = |p: &str| format!("{base}{p}");
        let body = json!({"id": org, "name": org, "owner": {"id": format!("{org}-owner"), "email": format!("{org}-owner@example.com")}});
        if call(Method::POST, url("/v1/orgs"), Some(body))
            .await
            .is_none()
        {
            return;
        }
        acked.lock().unwrap().orgs.insert(org.clone());
        let user = format!("{org}-m");
        let body = json!({"email": format!("{user}@example.com"), "role": "member"});
        if call(
            Method::PUT,
            url(&format!("/v1/orgs/{org}/members/{user}")),
            Some(body),
        )
        .await
        .is_none()
        {
            return;
        }
        acked
            .lock()
            .unwrap()
            .members
            .insert((org.clone(), user.clone()), "member".into());
        let body =
            json!({"invites": [{"email": format!("{org}-inv@example.com"), "role": "member"}]});
        let Some(created) = call(
            Method::POST,
            url(&format!("/v1/orgs/{org}/invites")),
            Some(body),
        )
        .await
        else {
            return;
        };
        let id = created["invites"][0]["id"]
            .as_str()
            .or_else(|| created["items"][0]["id"].as_str())
            .unwrap_or_else(|| panic!("no invite id in {created}"))
            .to_owned();
        acked.lock().unwrap().invites.insert((org.clone(), id));
        let body = json!({"role": "admin"});
        if call(
            Method::PATCH,
            url(&format!("/v1/orgs/{org}/members/{user}")),
            Some(body),
        )
        .await
        .is_none()
        {
            return;
        }
        acked
            .lock()
            .unwrap()
            .members
            .insert((org.clone(), user.clone()), "admin".into());
        let ws = format!("{org}-ws");
        let body = json!({"id": ws, "name": ws});
        if call(
            Method::POST,
            url(&format!("/v1/orgs/{org}/workspaces")),
            Some(body),
        )
        .await
        .is_none()
        {
            return;
        }
        acked.lock().unwrap().workspaces.insert((org.clone(), ws));
    }
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let resp = client().get(format!("{base}{path}")).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn items(body: &Value) -> Vec<Value> {
    body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_and_nothing_is_half_applied() {
    let dir = workdir();
    let data = dir.path().join("data");
    let args = ["--data-dir", data.to_str().unwrap()];
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(20_261_122);
    let mut attempted = Vec::new();
    for round in 0..ROUNDS {
        let mut server = Server::start(dir.path(), &args, &[]);
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let prefix = format!("r{round}w{w}");
                attempted.push(prefix.clone());
                tokio::spawn(writer(server.base.clone(), prefix, acked.clone()))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..MAX_ROUND_MS))).await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        for w in writers {
            tokio::time::timeout(Duration::from_secs(20), w)
                .await
                .expect("a writer did not notice the kill")
                .unwrap();
        }
    }

    let server = Server::start(dir.path(), &args, &[]);
    let base = server.base.clone();
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.orgs.len() >= ROUNDS,
        "too few writes to prove anything: {acked:?}"
    );

    // Every acknowledged change is there.
    for org in &acked.orgs {
        assert_eq!(
            get(&base, &format!("/v1/orgs/{org}")).await.0,
            200,
            "org {org} lost"
        );
    }
    for ((org, user), role) in &acked.members {
        let (_, members) = get(&base, &format!("/v1/orgs/{org}/members?limit=200")).await;
        let found = items(&members)
            .into_iter()
            .find(|m| m["user_id"] == user.as_str())
            .unwrap_or_else(|| panic!("member {user} of {org} lost"));
        // A later, unacknowledged role change may have landed too.
        assert!(
            found["role"] == role.as_str() || role == "member",
            "{user} in {org}: {found} (acknowledged {role})"
        );
    }
    for (org, id) in &acked.invites {
        let (status, invite) = get(&base, &format!("/v1/orgs/{org}/invites/{id}")).await;
        assert_eq!(status, 200, "invite {id} lost");
        assert!(
            matches!(
                invite["delivery"]["status"].as_str(),
                Some("queued" | "sent")
            ),
            "{invite}"
        );
    }
    for (org, ws) in &acked.workspaces {
        assert_eq!(
            get(&base, &format!("/v1/orgs/{org}/workspaces/{ws}"))
                .await
                .0,
            200,
            "workspace {ws} lost"
        );
    }

    // Whatever exists, acknowledged or not, is whole.
    let mut checked = 0;
    for prefix in &attempted {
        for n in 0.. {
            let org = format!("{prefix}n{n}");
            let (status, _) = get(&base, &format!("/v1/orgs/{org}")).await;
            if status == 404 {
                break;
            }
            checked += 1;
            let (_, audit) = get(&base, &format!("/v1/orgs/{org}/audit?limit=200")).await;
            let events: BTreeSet<(String, String)> = items(&audit)
                .iter()
                .map(|e| {
                    (
                        e["action"].as_str().unwrap().to_owned(),
                        e["target"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            assert!(
                events.iter().any(|(a, _)| a == "org.create"),
                "{org} has no org.create audit row"
            );
            let (_, members) = get(&base, &format!("/v1/orgs/{org}/members?limit=200")).await;
            let members = items(&members);
            assert!(
                members.iter().any(|m| m["role"] == "owner"),
                "{org} has no owner"
            );
            for m in members.iter().filter(|m| m["role"] != "owner") {
                let target = format!("User::{}", m["user_id"].as_str().unwrap());
                assert!(
                    events.contains(&("member.add".into(), target.clone())),
                    "{target} in {org} has no audit row"
                );
                if m["role"] == "admin" {
                    assert!(
                        events.contains(&("member.update_role".into(), target)),
                        "{org}: role change without audit row"
                    );
                }
            }
            let (_, invites) = get(&base, &format!("/v1/orgs/{org}/invites?limit=200")).await;
            for invite in items(&invites) {
                let id = invite["id"].as_str().unwrap();
                assert!(
                    events.contains(&("invite.create".into(), format!("Invite::{id}"))),
                    "invite {id} has no audit row"
                );
                assert!(
                    invite["delivery"]["status"].is_string(),
                    "invite {id} has no outbox row: {invite}"
                );
            }
            let (_, workspaces) = get(&base, &format!("/v1/orgs/{org}/workspaces?limit=200")).await;
            for ws in items(&workspaces) {
                let id = ws["id"].as_str().unwrap();
                assert!(
                    events.contains(&("workspace.create".into(), format!("Workspace::{id}"))),
                    "workspace {id} has no audit row"
                );
            }
        }
    }
    assert!(checked >= acked.orgs.len());
}

#[test]
fn sigterm_lets_a_request_in_flight_finish() {
    let dir = workdir();
    let mut server = Server::start(dir.path(), &[], &[]);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = br#"{"principal":"User::\"a\"","action":"Action::\"org.read\"","resource":"Organization::\"x\""}"#;
    let (first, rest) = body.split_at(20);
    write!(
        stream,
        "POST /v1/is_authorized HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(first).unwrap();
    // The request is in flight (its body half sent) when SIGTERM arrives.
    std::thread::sleep(Duration::from_millis(300));
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );
    stream.write_all(rest).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""decision":"Deny""#), "{answer}");
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}
