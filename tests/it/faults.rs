//! Faults around the sidecar: the policy folder deleted, renamed or swapped
//! by symlink (as Kubernetes ConfigMaps do), a schema change that breaks the
//! policies, a database on a full disk or locked by another process. The last good policy
//! set keeps serving; writes fail with 503 `unavailable` while decisions go on.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::support::*;

const WAIT: Duration = Duration::from_secs(15);

/// The watcher plus a fast re-check, as `serve` runs them (the re-check
/// catches a folder that was replaced, which a watcher can lose).
fn watch(
    t: &TestApp,
) -> (
    tenantgate::watch::PolicyWatcher,
    tokio::task::JoinHandle<()>,
) {
    let watcher = tenantgate::watch::watch(t.app.authz.clone(), Duration::from_millis(50)).unwrap();
    let poller =
        tenantgate::watch::spawn_poller(vec![t.app.authz.clone()], Duration::from_millis(200));
    (watcher, poller)
}

async fn reload_ok(t: &TestApp) -> bool {
    t.get("/v1/policies", None).await.body["last_reload"]["ok"] == true
}

const FREEZE: &str =
    "@id(\"freeze-billing\")\nforbid (principal, action == Action::\"billing.read\", resource);\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_renamed_policy_folder_keeps_the_last_good_set() {
    let t = TestApp::new();
    t.seed_acme().await;
    let (_watcher, poller) = watch(&t);
    let dir = t.policies_dir();
    let moved = dir.with_file_name("policies.moved");

    std::fs::rename(&dir, &moved).unwrap();
    assert!(
        eventually(WAIT, || async { !reload_ok(&t).await }).await,
        "the missing folder went unnoticed"
    );
    assert!(
        t.allowed("carl", "billing.read", org("acme"), json!({}))
            .await
    );
    let error = t.get("/v1/policies", None).await.body["last_reload"]["error"].clone();
    assert!(error.as_str().unwrap().contains("policies"), "{error}");

    // Back, with a change: it is picked up.
    std::fs::rename(&moved, &dir).unwrap();
    std::fs::write(dir.join("freeze.cedar"), FREEZE).unwrap();
    assert!(
        eventually(WAIT, || async {
            !t.allowed("carl", "billing.read", org("acme"), json!({}))
                .await
        })
        .await
    );

    // Deleted outright, then an empty folder: still the last good set.
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(eventually(WAIT, || async { !reload_ok(&t).await }).await);
    std::fs::create_dir(&dir).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!reload_ok(&t).await);
    assert!(
        !t.allowed("carl", "billing.read", org("acme"), json!({}))
            .await,
        "the last good set must keep serving"
    );
    assert!(
        t.allowed("adam", "org.update", org("acme"), json!({}))
            .await
    );
    poller.abort();
}

