//! The `content` of a `MsgSummary` (keybase.md §2.3): `type`, then only the key for the type,
//! with the inconsistent casing of the real API and `null` for empty Go slices.

use serde::Serialize;
use serde_json::Value;

use crate::{
    ids,
    render::{self, Ctx},
    state::{Body, Stored},
};

/// `MsgContent`: `type`, then only the key for the type.
#[derive(Debug, Default, Serialize)]
pub struct Content {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<TextBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachment: Option<AttachmentBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    edit: Option<EditBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reaction: Option<ReactionBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delete: Option<DeleteBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<MetadataBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headline: Option<HeadlineBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<Value>,
}

/// A `null` Go slice.
type Null = Option<()>;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TextBody {
    body: String,
    payments: Null,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<u64>,
    #[serde(rename = "replyToUID", skip_serializing_if = "Option::is_none")]
    reply_to_uid: Option<String>,
    user_mentions: Null,
    team_mentions: Null,
    emojis: Null,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AttachmentBody {
    object: Asset,
    previews: Null,
    metadata: Null,
    uploaded: bool,
    user_mentions: Null,
    team_mentions: Null,
    emojis: Null,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Asset {
    filename: String,
    region: &'static str,
    endpoint: &'static str,
    bucket: &'static str,
    path: String,
    size: u64,
    mime_type: String,
    enc_hash: String,
    pt_hash: String,
    key: String,
    verify_key: String,
    title: String,
    nonce: String,
    metadata: AssetMetadata,
    tag: u8,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AssetMetadata {
    asset_type: u8,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EditBody {
    #[serde(rename = "messageID")]
    message_id: u64,
    body: String,
    user_mentions: Null,
    team_mentions: Null,
    emojis: Null,
}

#[derive(Debug, Serialize)]
struct ReactionBody {
    m: u64,
    b: String,
    e: Null,
}

#[derive(Debug, Serialize)]
struct DeleteBody {
    #[serde(rename = "messageIDs")]
    message_ids: Vec<u64>,
}

#[derive(Debug, Serialize)]
struct MetadataBody {
    #[serde(rename = "conversationTitle")]
    conversation_title: String,
}

#[derive(Debug, Serialize)]
struct HeadlineBody {
    headline: String,
    emojis: Null,
}

pub fn content(m: &Stored, edit: Option<&str>, ctx: &Ctx<'_>, all: &[Stored]) -> Content {
    match &m.body {
        Body::Text { body, reply_to } => Content {
            kind: "text",
            text: Some(TextBody {
                body: edit.unwrap_or(body).to_owned(),
                payments: None,
                reply_to: *reply_to,
                reply_to_uid: reply_to
                    .and_then(|r| all.iter().find(|x| x.id == r))
                    .map(|x| ids::uid(&x.sender)),
                user_mentions: None,
                team_mentions: None,
                emojis: None,
            }),
            ..Content::default()
        },
        Body::Attachment {
            filename, title, ..
        } => Content {
            kind: "attachment",
            attachment: Some(AttachmentBody {
                object: asset(m, filename, edit.unwrap_or(title), ctx),
                previews: None,
                metadata: None,
                uploaded: true,
                user_mentions: None,
                team_mentions: None,
                emojis: None,
            }),
            ..Content::default()
        },
        Body::Edit { target, body } => Content {
            kind: "edit",
            edit: Some(EditBody {
                message_id: *target,
                body: body.clone(),
                user_mentions: None,
                team_mentions: None,
                emojis: None,
            }),
            ..Content::default()
        },
        Body::Delete { targets } => Content {
            kind: "delete",
            delete: Some(DeleteBody {
                message_ids: render::delete_list(all, m.id, targets)
                    .into_iter()
                    .collect(),
            }),
            ..Content::default()
        },
        Body::Reaction { target, emoji } => Content {
            kind: "reaction",
            reaction: Some(ReactionBody {
                m: *target,
                b: emoji.clone(),
                e: None,
            }),
            ..Content::default()
        },
        Body::Headline { headline } => Content {
            kind: "headline",
            headline: Some(HeadlineBody {
                headline: headline.clone(),
                emojis: None,
            }),
            ..Content::default()
        },
        Body::Metadata { title } => Content {
            kind: "metadata",
            metadata: Some(MetadataBody {
                conversation_title: title.clone(),
            }),
            ..Content::default()
        },
        Body::System { system } => Content {
            kind: "system",
            system: Some(system.clone()),
            ..Content::default()
        },
        Body::Join => Content {
            kind: "join",
            ..Content::default()
        },
        Body::Leave => Content {
            kind: "leave",
            ..Content::default()
        },
    }
}

fn asset(m: &Stored, filename: &str, title: &str, ctx: &Ctx<'_>) -> Asset {
    let seed = [ctx.conv.id.as_str(), &m.id.to_string(), filename];
    let mime = mime_of(filename);
    let asset_type = match mime.split('/').next() {
        Some("image") => 1,
        Some("video" | "audio") => 2,
        _ => 0,
    };
    Asset {
        filename: filename.to_owned(),
        region: "us-east-1",
        endpoint: "https://s3.amazonaws.com",
        bucket: "kb-chat-attachments",
        path: ids::base64_of(&seed)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect(),
        size: ctx.sizes.get(&m.id).copied().unwrap_or(0),
        mime_type: mime.to_owned(),
        enc_hash: ids::base64_of(&[&seed[..], &["enc"]].concat()),
        pt_hash: ids::base64_of(&[&seed[..], &["pt"]].concat()),
        key: ids::base64_of(&[&seed[..], &["key"]].concat()),
        verify_key: ids::base64_of(&[&seed[..], &["verify"]].concat()),
        title: title.to_owned(),
        nonce: ids::base64_of(&[&seed[..], &["nonce"]].concat()),
        metadata: AssetMetadata { asset_type },
        tag: 0,
    }
}

fn mime_of(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("mp4") => "video/mp4",
        Some("mp3") => "audio/mpeg",
        Some("txt") => "text/plain",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}
