//! The invite scenario, run on both backends (see `compare`); its own file
//! to keep `invites.rs` to the port itself.

use std::sync::Arc;

use super::super::compare_steps::{run_both, show, Dbs, Step};
use super::*;
use crate::model::OrgRole;

const PAST: &str = "2000-01-01T00:00:00.000000Z";
const FUTURE: &str = "2999-01-01T00:00:00.000000Z";
const LATER: &str = "2999-06-01T00:00:00.000000Z";

fn member() -> RoleKey {
    OrgRole::Member.into()
}

fn list(db: &Dbs<'_>, out: &mut Vec<String>, org: &str, filter: InviteFilter<'_>) {
    // Every page of 2, then one page of all, and a page of none.
    let mut before = None;
    loop {
        let page = db.inv.list_invites(org, &filter, before, 2);
        let next = match &page {
            Ok((rows, true)) => rows.last().map(|(seq, _)| *seq),
            _ => None,
        };
        out.push(format!("page {filter:?} before {before:?}: {}", show(page)));
        if next.is_none() {
            break;
        }
        before = next;
    }
    out.push(show(db.inv.list_invites(org, &filter, None, 100)));
    out.push(show(db.inv.list_invites(org, &filter, None, 0)));
}

fn setup(db: &Dbs<'_>, out: &mut Vec<String>) {
    out.push(format!(
        "{} {}",
        db.fx.add_org("o1", "One"),
        db.fx.add_org("o2", "Two")
    ));
    db.fx.add_member("o1", "u1", "u1@x.test");
    db.fx.add_member("o1", "u2", "shared@x.test");
    db.fx.add_member("o1", "u3", "shared@x.test");
    let reviewer = RoleKey::Custom(Arc::from("reviewer"));
    for (id, org, email, role, by, ttl, expires) in [
        ("i1", "o1", "a@x.test", member(), "u1", 7, FUTURE),
        ("i2", "o1", "b@x.test", OrgRole::Admin.into(), "u1", 3, PAST),
        ("i3", "o1", "c@x.test", reviewer, "u2", 1, FUTURE),
        ("i4", "o1", "d@x.test", member(), "system", 30, FUTURE),
        ("i5", "o2", "a@x.test", member(), "u1", 7, FUTURE),
    ] {
        out.push(show(
            db.inv
                .insert_invite(id, org, email, &role, by, ttl, expires),
        ));
    }
}

fn mail_and_tokens(db: &Dbs<'_>, out: &mut Vec<String>) {
    let first = db.out.enqueue_invite_mail("i1", "a@x.test").unwrap();
    let latest = db.out.enqueue_invite_mail("i1", "a@x.test").unwrap();
    db.out
        .mark_mail_failed(latest, "refused", Some(FUTURE))
        .unwrap();
    let sent = db.out.enqueue_invite_mail("i4", "d@x.test").unwrap();
    db.out.mark_mail_sent(sent).unwrap();
    out.push(format!("{first} {latest} {sent}"));
    out.push(show(db.inv.insert_invite_token("h1", "i1", "link", None)));
    out.push(show(db.inv.insert_invite_token(
        "h2",
        "i1",
        "mail",
        Some(latest),
    )));
    out.push(show(db.inv.insert_invite_token("h4", "i4", "link", None)));
}

