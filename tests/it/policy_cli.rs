//! `tenantgate policy validate|fmt`: the real binary on copies of the
//! repo's policy and schema folders.

use std::path::Path;

use crate::support::*;

/// The `//` lines of a file, trimmed.
fn comment_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.find("//").map(|i| l[i..].trim_end().to_owned()))
        .collect()
}

const BROKEN: &str = "// Nothing to add.\npermit (principal, action, resource)\nwhen { 1 + };\n";

const UNKNOWN_ATTRIBUTE: &str = "// Reads an attribute the schema does not have.\n\
@id(\"reads-nope\")\n\
permit (principal, action == Action::\"org.read\", resource is Organization)\n\
when { principal in resource.nope };\n";

const MESSY: &str = "// Auditors read the audit log.\n\
@id(\"auditors-read-audit\")\n\
permit(principal,action==Action::\"audit.read\",\n\
         resource is Organization)\n\
    when {   principal in resource.owners   }; // owners audit\n\
\n\
// Members see the organization.\n\
@id(\"members-see-org\")\n\
permit(principal, action == Action::\"org.read\", resource is Organization) when {principal in resource.members};\n";

#[test]
fn validate_passes_on_the_repo_set_with_the_default_folders() {
    let dir = workdir();
    let out = tenantgate_cli(dir.path(), &["policy", "validate"]);
    let text = stdout_of(&out);
    assert!(out.status.success(), "{text}");
    let summary = text.lines().last().unwrap();
    assert!(
        summary.starts_with("ok: ") && summary.contains(" policies in 5 files, 0 warnings"),
        "{text}"
    );

    let out = tenantgate_cli(dir.path(), &["policy", "validate", "--format", "json"]);
    assert!(out.status.success());
    let report = json_of(&out);
    assert_eq!(report["valid"], true);
    assert_eq!(report["errors"], serde_json::json!([]));
    assert!(report["policies"].as_u64().unwrap() >= 20, "{report}");
}

#[test]
fn a_syntax_error_is_shown_with_its_line_and_a_caret() {
    let dir = workdir();
    std::fs::rename(dir.path().join("policies"), dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/broken.cedar"), BROKEN).unwrap();

    let out = tenantgate_cli(dir.path(), &["policy", "validate", "--policies", "rules"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_of(&out);
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("broken.cedar:3:12: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(lines[at + 1], "    when { 1 + };", "{text}");
    assert_eq!(lines[at + 2], format!("    {}^", " ".repeat(11)), "{text}");
    assert_eq!(lines.last(), Some(&"1 error"), "{text}");

    let out = tenantgate_cli(
        dir.path(),
        &[
            "policy",
            "validate",
            "--policies",
            "rules",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let report = json_of(&out);
    assert_eq!(report["valid"], false);
    let error = &report["errors"][0];
    assert!(error["file"].as_str().unwrap().ends_with("broken.cedar"));
    assert_eq!(error["line"], 3);
    assert_eq!(error["column"], 12);
    assert_eq!(error["source_line"], "when { 1 + };");
}

#[test]
fn a_policy_the_schema_rejects_is_named_with_its_file() {
    let dir = workdir();
    std::fs::write(dir.path().join("policies/nope.cedar"), UNKNOWN_ATTRIBUTE).unwrap();

    let out = tenantgate_cli(dir.path(), &["policy", "validate"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_of(&out);
    assert!(
        text.contains("nope.cedar:4:") && text.contains("policy `reads-nope`"),
        "{text}"
    );
    assert!(
        text.contains("    when { principal in resource.nope };"),
        "{text}"
    );

    let report = json_of(&tenantgate_cli(
        dir.path(),
        &["policy", "validate", "--format", "json"],
    ));
    assert_eq!(report["valid"], false);
    let error = &report["errors"][0];
    assert_eq!(error["policy"], "reads-nope");
    assert!(error["file"].as_str().unwrap().ends_with("nope.cedar"));
    assert_eq!(error["line"], 4);
}

#[test]
fn fmt_check_names_unformatted_files_and_fmt_rewrites_them() {
    let dir = workdir();
    let policies = dir.path().join("policies");
    // Bring the repo's files to the canonical form first, keeping their comments.
    let before: Vec<_> = std::fs::read_dir(&policies)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (comment_lines(&p), p))
        .collect();
    let out = tenantgate_cli(dir.path(), &["policy", "fmt"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (comments, path) in &before {
        assert_eq!(&comment_lines(path), comments, "{}", path.display());
    }

    let messy = policies.join("messy.cedar");
    std::fs::write(&messy, MESSY).unwrap();
    let out = tenantgate_cli(dir.path(), &["policy", "fmt", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_of(&out).trim(), "./policies/messy.cedar");
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        MESSY,
        "--check writes nothing"
    );

    let out = tenantgate_cli(dir.path(), &["policy", "fmt"]);
    assert!(out.status.success());
    assert_eq!(stdout_of(&out).trim(), "formatted ./policies/messy.cedar");
    let formatted = std::fs::read_to_string(&messy).unwrap();
    assert_ne!(formatted, MESSY);
    assert!(
        formatted.contains("\npermit (\n  principal,\n"),
        "{formatted}"
    );
    assert_eq!(
        comment_lines(&messy),
        [
            "// Auditors read the audit log.",
            "// owners audit",
            "// Members see the organization."
        ],
        "{formatted}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&policies)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

    let out = tenantgate_cli(dir.path(), &["policy", "fmt", "--check"]);
    assert!(out.status.success(), "{}", stdout_of(&out));
    assert_eq!(stdout_of(&out), "");
    // Formatting changed no policy.
    assert!(tenantgate_cli(dir.path(), &["policy", "validate"])
        .status
        .success());
}

#[test]
fn fmt_reports_files_it_cannot_parse() {
    let dir = workdir();
    std::fs::write(dir.path().join("policies/broken.cedar"), BROKEN).unwrap();
    let out = tenantgate_cli(dir.path(), &["policy", "fmt", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.cedar:3:12: "), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("policies/broken.cedar")).unwrap(),
        BROKEN
    );
}
