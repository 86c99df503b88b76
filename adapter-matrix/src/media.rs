//! Attachments → the homeserver's media repository, with what an `m.image` needs to know.
//!
//! Files are uploaded as the ghost that posts them (`POST /_matrix/media/v3/upload?user_id=`).
//! Image sizes come from the source where it knows them, else from the file's own header
//! (PNG, GIF, JPEG): a few bytes, no image library.

use bridge_core::Attachment;
use ruma::{UserId, api::client::media::create_content};

use crate::{client::MatrixClient, convert::Media, error::MatrixError};

/// Uploads `att` as `as_user` (the bot when `None`).
///
/// # Errors
/// [`MatrixError::Attachment`] when the bytes cannot be read; the homeserver's error otherwise
/// (`M_TOO_LARGE` for a file over its limit).
pub async fn upload(
    client: &MatrixClient,
    att: &Attachment,
    as_user: Option<&UserId>,
) -> Result<Media, MatrixError> {
    let bytes = att
        .data
        .read()
        .await
        .map_err(|source| MatrixError::Attachment {
            what: att.data.describe(),
            source,
        })?;
    let mime = att
        .mime
        .clone()
        .or_else(|| sniff_mime(&bytes).map(str::to_owned));
    let dimensions = att.dimensions.or_else(|| dimensions(&bytes));
    let size = bytes.len() as u64;
    let mut req = create_content::v3::Request::new(bytes);
    req.filename = Some(att.name.clone());
    req.content_type = Some(
        mime.clone()
            .unwrap_or_else(|| "application/octet-stream".to_owned()),
    );
    let answer = client.send(req, as_user).await?;
    Ok(Media {
        url: answer.content_uri.to_string(),
        name: att.name.clone(),
        mime,
        size,
        dimensions,
    })
}

/// The MIME type of an image file, from its first bytes.
fn sniff_mime(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if b.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// Width and height of a PNG, GIF or JPEG image, from its header.
pub fn dimensions(b: &[u8]) -> Option<(u32, u32)> {
    let be16 = |i: usize| Some(u32::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])));
    let be32 = |i: usize| Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?));
    let le16 = |i: usize| Some(u32::from(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?])));
    match sniff_mime(b)? {
        "image/png" if b.get(12..16) == Some(b"IHDR") => Some((be32(16)?, be32(20)?)),
        "image/gif" => Some((le16(6)?, le16(8)?)),
        "image/jpeg" => {
            // Walk the segments to the first start-of-frame.
            let mut i = 2;
            loop {
                while *b.get(i)? == 0xff && *b.get(i + 1)? == 0xff {
                    i += 1;
                }
                if *b.get(i)? != 0xff {
                    return None;
                }
                let marker = *b.get(i + 1)?;
                let sof = matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc);
                if sof {
                    return Some((be16(i + 7)?, be16(i + 5)?));
                }
                i += 2 + usize::try_from(be16(i + 2)?).ok()?;
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_sizes_from_headers() {
        let sample = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/sample-export/attachments/acme#general/23-whiteboard.png"
        ))
        .unwrap();
        assert_eq!(dimensions(&sample), Some((2, 2)));
        assert_eq!(sniff_mime(&sample), Some("image/png"));

        let gif = b"GIF89a\x0a\x00\x14\x00rest";
        assert_eq!(dimensions(gif), Some((10, 20)));

        // SOI, an APP0 segment of 16 bytes, then SOF0 with height 480 and width 640.
        let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10];
        jpeg.extend([0; 14]);
        jpeg.extend([0xff, 0xc0, 0x00, 0x11, 0x08, 0x01, 0xe0, 0x02, 0x80]);
        assert_eq!(dimensions(&jpeg), Some((640, 480)));

        assert_eq!(dimensions(b"plain text"), None);
        assert_eq!(dimensions(&jpeg[..12]), None, "truncated");
        assert_eq!(dimensions(&sample[..20]), None, "truncated");
    }
}
