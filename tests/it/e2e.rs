//! The real binary over a real socket: start, serve, keys from the CLI,
//! refusals to start, graceful shutdown.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::support::*;

fn tenantgate(cwd: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tenantgate"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_binary_serves_the_api_with_its_defaults() {
    let dir = workdir();
    // No flags but the port: ./policies, ./schema and ./data of the cwd.
    let server = Server::start(dir.path(), &[], &[]);
    let http = client();
    let created = http
        .post(server.url("/v1/orgs"))
        .json(&json!({"id": "acme", "name": "Acme", "owner": {"id": "olive", "email": "olive@acme.test"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(created.headers().contains_key("x-request-id"));
    let decision: serde_json::Value = http
        .post(server.url("/v1/is_authorized"))
        .json(&json!({"principal": "User::\"olive\"", "action": "Action::\"org.delete\"", "resource": "Organization::\"acme\""}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(decision["decision"], "Allow");
    assert!(dir.path().join("data/tenantgate.sqlite").is_file());
    let health = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn keys_created_with_the_cli_are_required_and_revocable() {
    let dir = workdir();
    let out = tenantgate(
        dir.path(),
        &["keys", "create", "--scope", "admin", "--name", "ops"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout.lines().last().unwrap().trim().to_owned();
    assert!(key.starts_with("tgk_"), "{stdout}");

    let listed = String::from_utf8(tenantgate(dir.path(), &["keys", "list"]).stdout).unwrap();
    assert!(
        listed.contains("admin") && listed.contains("ops"),
        "{listed}"
    );
    assert!(!listed.contains(&key), "keys list must never show a secret");
    let id = listed
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let server = Server::start(dir.path(), &[], &[("TENANTGATE_KEY_REFRESH_MS", "100")]);
    let http = client();
    let anonymous = http.get(server.url("/v1/policies")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let authed = http
        .get(server.url("/v1/policies"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(authed.status(), 200);

    let revoked = tenantgate(dir.path(), &["keys", "revoke", &id]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let gone = eventually(Duration::from_secs(10), || async {
        http.get(server.url("/v1/policies"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status()
            == 401
    })
    .await;
    assert!(gone, "a revoked key kept working");
    assert!(!tenantgate(dir.path(), &["keys", "revoke", &id])
        .status
        .success());
}

#[test]
fn refuses_to_start_without_keys_off_loopback_or_without_valid_policies() {
    let dir = workdir();
    let out = Command::new(env!("CARGO_BIN_EXE_tenantgate"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("without API keys"));

    std::fs::write(dir.path().join("policies/broken.cedar"), "permit(").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tenantgate"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no valid policy set") && stderr.contains("broken.cedar"),
        "{stderr}"
    );
}

#[test]
fn settings_come_from_file_then_environment_then_flags() {
    let dir = workdir();
    std::fs::write(
        dir.path().join("tg.toml"),
        "data_dir = \"from-file\"\npolicies = \"nowhere\"\n",
    )
    .unwrap();
    // The environment overrides the file's policies folder, the flag its data dir.
    let server = Server::start(
        dir.path(),
        &["--config", "tg.toml", "--data-dir", "from-flag"],
        &[("TENANTGATE_POLICIES", "policies")],
    );
    assert!(dir.path().join("from-flag/tenantgate.sqlite").is_file());
    assert!(!dir.path().join("from-file").exists());
    drop(server);
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let dir = workdir();
    let mut server = Server::start(dir.path(), &[], &[]);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn check_decides_from_the_command_line_and_names_policy_locations() {
    let t = TestApp::new();
    t.seed_acme().await;
    let s = &t.app.settings;
    let run = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantgate"));
        cmd.arg("check")
            .arg("--data-dir")
            .arg(&s.data_dir)
            .arg("--policies")
            .arg(&s.policies)
            .arg("--schema")
            .arg(&s.schema)
            .args(args);
        if let Some(url) = &s.database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd.output().unwrap()
    };
    let out = run(&[
        "--principal",
        "User::\"carl\"",
        "--action",
        "invoice.read",
        "--resource",
        "Workspace::\"ws1\"",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("decision: Allow"), "{text}");
    assert!(
        text.contains("owners-and-accounting-manage-workspace-billing")
            && text.contains("billing.cedar:"),
        "{text}"
    );

    let out = run(&[
        "--principal",
        "User::\"adam\"",
        "--action",
        "member.invite",
        "--resource",
        "Organization::\"acme\"",
        "--context",
        "{\"role\": \"owner\"}",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("decision: Deny")
            && text.contains("only-owners-grant-owner")
            && text.contains("members.cedar:"),
        "{text}"
    );

    let out = run(&[
        "--principal",
        "User::\"adam\"",
        "--action",
        "no.such",
        "--resource",
        "Organization::\"acme\"",
    ]);
    assert!(!out.status.success());
}