fn reads(db: &Dbs<'_>, out: &mut Vec<String>) {
    out.push(show(db.inv.get_invite("o1", "i1")));
    out.push(show(db.inv.get_invite("o1", "i2")));
    out.push(show(db.inv.get_invite("o2", "i1")));
    out.push(show(db.inv.get_invite("o1", "nope")));
    list(db, out, "o1", InviteFilter::default());
    for status in InviteStatus::ALL {
        list(
            db,
            out,
            "o1",
            InviteFilter {
                status: Some(status),
                email: None,
            },
        );
    }
    list(
        db,
        out,
        "o1",
        InviteFilter {
            status: None,
            email: Some("a@x.test"),
        },
    );
    list(
        db,
        out,
        "o1",
        InviteFilter {
            status: Some(InviteStatus::Pending),
            email: Some("b@x.test"),
        },
    );
    list(db, out, "ghost", InviteFilter::default());
    out.push(show(db.inv.pending_invites_sent_by("o1", "u1")));
    out.push(show(db.inv.pending_invites_sent_by("o1", "system")));
    out.push(show(db.inv.pending_invites_sent_by("o2", "u2")));
    for hash in ["h1", "h2", "h4", "nope"] {
        out.push(show(db.inv.invite_by_token(hash)));
    }
    for (org, email) in [
        ("o1", "a@x.test"),
        ("o1", "b@x.test"),
        ("o2", "a@x.test"),
        ("o2", "z@x.test"),
    ] {
        out.push(show(db.inv.has_pending_invite(org, email)));
    }
    for (org, email) in [
        ("o1", "shared@x.test"),
        ("o1", "u1@x.test"),
        ("o1", "a@x.test"),
        ("o2", "u1@x.test"),
    ] {
        out.push(show(db.inv.member_has_email(org, email)));
    }
    out.push(show(db.inv.invite_ttl_days("i4")));
}

fn changes(db: &Dbs<'_>, out: &mut Vec<String>) {
    out.push(show(db.inv.expire_stale_invites_for("o1", "b@x.test")));
    out.push(show(db.inv.expire_stale_invites_for("o1", "b@x.test")));
    out.push(show(db.inv.expire_stale_invites_for("o1", "a@x.test")));
    out.push(show(db.inv.set_invite_role("i1", &OrgRole::Admin.into())));
    out.push(show(db.inv.restart_invite("i4", LATER)));
    out.push(show(db.inv.end_invite(
        "i4",
        InviteStatus::Accepted,
        Some("u9"),
    )));
    out.push(show(db.inv.end_invite("i4", InviteStatus::Declined, None)));
    out.push(show(db.inv.end_invite("i3", InviteStatus::Revoked, None)));
    out.push(show(db.inv.end_invite("i2", InviteStatus::Revoked, None)));
    out.push(show(db.inv.end_invite("nope", InviteStatus::Revoked, None)));
    out.push(show(db.inv.delete_invite_tokens("i1")));
    out.push(show(db.inv.delete_invite_tokens("nope")));
    out.push(show(db.inv.invite_by_token("h1")));
    out.push(show(db.inv.invite_by_token("h4")));
    list(db, out, "o1", InviteFilter::default());
    for status in InviteStatus::ALL {
        let filter = InviteFilter {
            status: Some(status),
            email: None,
        };
        list(db, out, "o1", filter);
    }
}

fn expiry(db: &Dbs<'_>, out: &mut Vec<String>) {
    // Expiry, id and insertion order agree, so whichever order a
    // backend takes a short batch in, it takes the same invites.
    for (id, org, expires) in [
        ("x1", "o1", "2001-01-01T00:00:00.000000Z"),
        ("x2", "o2", "2002-01-01T00:00:00.000000Z"),
        ("x3", "o1", "2003-01-01T00:00:00.000000Z"),
    ] {
        out.push(show(db.inv.insert_invite(
            id,
            org,
            &format!("{id}@x.test"),
            &member(),
            "u1",
            1,
            expires,
        )));
    }
    for limit in [2, 10, 10, 0] {
        let mut batch = db.inv.expire_due_invites(limit);
        if let Ok(rows) = &mut batch {
            rows.sort();
        }
        out.push(show(batch));
    }
    list(db, out, "o2", InviteFilter::default());
}

