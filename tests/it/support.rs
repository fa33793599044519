//! Shared test helpers: a `TestApp` on a temp folder (its own database and
//! copies of the policy and schema folders, so tests can edit them), driven
//! in-process through the router, plus a real-binary launcher.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tempfile::TempDir;
use tower::ServiceExt;

use tenantgate::app::App;
use tenantgate::config::Settings;

pub fn repo_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Copies every file of `from` into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// Runs the real binary in `cwd` with the folder settings of the
/// environment removed, so only `args` and `cwd` decide.
pub fn tenantgate_cli(cwd: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tenantgate"))
        .args(args)
        .current_dir(cwd)
        .env_remove("TENANTGATE_CONFIG")
        .env_remove("TENANTGATE_POLICIES")
        .env_remove("TENANTGATE_SCHEMA")
        .env_remove("TENANTGATE_DATA_DIR")
        .output()
        .unwrap()
}

pub fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard output parsed as one JSON value.
pub fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout_of(out)))
}

/// A temp folder holding copies of the repo's policies/ and schema/, as a
/// working directory for the real binary.
pub fn workdir() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo_dir("policies"), &dir.path().join("policies"));
    copy_dir(&repo_dir("schema"), &dir.path().join("schema"));
    dir
}

/// `workdir` plus the example host's Document schema and policies and the
/// notes example's forward-auth routes.
pub fn notes_workdir() -> TempDir {
    let dir = workdir();
    let host = repo_dir("examples/host");
    let copy = |from: PathBuf, to: PathBuf| {
        std::fs::copy(from, to).unwrap();
    };
    copy(
        host.join("host.cedarschema"),
        dir.path().join("schema/host.cedarschema"),
    );
    copy(
        host.join("documents.cedar"),
        dir.path().join("policies/documents.cedar"),
    );
    copy(
        repo_dir("examples/notes/routes.yaml"),
        dir.path().join("policies/routes.yaml"),
    );
    dir
}

/// The answer to one call.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: axum::http::HeaderMap,
}

impl Resp {
    /// The problem+json `code`, for error answers.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer: {:#}",
            self.body
        );
        self
    }

    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer: {:#}",
            self.body
        );
        assert_eq!(self.code(), code, "unexpected answer: {:#}", self.body);
        assert_eq!(
            self.headers["content-type"], "application/problem+json",
            "errors are problem+json"
        );
        self
    }
}

type SettingsEdit = Box<dyn FnOnce(&mut Settings)>;

#[derive(Default)]
pub struct Builder {
    host_resources: bool,
    policy_tests: bool,
    background: bool,
    routes: Option<String>,
    schema_files: Vec<(String, String)>,
    settings: Option<SettingsEdit>,
}

impl Builder {
    /// Adds the example host schema and policies (Document in Workspace).
    pub fn with_host_resources(mut self) -> Self {
        self.host_resources = true;
        self
    }

    /// Copies the shipped policy tests (`policies/tests`) too, so every
    /// reload must pass them.
    pub fn with_policy_tests(mut self) -> Self {
        self.policy_tests = true;
        self
    }

    /// Runs the mail sender and expiry sweep (fast retries, fast polling).
    pub fn with_background(mut self) -> Self {
        self.background = true;
        self
    }

    /// Writes `text` as the forward-auth routes file (`policies/routes.yaml`).
    pub fn with_routes(mut self, text: &str) -> Self {
        self.routes = Some(text.to_owned());
        self
    }

    /// Adds a schema file `name` with `text` beside the shipped schema.
    pub fn with_schema_file(mut self, name: &str, text: &str) -> Self {
        self.schema_files.push((name.to_owned(), text.to_owned()));
        self
    }

    pub fn with_settings(mut self, f: impl FnOnce(&mut Settings) + 'static) -> Self {
        self.settings = Some(Box::new(f));
        self
    }