/// Lays out `files` the way the kubelet mounts a ConfigMap: a timestamped
/// folder, `..data` pointing at it, and each file a link through `..data`.
fn configmap_version(dir: &Path, version: &str, files: &[(String, String)]) {
    let stamped = dir.join(format!("..{version}"));
    std::fs::create_dir(&stamped).unwrap();
    for (name, text) in files {
        std::fs::write(stamped.join(name), text).unwrap();
    }
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..{version}"), &tmp).unwrap();
    // The atomic swap: rename over the old link.
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    for (name, _) in files {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{name}"), &link).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_style_symlink_swap_reloads() {
    let t = TestApp::new();
    t.seed_acme().await;
    let dir = t.policies_dir();
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_str().unwrap().to_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.push(("freeze.cedar".into(), "// nothing yet\n".into()));
    for (name, _) in &files {
        let _ = std::fs::remove_file(dir.join(name));
    }
    configmap_version(&dir, "2026_11_22_01", &files);
    t.app.authz.reload().unwrap();
    let (_watcher, poller) = watch(&t);
    assert!(
        t.allowed("carl", "billing.read", org("acme"), json!({}))
            .await
    );

    // A new version lands: one symlink swap, every file changes at once.
    let last = files.len() - 1;
    files[last].1 = FREEZE.into();
    configmap_version(&dir, "2026_11_22_02", &files);
    assert!(
        eventually(WAIT, || async {
            !t.allowed("carl", "billing.read", org("acme"), json!({}))
                .await
        })
        .await,
        "the swapped version never took effect"
    );
    // A broken version is rejected whole; the good one keeps serving.
    files[last].1 = "permit (principal, action, resource".into();
    configmap_version(&dir, "2026_11_22_03", &files);
    assert!(eventually(WAIT, || async { !reload_ok(&t).await }).await);
    assert!(
        !t.allowed("carl", "billing.read", org("acme"), json!({}))
            .await
    );
    assert!(
        t.allowed("adam", "org.update", org("acme"), json!({}))
            .await
    );
    poller.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_change_that_breaks_the_policies_is_rejected_whole() {
    let t = TestApp::new();
    t.seed_acme().await;
    let (_watcher, poller) = watch(&t);
    let revision = t.get("/v1/policies", None).await.body["revision"].clone();
    let schema = t.app.settings.schema.join("tenantgate.cedarschema");
    let text = std::fs::read_to_string(&schema).unwrap();
    // Organizations lose their `accounting` group, which billing policies use.
    let broken = text.replace("  accounting: Role,\n", "");
    assert_ne!(broken, text);
    std::fs::write(&schema, broken).unwrap();
    assert!(
        eventually(WAIT, || async { !reload_ok(&t).await }).await,
        "the broken schema went unnoticed"
    );
    let info = t.get("/v1/policies", None).await.body;
    assert_eq!(info["revision"], revision);
    assert!(
        info["last_reload"]["error"]
            .as_str()
            .unwrap()
            .contains("accounting"),
        "{info}"
    );
    assert!(
        t.allowed("carl", "billing.read", org("acme"), json!({}))
            .await
    );
    std::fs::write(&schema, text).unwrap();
    assert!(eventually(WAIT, || async { reload_ok(&t).await }).await);
    poller.abort();
}

/// A small tmpfs of our own, so the disk can really fill up or turn
/// read-only. Needs the right to mount (root in a container usually has it).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Self { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

async fn write_status(server: &Server, n: usize) -> u16 {
    client()
        .post(server.url("/v1/orgs"))
        .json(&json!({"id": format!("o{n}"), "name": "x".repeat(150), "owner": {"id": format!("u{n}"), "email": "u@example.com"}}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn decision_allowed(server: &Server) -> bool {
    let resp = client()
        .post(server.url("/v1/is_authorized"))
        .json(&json!({"principal": "User::\"u0\"", "action": "Action::\"org.update\"", "resource": "Organization::\"o0\""}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<serde_json::Value>().await.unwrap()["decision"] == "Allow"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_or_a_held_lock_fails_writes_with_503_and_decisions_go_on() {
    let Some(fs) = Tmpfs::mount("4m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs the right to mount)");
        return;
    };
    let work = workdir();
    let data = fs.dir.path().join("data");
    let server = Server::start(work.path(), &["--data-dir", data.to_str().unwrap()], &[]);
    assert_eq!(write_status(&server, 0).await, 201);
    assert!(decision_allowed(&server).await);

    // Fill the disk.
    let filler = fs.dir.path().join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", filler.display()))
        .status();
    let mut refused = 0;
    for n in 1..200 {
        match write_status(&server, n).await {
            201 => {}
            503 => {
                refused += 1;
                break;
            }
            other => panic!("a write on a full disk answered {other}"),
        }
    }
    assert_eq!(refused, 1, "writes never failed on a full disk");
    assert!(
        decision_allowed(&server).await,
        "decisions must go on from memory"
    );
    std::fs::remove_file(&filler).unwrap();
    assert!(
        eventually(WAIT, || async { write_status(&server, 1000).await == 201 }).await,
        "writes did not recover"
    );

    // Another process holds the database's write lock past the busy
    // timeout (as a stuck backup or a migration tool would).
    let db = rusqlite::Connection::open(data.join("tenantgate.sqlite")).unwrap();
    db.execute_batch("BEGIN EXCLUSIVE").unwrap();
    assert_eq!(write_status(&server, 2000).await, 503);
    assert!(decision_allowed(&server).await);
    let health = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    db.execute_batch("ROLLBACK").unwrap();
    drop(db);
    assert!(eventually(WAIT, || async { write_status(&server, 3000).await == 201 }).await);
    drop(server);
}
