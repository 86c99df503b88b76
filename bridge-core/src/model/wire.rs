//! How an attachment's bytes are serialised: base64 when they are in memory, or why they are
//! unavailable. A blob that must still be read (a download, a file) is refused: the caller
//! reads it first ([`super::Attachment::into_memory`]), since serialising cannot wait.

use std::sync::Arc;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _, ser::Error as _};

use super::{Blob, MemoryBlob, Unavailable};

/// An attachment's bytes as stored.
#[derive(Serialize, Deserialize)]
enum Data {
    /// The bytes, base64.
    Bytes(String),
    /// Why they could not be had.
    Unavailable(String),
}

pub(super) fn serialize<S: Serializer>(data: &Arc<dyn Blob>, s: S) -> Result<S::Ok, S::Error> {
    let wire = if let Some(why) = data.unavailable() {
        Data::Unavailable(why.to_owned())
    } else if let Some(bytes) = data.bytes() {
        Data::Bytes(STANDARD.encode(bytes))
    } else {
        return Err(S::Error::custom(format!(
            "attachment bytes not read yet ({}); read them into memory first",
            data.describe()
        )));
    };
    wire.serialize(s)
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<dyn Blob>, D::Error> {
    Ok(match Data::deserialize(d)? {
        Data::Bytes(b64) => Arc::new(MemoryBlob(STANDARD.decode(b64).map_err(D::Error::custom)?)),
        Data::Unavailable(why) => Arc::new(Unavailable(why)),
    })
}
