//! A tiny typed client for the tenantgate sidecar: the calls a host
//! application makes, each one a method. Copy it into your app.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A call that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The sidecar refused: its problem+json `code` says why (`forbidden`,
    /// `invite_not_found`, …).
    #[error("tenantgate answered {status} `{code}`: {detail}")]
    Api {
        status: u16,
        code: String,
        detail: String,
    },
    #[error("cannot talk to tenantgate: {0}")]
    Transport(#[from] reqwest::Error),
}

/// A user of the host application, as the sidecar knows them.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Org {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workspace {
    pub id: String,
    pub org_id: String,
    pub name: String,
}

/// A new invite; `token` goes into the accept link the host sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invite {
    pub id: String,
    pub email: String,
    pub role: String,
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Membership {
    pub org_id: String,
    pub user_id: String,
    pub role: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub role: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Decision {
    pub decision: String,
    pub reasons: Vec<String>,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.decision == "Allow"
    }
}

#[derive(Debug, Deserialize)]
struct Problem {
    #[serde(default)]
    code: String,
    #[serde(default)]
    detail: String,
}

#[derive(Debug, Deserialize)]
struct Invites {
    invites: Vec<Invite>,
}

/// The sidecar at `base` (e.g. `http://127.0.0.1:8180`), with an API key
/// of the `manage` scope (none in development mode).
#[derive(Debug, Clone)]
pub struct TenantGate {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl TenantGate {
    pub fn new(base: &str, key: Option<String>) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            key,
        })
    }

    /// One call; `actor` is the end user the call is made for.
    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        actor: Option<&str>,
        body: Value,
    ) -> Result<T, Error> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(&body);
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        if let Some(actor) = actor {
            req = req.header("X-Actor-Id", actor);
        }
        let resp = req.send().await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp.json().await?);
        }
        let problem: Problem = resp.json().await.unwrap_or(Problem {
            code: String::new(),
            detail: String::new(),
        });
        Err(Error::Api {
            status: status.as_u16(),
            code: problem.code,
            detail: problem.detail,
        })
    }

    /// Creates an organization whose first owner is `owner`.
    pub async fn create_org(&self, id: &str, name: &str, owner: &User) -> Result<Org, Error> {
        let body = json!({"id": id, "name": name, "owner": owner});
        self.call(reqwest::Method::POST, "/v1/orgs", Some(&owner.id), body)
            .await
    }

    pub async fn create_workspace(
        &self,
        actor: &str,
        org: &str,
        id: &str,
        name: &str,
    ) -> Result<Workspace, Error> {
        let path = format!("/v1/orgs/{org}/workspaces");
        let body = json!({"id": id, "name": name});
        self.call(reqwest::Method::POST, &path, Some(actor), body)
            .await
    }

    /// Invites `email` with `role`; the host mails the link itself, so the
    /// sidecar sends nothing.
    pub async fn invite(
        &self,
        actor: &str,
        org: &str,
        email: &str,
        role: &str,
    ) -> Result<Invite, Error> {
        let path = format!("/v1/orgs/{org}/invites");
        let body = json!({"invites": [{"email": email, "role": role}], "send_email": false});
        let created: Invites = self
            .call(reqwest::Method::POST, &path, Some(actor), body)
            .await?;
        created.invites.into_iter().next().ok_or(Error::Api {
            status: 201,
            code: "internal".to_owned(),
            detail: "the answer holds no invite".to_owned(),
        })
    }

    /// The signed-in `user` accepts the invite of `token`.
    pub async fn accept(&self, token: &str, user: &User) -> Result<Membership, Error> {
        let body = json!({"token": token, "user": user});
        self.call(reqwest::Method::POST, "/v1/invites/accept", None, body)
            .await
    }

    pub async fn change_role(
        &self,
        actor: &str,
        org: &str,
        user: &str,
        role: &str,
    ) -> Result<Member, Error> {
        let path = format!("/v1/orgs/{org}/members/{user}");
        self.call(
            reqwest::Method::PATCH,
            &path,
            Some(actor),
            json!({"role": role}),
        )
        .await
    }

    /// May `user` do `action` on `resource` (`{"type", "id"}`)? `entities`
    /// describe the host's own resources (Cedar's JSON entity format).
    pub async fn is_authorized(
        &self,
        user: &str,
        action: &str,
        resource: Value,
        entities: Vec<Value>,
    ) -> Result<Decision, Error> {
        let body = json!({
            "principal": {"type": "User", "id": user},
            "action": {"type": "Action", "id": action},
            "resource": resource,
            "entities": entities,
        });
        self.call(reqwest::Method::POST, "/v1/is_authorized", None, body)
            .await
    }
}
