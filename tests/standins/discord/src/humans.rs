//! The people of the guild, as tests act for them: they post (text, files, replies), edit their
//! own messages, react and un-react, and bulk-delete (as a moderator would). Each change is recorded like a
//! REST one and published on the gateway. (Deleting one message by hand is
//! [`StandIn::delete_message`].)

use crate::{
    StandIn,
    filenames::discord_file_name,
    gateway::dispatches,
    state::{Human, RecordedFile, RecordedMessage, TEXT},
};

/// Discord's limit on message content.
const MAX_CONTENT: usize = 2000;

/// Discord's limit on files per message.
const MAX_FILES: usize = 10;

impl StandIn {
    /// Adds a person to the guild (a member without roles).
    pub fn add_human(&self, name: &str) -> Human {
        let mut w = self.shared.world();
        let human = Human {
            id: w.snowflake(),
            name: name.to_owned(),
        };
        w.humans.insert(human.id, human.clone());
        human
    }

    /// `human` posts `content` in text channel `channel`; the new message's ID, or `None` if
    /// the channel is unknown, the content empty or over 2,000 characters.
    pub fn post_as(&self, human: &Human, channel: u64, content: &str) -> Option<u64> {
        self.post_with(human, channel, content, &[], None)
    }

    /// `human` posts `content` with `files` (name, bytes) in text channel `channel`, as a reply
    /// to message `reply_to` of that channel when given; the new message's ID. Each file's name
    /// is kept as Discord keeps an upload's (`filenames.rs`). `None` if the channel is unknown,
    /// the content over 2,000 characters, empty without files, more than 10 files, or
    /// `reply_to` not a live message of the channel (Discord: 50035 "Unknown message").
    pub fn post_with(
        &self,
        human: &Human,
        channel: u64,
        content: &str,
        files: &[(&str, &[u8])],
        reply_to: Option<u64>,
    ) -> Option<u64> {
        self.post(human, channel, content, files, reply_to, discord_file_name)
    }

    /// [`StandIn::post_with`] with the file names kept exactly as given (control characters,
    /// `/`, `..`, empty, any length), as Discord never keeps them: for testing a client's own
    /// defences against names a server should not send. Attachment URLs still carry the
    /// cleaned name.
    pub fn post_with_names_as_given(
        &self,
        human: &Human,
        channel: u64,
        content: &str,
        files: &[(&str, &[u8])],
        reply_to: Option<u64>,
    ) -> Option<u64> {
        self.post(human, channel, content, files, reply_to, str::to_owned)
    }

    fn post(
        &self,
        human: &Human,
        channel: u64,
        content: &str,
        files: &[(&str, &[u8])],
        reply_to: Option<u64>,
        name_of: fn(&str) -> String,
    ) -> Option<u64> {
        let n = content.chars().count();
        if (n == 0 && files.is_empty()) || n > MAX_CONTENT || files.len() > MAX_FILES {
            return None;
        }
        let base = self.shared.files_base();
        let mut w = self.shared.world();
        if w.channels.get(&channel).is_none_or(|c| c.kind != TEXT) {
            return None;
        }
        if let Some(r) = reply_to {
            w.message_mut(channel, r)?;
        }
        let files = files
            .iter()
            .map(|(name, bytes)| RecordedFile {
                id: w.snowflake(),
                name: name_of(name),
                bytes: bytes.to_vec(),
            })
            .collect();
        let msg = RecordedMessage {
            id: w.snowflake(),
            channel_id: channel,
            webhook_id: None,
            author_id: human.id,
            author_name: human.name.clone(),
            avatar_url: None,
            content: content.to_owned(),
            flags: 0,
            allowed_mentions: None,
            pinged: Vec::new(),
            files,
            reactions: Vec::new(),
            nonce: None,
            reference: reply_to,
            deleted: false,
            edited: None,
        };
        let id = msg.id;
        self.shared
            .gateway
            .publish(&dispatches::message_create(&w, &base, &msg));
        w.push(msg);
        Some(id)
    }

    /// `human` edits their own message `id` to `content`; false if it is not theirs, gone, or
    /// the content is empty or too long.
    pub fn edit_as(&self, human: &Human, id: u64, content: &str) -> bool {
        let n = content.chars().count();
        if n == 0 || n > MAX_CONTENT {
            return false;
        }
        let base = self.shared.files_base();
        let mut w = self.shared.world();
        let Some(m) = w.live_mut(id).filter(|m| m.author_id == human.id) else {
            return false;
        };
        m.content = content.to_owned();
        m.edited = Some(chrono::Utc::now());
        let m = m.clone();
        self.shared
            .gateway
            .publish(&dispatches::message_update(&w, &base, &m));
        true
    }

    /// `human` reacts to message `id` with `emoji` (Unicode, or `name:id`); false if the
    /// message is gone, they had already reacted so, or it would be a 21st emoji.
    pub fn react_as(&self, human: &Human, id: u64, emoji: &str) -> bool {
        let mut w = self.shared.world();
        let Some(m) = w.live_mut(id) else {
            return false;
        };
        if m.add_reaction(emoji, human.id) != Ok(true) {
            return false;
        }
        let m = m.clone();
        self.shared
            .gateway
            .publish(&dispatches::reaction(&w, &m, emoji, human.id, true));
        true
    }

    /// `human` takes back their `emoji` reaction on message `id`; false if they had none.
    pub fn unreact_as(&self, human: &Human, id: u64, emoji: &str) -> bool {
        let mut w = self.shared.world();
        let Some(m) = w.live_mut(id) else {
            return false;
        };
        if !m.remove_reaction(emoji, human.id) {
            return false;
        }
        let m = m.clone();
        self.shared
            .gateway
            .publish(&dispatches::reaction(&w, &m, emoji, human.id, false));
        true
    }

    /// A moderator bulk-deletes messages `ids` of `channel` (one MESSAGE_DELETE_BULK); the IDs
    /// that were live there and are now deleted.
    pub fn bulk_delete(&self, channel: u64, ids: &[u64]) -> Vec<u64> {
        let mut w = self.shared.world();
        let mut gone = Vec::new();
        for id in ids {
            if let Some(m) = w.message_mut(channel, *id) {
                m.deleted = true;
                gone.push(*id);
            }
        }
        if !gone.is_empty() {
            self.shared
                .gateway
                .publish(&dispatches::message_delete_bulk(&w, channel, &gone));
        }
        gone
    }
}
