//! The README walkthrough (`examples/walkthrough.sh`), run with curl against
//! the real binary on a temp folder: the script checks every answer itself.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// Longest the script may run before it is killed.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn readme_walkthrough_script_passes_against_the_real_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let policies = tmp.path().join("policies");
    let schema = tmp.path().join("schema");
    let data = tmp.path().join("data");
    copy_dir(&repo_dir("policies"), &policies);
    // With the shipped policy tests, as `serve` from the repo root has them:
    // the demo policy must pass them to go live.
    copy_dir(&repo_dir("policies/tests"), &policies.join("tests"));
    copy_dir(&repo_dir("schema"), &schema);

    let server = Server::start(
        tmp.path(),
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--policies",
            policies.to_str().unwrap(),
            "--schema",
            schema.to_str().unwrap(),
        ],
        &[],
    );

    let mut script = Command::new("bash")
        .arg(repo_dir("examples/walkthrough.sh"))
        .current_dir(repo_dir("."))
        .env("TENANTGATE_URL", &server.base)
        .env("TENANTGATE_POLICIES", &policies)
        // The server has no SMTP URL: the script finds the invitation email
        // as an `.eml` file in the data folder's `mail/`.
        .env("TENANTGATE_DATA_DIR", &data)
        .env_remove("TENANTGATE_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run bash");

    // Drain both pipes on their own threads so a chatty script cannot block.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(script.stdout.take().unwrap()));
    let stderr = drain(Box::new(script.stderr.take().unwrap()));

    let started = Instant::now();
    let status = loop {
        if let Some(status) = script.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_TIMEOUT {
            let _ = script.kill();
            let _ = script.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().unwrap();
    let stderr = stderr.join().unwrap();
    let output = format!("--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");

    let status = status.unwrap_or_else(|| {
        panic!("the walkthrough did not finish within {SCRIPT_TIMEOUT:?}\n{output}")
    });
    assert!(
        status.success(),
        "the walkthrough failed ({status})\n{output}"
    );
    assert!(
        stdout.lines().any(|line| line == "walkthrough: ok"),
        "the walkthrough did not print `walkthrough: ok`\n{output}"
    );
    assert!(
        !policies.join("zz-demo.cedar").exists(),
        "the walkthrough left its demo policy behind"
    );
    drop(server);
}
