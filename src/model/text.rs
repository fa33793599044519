//! The text rules of the API: ids, emails and display names, and the one
//! reserved user id. Each rule is chosen so that two inputs the sidecar
//! treats as equal are the same text a person would read, and two texts a
//! person could not tell apart are never both accepted.

use unicode_normalization::{is_nfkc, UnicodeNormalization};

/// Longest id the API accepts (API.md: 1–128 characters).
pub const MAX_ID_LEN: usize = 128;
/// Longest organization or workspace name.
pub const MAX_NAME_LEN: usize = 200;
/// Longest email address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest local part of an email address (RFC 5321).
const MAX_LOCAL_LEN: usize = 64;

/// The name system calls (admin key, no actor) carry in the audit log and in
/// `invited_by`. No user may have this id, so a system call is never
/// mistaken for a user's.
pub const SYSTEM_ACTOR: &str = "system";

/// Whether `id` is a valid id: 1–128 characters of `[A-Za-z0-9._:@-]`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-'))
}

/// Whether `id` is the id reserved for system calls (exactly `system`).
pub fn is_reserved_user_id(id: &str) -> bool {
    id == SYSTEM_ACTOR
}

/// Whether `id` may name a user: a valid id other than `system`.
pub fn is_valid_user_id(id: &str) -> bool {
    is_valid_id(id) && !is_reserved_user_id(id)
}

/// Characters that change how text reads without showing themselves:
/// every format character (general category Cf: bidi embeddings,
/// overrides, isolates and marks, zero-width spaces and joiners, the word
/// joiner, the byte order mark, tags), every other default-ignorable code
/// point (variation selectors, Hangul fillers, the combining grapheme
/// joiner, …), and the line and paragraph separators.
const HIDDEN: [(u32, u32); 25] = [
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
];

/// Whether `c` is a control character or one of the hidden ones above.
pub fn is_hidden(c: char) -> bool {
    let code = u32::from(c);
    c.is_control()
        || HIDDEN
            .iter()
            .any(|&(first, last)| (first..=last).contains(&code))
}

/// Normalizes an email for storage and comparison. Returns `None` when it is
/// not a plausible address. The rules, so that distinct mailboxes never
/// compare equal:
///
/// - surrounding whitespace is trimmed;
/// - only the ASCII letters `A`–`Z` are lowercased (no Unicode case
///   mapping, which folds e.g. the Kelvin sign `K` into `k`);
/// - the address must be in Unicode NFKC form: compatibility characters
///   (fullwidth letters, the Kelvin sign, ligatures, non-breaking spaces)
///   and decomposed accents are refused rather than folded;
/// - no control, format or other invisible character, and no whitespace;
/// - the local part is 1–64 characters of ASCII letters, digits,
///   ``!#$%&'*+-/=?^_`{|}~`` and dots (not first, last or doubled), or
///   other (non-ASCII) letters;
/// - the domain is ASCII: at least two dot-separated labels of letters,
///   digits and hyphens (an internationalized domain in its `xn--` form).
pub fn normalize_email(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty()
        || trimmed.len() > MAX_EMAIL_LEN
        || trimmed.chars().any(|c| is_hidden(c) || c.is_whitespace())
        || !is_nfkc(trimmed)
    {
        return None;
    }
    let email = trimmed.to_ascii_lowercase();
    let (local, domain) = email.rsplit_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= MAX_LOCAL_LEN
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| {
            c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii()
        });
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    (local_ok && domain_ok).then_some(email)
}

/// Whether a display name is acceptable: 1–200 characters, not blank, no
/// control, format (bidi, zero-width) or other invisible character.
pub fn is_valid_name(name: &str) -> bool {
    let trimmed = name.trim();
    !trimmed.is_empty() && name.chars().count() <= MAX_NAME_LEN && !name.chars().any(is_hidden)
}

/// A name as it compares for lookalikes: NFKC, Unicode lowercase, NFKC
/// again. `Ｏｗｎｅｒ` (fullwidth) and `OWNER` both fold to `owner`.
pub fn fold_name(name: &str) -> String {
    let compat: String = name.trim().nfkc().collect();
    compat.to_lowercase().nfkc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_contract() {
        assert!(is_valid_id("acme"));
        assert!(is_valid_id("user@example.com:42_a-b.c"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("a#b"));
        assert!(!is_valid_id("a/b"));
        assert!(!is_valid_id(&"x".repeat(129)));
        assert!(is_valid_id(&"x".repeat(128)));
    }

    #[test]
    fn system_is_no_user_id() {
        assert!(is_valid_id("system"));
        assert!(!is_valid_user_id("system"));
        assert!(is_valid_user_id("System"));
        assert!(is_valid_user_id("system2"));
    }

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email("  Alice@Example.COM "),
            Some("alice@example.com".into())
        );
        assert_eq!(normalize_email("KATE@x.io"), Some("kate@x.io".into()));
        // Non-ASCII letters are kept as they are, never case-mapped.
        assert_eq!(normalize_email("Jürgen@x.io"), Some("jürgen@x.io".into()));
        assert_eq!(normalize_email("ÅSA@x.io"), Some("Åsa@x.io".into()));
        assert_eq!(
            normalize_email("a@xn--bcher-kva.example"),
            Some("a@xn--bcher-kva.example".into())
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "a..b@x.io",
            "a b@x.io",
            "\u{212A}ate@example.com",
            "ｋａｔｅ@example.com",
            "kate@ｅxample.com",
            "kate@bücher.example",
            "ka\u{200B}te@example.com",
            "ka\u{202E}te@example.com",
            "kate\u{00A0}x@example.com",
            "je\u{0301}@x.io",
            "ﬁle@x.io",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_refuse_hidden_characters() {
        assert!(is_valid_name("Acme Inc."));
        assert!(is_valid_name("Équipe 🚀"));
        assert!(is_valid_name("Ｏｗｎｅｒ"));
        for c in [
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{200E}',
            '\u{200F}',
            '\u{061C}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{2028}',
            '\u{FE0F}',
            '\u{3164}',
            '\u{E0041}',
            '\u{0007}',
        ] {
            assert!(!is_valid_name(&format!("Owner{c}")), "{:04X}", u32::from(c));
        }
        assert!(!is_valid_name("   "));
    }

    #[test]
    fn lookalikes_fold_together() {
        assert_eq!(fold_name("Ｏｗｎｅｒ"), "owner");
        assert_eq!(fold_name("ADMIN"), "admin");
        assert_eq!(fold_name("\u{212A}"), "k");
        assert_ne!(fold_name("Оwner"), "owner"); // Cyrillic О stays itself
    }
}