    pub fn build(self) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let policies = dir.path().join("policies");
        let schema = dir.path().join("schema");
        copy_dir(&repo_dir("policies"), &policies);
        copy_dir(&repo_dir("schema"), &schema);
        if self.policy_tests {
            copy_dir(&repo_dir("policies/tests"), &policies.join("tests"));
        }
        if self.host_resources {
            let host = repo_dir("examples/host");
            std::fs::copy(
                host.join("host.cedarschema"),
                schema.join("host.cedarschema"),
            )
            .unwrap();
            std::fs::copy(
                host.join("documents.cedar"),
                policies.join("documents.cedar"),
            )
            .unwrap();
        }
        for (name, text) in &self.schema_files {
            std::fs::write(schema.join(name), text).unwrap();
        }
        if let Some(text) = &self.routes {
            std::fs::write(policies.join("routes.yaml"), text).unwrap();
        }
        let mut settings = Settings {
            data_dir: dir.path().join("data"),
            policies,
            schema,
            listen: "127.0.0.1:0".parse().unwrap(),
            mail_retry_base_ms: 100,
            mail_retry_max_ms: 500,
            mail_poll_ms: 50,
            ..Settings::default()
        };
        let database = PgDatabase::from_env().map(|(database, url)| {
            settings.database_url = Some(url);
            database
        });
        if let Some(f) = self.settings {
            f(&mut settings);
        }
        let app = App::open(settings).unwrap();
        // Dropping the background stops it.
        let tasks = self.background.then(|| app.spawn_background());
        TestApp {
            dir,
            app,
            tasks,
            _database: database,
        }
    }
}

/// A sidecar on a temp folder, driven in-process.
pub struct TestApp {
    pub dir: TempDir,
    pub app: Arc<App>,
    tasks: Option<tenantgate::app::Background>,
    /// Dropped last: the app's connections go first.
    _database: Option<PgDatabase>,
}

/// With `TENANTGATE_IT_POSTGRES` set to a server URL, every in-process
/// `TestApp` keeps its data in a fresh PostgreSQL database of that server
/// (dropped afterwards), so the whole suite checks that both backends give
/// the same answers: `TENANTGATE_IT_POSTGRES=postgres://postgres@127.0.0.1:5432/test cargo test --test it`.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

/// Runs `work` on a thread of its own: the PostgreSQL client blocks, which
/// it must not do on an async runtime thread.
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(work).join().unwrap())
}

impl PgDatabase {
    fn from_env() -> Option<(Self, String)> {
        off_runtime(Self::create)
    }

    fn create() -> Option<(Self, String)> {
        let admin_url = std::env::var("TENANTGATE_IT_POSTGRES").ok()?;
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("TENANTGATE_IT_POSTGRES={admin_url}: {e}"));
        let name = format!("tg_it_{:016x}", rand::random::<u64>());
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}?sslmode=disable");
        Some((Self { admin_url, name }, url))
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        off_runtime(|| self.drop_database());
    }
}

impl PgDatabase {
    fn drop_database(&self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

impl TestApp {
    pub fn new() -> Self {
        Builder::default().build()
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    pub fn policies_dir(&self) -> PathBuf {
        self.app.settings.policies.clone()
    }

    /// One call. `actor` goes in `X-Actor-Id`; `key` in `Authorization`.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        actor: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(actor) = actor {
            req = req.header("x-actor-id", actor);
        }
        if let Some(key) = key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        let req = match body {
            Some(body) => req
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&body).unwrap())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.send(req).await
    }

    /// Sends a hand-made request.
    pub async fn send(&self, req: Request<Body>) -> Resp {
        let router = tenantgate::http::router(self.app.clone());
        let resp = router.oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, actor: Option<&str>) -> Resp {
        self.request(Method::GET, path, actor, None, None).await
    }

