//! The request options sent and the parts of replies read (keybase.md §1.6, §2, §3). Replies
//! are read leniently (unknown keys ignored, most keys optional); messages are kept as raw JSON
//! so that the export stores exactly what the service said.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// `pagination` of a `read` request.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PageRequest {
    /// Messages per page.
    pub num: u32,
    /// The cursor to continue from (older messages), as the last reply gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Options of `read`, by conversation ID.
#[derive(Clone, Debug, Serialize)]
pub struct ReadOptions {
    /// The conversation (64 hex digits).
    pub conversation_id: String,
    /// Which page.
    pub pagination: PageRequest,
    /// Do not mark the conversation read.
    pub peek: bool,
}

/// Options of `download`.
#[derive(Clone, Debug, Serialize)]
pub struct DownloadOptions {
    /// The conversation.
    pub conversation_id: String,
    /// The attachment message.
    pub message_id: u64,
    /// Where the file goes (absolute path).
    pub output: String,
}

/// Options of `listconvsonname`.
#[derive(Clone, Debug, Serialize)]
pub struct ListOnNameOptions {
    /// The team.
    pub name: String,
    /// Always `team`.
    pub members_type: &'static str,
    /// Always `chat`.
    pub topic_type: &'static str,
}

/// Options of `list` (none needed; `topic_type` chat).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ListOptions {
    /// `chat`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_type: Option<&'static str>,
}

/// Options naming a team (`list-team-memberships`).
#[derive(Clone, Debug, Serialize)]
pub struct TeamOptions {
    /// The team's full name (`acme.ops`).
    pub team: String,
}

/// `ChatChannel`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ChatChannel {
    /// Team name or participants.
    #[serde(default)]
    pub name: String,
    /// `team`, `impteamnative`, `impteamupgrade`, `kbfs`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub members_type: String,
    /// `chat`, `dev`…
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub topic_type: String,
    /// The team channel; empty for direct chats.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub topic_name: String,
}

impl ChatChannel {
    /// The chat as kbbridge names it: `team#topic` (a team without topic is its `general`), or
    /// the participants.
    pub fn chat_name(&self) -> String {
        if !self.topic_name.is_empty() {
            format!("{}#{}", self.name, self.topic_name)
        } else if self.members_type == "team" {
            format!("{}#general", self.name)
        } else {
            self.name.clone()
        }
    }
}

/// `ConvSummary`, the keys used.
#[derive(Clone, Debug, Deserialize)]
pub struct ConvSummary {
    /// Conversation ID (hex).
    pub id: String,
    /// Its channel.
    #[serde(default)]
    pub channel: ChatChannel,
    /// `active`, `never_joined`…
    #[serde(default)]
    pub member_status: String,
}

/// `ChatList`.
#[derive(Clone, Debug, Deserialize)]
pub struct ChatList {
    /// The conversations (`null` when none).
    #[serde(default)]
    pub conversations: Option<Vec<ConvSummary>>,
}

/// `Thread` of `read`: the wrappers raw, the pagination read.
#[derive(Debug, Deserialize)]
pub struct Thread {
    /// `{"msg": …}` / `{"error": …}` wrappers, newest first.
    #[serde(default)]
    pub messages: Option<Vec<Box<RawValue>>>,
    /// Where the page is.
    #[serde(default)]
    pub pagination: Option<PageReply>,
}

/// `pagination` of a `read` reply.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PageReply {
    /// Cursor to older messages.
    #[serde(default)]
    pub next: Option<String>,
    /// Cursor to newer messages.
    #[serde(default)]
    pub previous: Option<String>,
    /// Messages in the page.
    #[serde(default)]
    pub num: u64,
    /// Whether this is the oldest page (absent when false).
    #[serde(default)]
    pub last: bool,
}

