//! What every decision target shares: the shipped policies plus the example
//! host's, loaded once, and a small snapshot of memberships.

use std::path::Path;
use std::sync::OnceLock;

use tenantgate::authz::Authz;
use tenantgate::model::{OrgAccess, OrgRole, WorkspaceAccess, WorkspaceRole};
use tenantgate::snapshot::Snapshot;

pub struct Fixture {
    pub authz: Authz,
    pub snapshot: Snapshot,
}

/// The repo's policies and schema with the host example merged in, copied
/// to a temp folder once per process.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = std::env::temp_dir().join(format!("tenantgate-fuzz-{}", std::process::id()));
        let (policies, schema) = (dir.join("policies"), dir.join("schema"));
        for (from, to, ext) in [
            (repo.join("policies"), &policies, "cedar"),
            (repo.join("schema"), &schema, "cedarschema"),
            (repo.join("examples/host"), &policies, "cedar"),
            (repo.join("examples/host"), &schema, "cedarschema"),
        ] {
            std::fs::create_dir_all(to).unwrap();
            for entry in std::fs::read_dir(from).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == ext) {
                    std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
                }
            }
        }
        let authz = Authz::load(&policies, &schema).unwrap();
        let snapshot = Snapshot::build(
            vec![OrgAccess {
                org_id: "acme".into(),
                members: vec![
                    ("olive".into(), OrgRole::Owner.into()),
                    ("adam".into(), OrgRole::Admin.into()),
                    ("carl".into(), OrgRole::Accounting.into()),
                    ("mia".into(), OrgRole::Member.into()),
                ],
                workspaces: vec![WorkspaceAccess {
                    workspace_id: "ws1".into(),
                    members: vec![("mia".into(), WorkspaceRole::Admin)],
                }],
                ..OrgAccess::default()
            }],
            1,
        );
        Fixture { authz, snapshot }
    })
}