    pub async fn post(&self, path: &str, actor: Option<&str>, body: Value) -> Resp {
        self.request(Method::POST, path, actor, None, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, actor: Option<&str>, body: Value) -> Resp {
        self.request(Method::PUT, path, actor, None, Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, actor: Option<&str>, body: Value) -> Resp {
        self.request(Method::PATCH, path, actor, None, Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, actor: Option<&str>) -> Resp {
        self.request(Method::DELETE, path, actor, None, None).await
    }

    /// Creates `org` owned by `owner` (a system call).
    pub async fn create_org(&self, org: &str, owner: &str) {
        self.post(
            "/v1/orgs",
            None,
            json!({"id": org, "name": org, "owner": {"id": owner, "email": format!("{owner}@example.com")}}),
        )
        .await
        .expect(201);
    }

    /// Adds `user` to `org` with `role` (a system call).
    pub async fn add_member(&self, org: &str, user: &str, role: &str) {
        self.put(
            &format!("/v1/orgs/{org}/members/{user}"),
            None,
            json!({"email": format!("{user}@example.com"), "role": role}),
        )
        .await
        .expect(201);
    }

    /// Creates workspace `ws` in `org` (a system call).
    pub async fn create_workspace(&self, org: &str, ws: &str) {
        self.post(
            &format!("/v1/orgs/{org}/workspaces"),
            None,
            json!({"id": ws, "name": ws}),
        )
        .await
        .expect(201);
    }

    /// Gives `user` `role` in workspace `ws` of `org` (a system call).
    pub async fn set_workspace_member(&self, org: &str, ws: &str, user: &str, role: &str) {
        self.put(
            &format!("/v1/orgs/{org}/workspaces/{ws}/members/{user}"),
            None,
            json!({"role": role}),
        )
        .await
        .expect(200);
    }

    /// The org "acme" owned by `olive`, with `adam` admin, `carl`
    /// accounting, `mia` member, `nick` member of no workspace, workspaces
    /// `ws1` (mia member, wanda workspace-admin) and `ws2` (nobody).
    pub async fn seed_acme(&self) {
        self.create_org("acme", "olive").await;
        for (user, role) in [
            ("adam", "admin"),
            ("carl", "accounting"),
            ("mia", "member"),
            ("nick", "member"),
            ("wanda", "member"),
        ] {
            self.add_member("acme", user, role).await;
        }
        self.create_workspace("acme", "ws1").await;
        self.create_workspace("acme", "ws2").await;
        self.set_workspace_member("acme", "ws1", "mia", "member")
            .await;
        self.set_workspace_member("acme", "ws1", "wanda", "admin")
            .await;
    }

    /// Asks one decision; returns the whole answer.
    pub async fn decide(&self, user: &str, action: &str, resource: Value, context: Value) -> Resp {
        self.post(
            "/v1/is_authorized",
            None,
            json!({
                "principal": {"type": "User", "id": user},
                "action": {"type": "Action", "id": action},
                "resource": resource,
                "context": context,
            }),
        )
        .await
    }

    /// Whether `user` may `action` on `resource`.
    pub async fn allowed(&self, user: &str, action: &str, resource: Value, context: Value) -> bool {
        let resp = self
            .decide(user, action, resource, context)
            .await
            .expect(200);
        match resp.body["decision"].as_str() {
            Some("Allow") => true,
            Some("Deny") => false,
            other => panic!("no decision: {other:?} in {:#}", resp.body),
        }
    }
}

pub fn org(id: &str) -> Value {
    json!({"type": "Organization", "id": id})
}

pub fn workspace(id: &str) -> Value {
    json!({"type": "Workspace", "id": id})
}

/// Polls `check` every 50 ms for up to `timeout`; true once it holds.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The real binary, started on a free loopback port; killed on drop.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
    pub dir: PathBuf,
}

impl Server {
    /// Starts `tenantgate serve` with `args` (plus `--listen 127.0.0.1:0`)
    /// in `cwd`, waiting (at most 30 s) for its "listening" line.
    pub fn start(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::start_logging(cwd, args, envs, None)
    }

    /// Like `start`, with the log (stderr) written to `log`.
    pub fn start_logging(
        cwd: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        log: Option<&Path>,
    ) -> Self {
        use std::io::{BufRead, BufReader};
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tenantgate"));
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(cwd)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(match log {
                Some(path) => std::process::Stdio::from(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .unwrap(),
                ),
                None => std::process::Stdio::inherit(),
            });
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("tenantgate listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server did not report its address in 30 s");
        Self {
            child,
            base,
            dir: cwd.to_owned(),
        }
    }

    /// Makes each `(method, path, body)` call as a system call with the
    /// admin key `key`, asserting that it succeeds (seeding a real server).
    pub async fn system_calls(&self, key: &str, calls: Vec<(&str, &str, Value)>) {
        let http = client();
        for (method, path, body) in calls {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let resp = http
                .request(method, self.url(path))
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            assert!(
                status.is_success(),
                "{path}: {}",
                resp.text().await.unwrap()
            );
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits (at most `timeout`) for the process to exit; panics if it does not.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reqwest client with bounded timeouts, for loopback tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}