/// What the exporter needs to know of one wrapper: its id and what it points at.
#[derive(Debug, Default, Deserialize)]
pub struct WrapperPeek {
    /// The message; `None` for an `{"error": …}` wrapper.
    #[serde(default)]
    pub msg: Option<MsgPeek>,
}

/// The keys of a `MsgSummary` the exporter looks at.
#[derive(Debug, Default, Deserialize)]
pub struct MsgPeek {
    /// The message id.
    #[serde(default)]
    pub id: u64,
    /// Its content.
    #[serde(default)]
    pub content: ContentPeek,
}

/// The keys of `MsgContent` the exporter looks at.
#[derive(Debug, Default, Deserialize)]
pub struct ContentPeek {
    /// The message type (`text`, `attachment`, `delete`…).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// For attachments.
    #[serde(default)]
    pub attachment: Option<AttachmentPeek>,
    /// For deletes.
    #[serde(default)]
    pub delete: Option<DeletePeek>,
}

/// `content.attachment`.
#[derive(Debug, Default, Deserialize)]
pub struct AttachmentPeek {
    /// The uploaded file.
    #[serde(default)]
    pub object: Option<AssetPeek>,
}

/// `Asset`, the file name.
#[derive(Debug, Default, Deserialize)]
pub struct AssetPeek {
    /// The file name as uploaded.
    #[serde(default)]
    pub filename: String,
}

/// `content.delete`.
#[derive(Debug, Default, Deserialize)]
pub struct DeletePeek {
    /// The deleted messages.
    #[serde(default, rename = "messageIDs")]
    pub message_ids: Option<Vec<u64>>,
}

impl WrapperPeek {
    /// Reads a wrapper leniently (an unreadable one peeks as an `{"error": …}`).
    pub fn of(raw: &str) -> Self {
        serde_json::from_str(raw).unwrap_or_default()
    }
}

/// `message: {"body"}` of the writing methods.
#[derive(Clone, Debug, Serialize)]
pub struct MessageBody {
    /// The text (for `reaction`, the emoji as `:shortcode:`).
    pub body: String,
}

/// Options of `send`, by channel.
#[derive(Clone, Debug, Serialize)]
pub struct SendOptions {
    /// The conversation.
    pub channel: ChatChannel,
    /// The text.
    pub message: MessageBody,
    /// The message replied to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<u64>,
}

/// Options of `edit` and `reaction`: a message and a body.
#[derive(Clone, Debug, Serialize)]
pub struct TargetOptions {
    /// The conversation.
    pub channel: ChatChannel,
    /// The message edited or reacted to.
    pub message_id: u64,
    /// The new text, or the emoji.
    pub message: MessageBody,
}

/// Options of `delete`.
#[derive(Clone, Debug, Serialize)]
pub struct DeleteOptions {
    /// The conversation.
    pub channel: ChatChannel,
    /// The message deleted.
    pub message_id: u64,
}

/// Options of `attach`.
#[derive(Clone, Debug, Serialize)]
pub struct AttachOptions {
    /// The conversation.
    pub channel: ChatChannel,
    /// The local file (its name is the name shown).
    pub filename: String,
    /// The caption.
    pub title: String,
}

/// Options of `get`.
#[derive(Clone, Debug, Serialize)]
pub struct GetOptions {
    /// The conversation.
    pub channel: ChatChannel,
    /// The messages.
    pub message_ids: Vec<u64>,
    /// Do not mark the conversation read.
    pub peek: bool,
}

/// Options of `read`, by channel.
#[derive(Clone, Debug, Serialize)]
pub struct ReadChannelOptions {
    /// The conversation.
    pub channel: ChatChannel,
    /// Which page.
    pub pagination: PageRequest,
    /// Do not mark the conversation read.
    pub peek: bool,
}

/// The reply of the writing methods: `{"message": "message sent", "id": N}`.
#[derive(Clone, Debug, Deserialize)]
pub struct SendRes {
    /// The new message's id (absent for `nonblock` sends).
    #[serde(default)]
    pub id: Option<u64>,
}
