//! Pagination cursors (keybase.md §2.7): the msgpack encoding of a message ID, in standard
//! base64 for `read`, in hex for api-listen's `UIPagination`.

use base64::{Engine, engine::general_purpose::STANDARD};

/// The msgpack encoding of an unsigned integer, smallest form.
fn msgpack(id: u64) -> Vec<u8> {
    match id {
        0..=0x7f => vec![id as u8],
        0x80..=0xff => vec![0xcc, id as u8],
        0x100..=0xffff => {
            let mut v = vec![0xcd];
            v.extend_from_slice(&(id as u16).to_be_bytes());
            v
        }
        0x1_0000..=0xffff_ffff => {
            let mut v = vec![0xce];
            v.extend_from_slice(&(id as u32).to_be_bytes());
            v
        }
        _ => {
            let mut v = vec![0xcf];
            v.extend_from_slice(&id.to_be_bytes());
            v
        }
    }
}

/// A `read` cursor: base64(msgpack(id)). `AQ==` is 1, `zQHV` is 469.
pub fn encode(id: u64) -> String {
    STANDARD.encode(msgpack(id))
}

/// api-listen's cursor: hex(msgpack(id)). `42` is 66, `ccab` is 171.
pub fn ui(id: u64) -> String {
    msgpack(id).iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a `read` cursor back.
///
/// # Errors
/// Not base64 (the real CLI's option unmarshalling fails: a validation error), or not the
/// msgpack of an unsigned integer.
pub fn decode(cursor: &str) -> Result<u64, String> {
    let bytes = STANDARD
        .decode(cursor)
        .map_err(|e| format!("illegal base64 data in cursor {cursor:?}: {e}"))?;
    let be = |b: &[u8]| b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
    match bytes.as_slice() {
        [b] if *b < 0x80 => Ok(u64::from(*b)),
        [0xcc, rest @ ..] if rest.len() == 1 => Ok(be(rest)),
        [0xcd, rest @ ..] if rest.len() == 2 => Ok(be(rest)),
        [0xce, rest @ ..] if rest.len() == 4 => Ok(be(rest)),
        [0xcf, rest @ ..] if rest.len() == 8 => Ok(be(rest)),
        _ => Err(format!("cursor {cursor:?} is not a message id")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_examples() {
        assert_eq!(encode(1), "AQ==");
        assert_eq!(encode(469), "zQHV");
        assert_eq!(encode(57), "OQ==");
        assert_eq!(encode(41), "KQ==");
        assert_eq!(ui(66), "42");
        assert_eq!(ui(171), "ccab");
        for id in [0, 1, 127, 128, 255, 256, 65_535, 65_536, 1 << 40] {
            assert_eq!(decode(&encode(id)), Ok(id));
        }
        assert!(decode("not base64!").is_err());
        assert!(decode("wA==").is_err());
    }
}
