//! Stable fake IDs derived from names, shaped like Keybase's (hex, with the type suffixes of
//! keybase.md §5.4: user IDs end in `19`, devices in `18`, root teams in `24`, subteams in `25`).

/// FNV-1a over `parts`, seeded, as 16 hex digits.
fn fnv(seed: u64, parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// `len` hex digits derived from `parts`.
fn hex(parts: &[&str], len: usize) -> String {
    let mut out = String::new();
    let mut seed = 0;
    while out.len() < len {
        out.push_str(&fnv(seed, parts));
        seed += 1;
    }
    out.truncate(len);
    out
}

/// A user ID: 32 hex digits ending in `19`.
pub fn uid(username: &str) -> String {
    format!("{}19", hex(&["uid", username], 30))
}

/// A device ID: 32 hex digits ending in `18`.
pub fn device_id(username: &str, device: &str) -> String {
    format!("{}18", hex(&["device", username, device], 30))
}

/// A team ID: 32 hex digits ending in `24` (root team) or `25` (subteam).
pub fn team_id(team: &str) -> String {
    let suffix = if team.contains('.') { "25" } else { "24" };
    format!("{}{suffix}", hex(&["team", team], 30))
}

/// A conversation ID: 64 hex digits, starting with `0000` for team conversations as observed.
pub fn conv_id(name: &str, topic: &str, members_type: &str) -> String {
    let body = hex(&["conv", name, topic, members_type], 60);
    if members_type == "team" {
        format!("0000{body}")
    } else {
        format!("{}{body}", &hex(&["convhead", name], 4))
    }
}

/// A 32-byte value in standard base64, for hashes and keys that are only there for shape.
pub fn base64_of(parts: &[&str]) -> String {
    use base64::Engine;
    let bytes: Vec<u8> = hex(parts, 64)
        .as_bytes()
        .chunks(2)
        .filter_map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_keybase_shapes() {
        assert_eq!(uid("alice").len(), 32);
        assert!(uid("alice").ends_with("19") && uid("alice") != uid("bob"));
        assert!(device_id("alice", "laptop").ends_with("18"));
        assert!(team_id("acme").ends_with("24") && team_id("acme.ops").ends_with("25"));
        let c = conv_id("acme", "general", "team");
        assert!(c.len() == 64 && c.starts_with("0000"));
        assert_eq!(conv_id("alice,bob", "", "impteamnative").len(), 64);
    }
}
