//! The JSON of a Keybase `MsgSummary` as api-listen and `read` give it (keybase.md §4): the
//! keys the live reader uses, everything else ignored.

use serde::Deserialize;

use crate::{cli::requests::ChatChannel, export::node::Node};

/// api-listen's line (keybase.md §4): a chat message, an undecryptable one, or another type.
#[derive(Debug, Deserialize)]
pub(super) struct ListenLine {
    #[serde(rename = "type", default)]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) source: String,
    #[serde(default)]
    pub(super) msg: Option<Summary>,
    #[serde(default)]
    pub(super) error: Option<String>,
}

/// A `read` wrapper.
#[derive(Debug, Deserialize)]
pub(super) struct Wrapper {
    #[serde(default)]
    pub(super) msg: Option<Summary>,
    #[serde(default)]
    pub(super) error: Option<String>,
}

/// The keys of a `MsgSummary` the relay uses.
#[derive(Debug, Deserialize)]
pub(super) struct Summary {
    pub(super) id: u64,
    #[serde(default)]
    pub(super) conversation_id: String,
    #[serde(default)]
    pub(super) channel: ChatChannel,
    #[serde(default)]
    pub(super) sender: SummarySender,
    #[serde(default)]
    pub(super) sent_at: Option<i64>,
    #[serde(default)]
    pub(super) sent_at_ms: Option<i64>,
    #[serde(default)]
    pub(super) content: SummaryContent,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct SummarySender {
    #[serde(default)]
    pub(super) uid: String,
    #[serde(default)]
    pub(super) username: String,
    #[serde(default)]
    pub(super) device_name: String,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct SummaryContent {
    #[serde(rename = "type", default)]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) text: Option<TextBody>,
    #[serde(default)]
    pub(super) attachment: Option<AttachmentBody>,
    #[serde(default)]
    pub(super) edit: Option<EditBody>,
    #[serde(default)]
    pub(super) reaction: Option<ReactionBody>,
    #[serde(default)]
    pub(super) delete: Option<DeleteBody>,
    #[serde(default)]
    pub(super) headline: Option<HeadlineBody>,
    #[serde(default)]
    pub(super) metadata: Option<MetadataBody>,
    #[serde(default)]
    pub(super) system: Option<Node>,
}

#[derive(Debug, Deserialize)]
pub(super) struct TextBody {
    #[serde(default)]
    pub(super) body: String,
    #[serde(default, rename = "replyTo")]
    pub(super) reply_to: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct AttachmentBody {
    #[serde(default)]
    pub(super) object: Option<Asset>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Asset {
    #[serde(default)]
    pub(super) filename: String,
    #[serde(default)]
    pub(super) title: String,
    #[serde(default)]
    pub(super) size: Option<u64>,
    #[serde(default, rename = "mimeType")]
    pub(super) mime_type: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct EditBody {
    #[serde(rename = "messageID")]
    pub(super) message_id: u64,
    #[serde(default)]
    pub(super) body: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct ReactionBody {
    pub(super) m: u64,
    pub(super) b: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct DeleteBody {
    #[serde(default, rename = "messageIDs")]
    pub(super) message_ids: Option<Vec<u64>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct HeadlineBody {
    #[serde(default)]
    pub(super) headline: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct MetadataBody {
    #[serde(default, rename = "conversationTitle")]
    pub(super) conversation_title: String,
}