fn sends_and_retired(db: &Dbs<'_>, out: &mut Vec<String>) {
    for (org, action) in [
        ("o1", "invite.create"),
        ("o1", "invite.create"),
        ("o1", "invite.resend"),
        ("o1", "org.rename"),
        ("o2", "invite.create"),
        ("ghost", "invite.create"),
    ] {
        db.fx.add_audit(org, action);
    }
    for (org, since) in [("o1", PAST), ("o1", FUTURE), ("o2", PAST), ("ghost", PAST)] {
        out.push(show(db.inv.count_invite_sends_since(org, since)));
    }
    // A deleted organization counts nothing and keeps no invites; its
    // id is retired.
    out.push(format!(
        "{} {}",
        db.fx.delete_org("o2"),
        db.fx.add_org("o2", "Again")
    ));
    out.push(show(db.inv.count_invite_sends_since("o2", PAST)));
    out.push(show(db.inv.get_invite("o2", "i5")));
    out.push(show(db.inv.has_pending_invite("o2", "a@x.test")));
}

// The failing steps come last, one failure each (see `run_both`): a
// failed insert takes a PostgreSQL sequence value, SQLite takes none.
fn duplicate_id(db: &Dbs<'_>, out: &mut Vec<String>) {
    out.push(show(db.inv.insert_invite(
        "i1",
        "o1",
        "new@x.test",
        &member(),
        "u1",
        1,
        FUTURE,
    )));
}

fn second_pending(db: &Dbs<'_>, out: &mut Vec<String>) {
    out.push(show(db.inv.insert_invite(
        "i9",
        "o1",
        "a@x.test",
        &member(),
        "u1",
        1,
        FUTURE,
    )));
}

fn retired_org(db: &Dbs<'_>, out: &mut Vec<String>) {
    out.push(show(db.inv.insert_invite(
        "i9",
        "o2",
        "a@x.test",
        &member(),
        "u1",
        1,
        FUTURE,
    )));
}

fn duplicate_token(db: &Dbs<'_>, out: &mut Vec<String>) {
    out.push(show(db.inv.insert_invite_token("h4", "i4", "link", None)));
}

fn token_of_no_invite(db: &Dbs<'_>, out: &mut Vec<String>) {
    out.push(show(db.inv.insert_invite_token("h9", "nope", "link", None)));
}

fn unknown_ttl(db: &Dbs<'_>, out: &mut Vec<String>) {
    // An error of another variant on each (SQLite's driver says "no rows"),
    // compared by what callers act on: neither is a constraint nor
    // unavailable.
    let err = db.inv.invite_ttl_days("nope").err();
    out.push(format!(
        "{:?}",
        err.map(|e| (e.is_constraint(), e.is_unavailable()))
    ));
}

fn corrupt_role(db: &Dbs<'_>, out: &mut Vec<String>) {
    let bad = RoleKey::Custom(Arc::from("Not A Key"));
    out.push(show(db.inv.set_invite_role("i1", &bad)));
    out.push(show(db.inv.get_invite("o1", "i1")));
    out.push(show(db.inv.list_invites(
        "o1",
        &InviteFilter::default(),
        None,
        10,
    )));
    out.push(show(db.inv.pending_invites_sent_by("o1", "u1")));
    out.push(show(db.inv.invite_by_token("h2")));
}

#[test]
fn invites_answer_as_on_sqlite() {
    let steps: &[Step] = &[
        setup,
        mail_and_tokens,
        reads,
        changes,
        expiry,
        sends_and_retired,
        duplicate_id,
        second_pending,
        retired_org,
        duplicate_token,
        token_of_no_invite,
        unknown_ttl,
        corrupt_role,
    ];
    let Some(answers) = run_both("invites", steps) else {
        return;
    };
    let text = answers.join("\n");
    // Not vacuous: the scenario saw what it set out to see.
    for expected in [
        "Some((false, false))",
        "constraint",
        "corrupt: bad role",
        "accepted_by: None",
        "Expired",
        ", true)",
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }
    assert!(
        answers.iter().filter(|l| *l == "constraint").count() >= 4,
        "{text}"
    );
}
