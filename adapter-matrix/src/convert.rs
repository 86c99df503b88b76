//! A message part → the content of its Matrix event (pure; the sink sends it).
//!
//! * Text: `body` is the source text (Keybase `:shortcode:`s as emoji); Keybase markdown gives a sanitized
//!   `org.matrix.custom.html` `formatted_body` (`markdown.rs`).
//! * Replies: `m.relates_to.m.in_reply_to` to the parent's event (no reply fallback in the body:
//!   removed from the spec in v1.13). A reply whose parent was never copied starts with a
//!   quoted note instead, so the reader knows it answered something.
//! * Files: `m.image` (images) or `m.file`, with `filename`, `info` (`mimetype`, `size`, `w`,
//!   `h` where known) and the text as caption (spec v1.10).
//! * A file that could not be copied: a note naming it, its size and why, after the text (or as
//!   the event of its own part).
//! * Reactions: `m.annotation` of the message's first event.
//! * Every content has [`SOURCE_KEY`] and, except reactions, an empty `m.mentions`: a backfill
//!   must not notify anyone, whatever `@everyone` or `@dave` the text holds.

use bridge_core::{Content, Message, Syntax};
use serde_json::{Map, Value, json};

use crate::{
    emoji, markdown,
    parts::{SOURCE_KEY, source_value},
};

/// The note that stands for a parent message that was not copied.
pub const MISSING_PARENT: &str = "↪ In reply to a message that is no longer available";

/// An uploaded file, as the event describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// The `mxc://` URI.
    pub url: String,
    /// The file name.
    pub name: String,
    /// The MIME type, where known.
    pub mime: Option<String>,
    /// The size in bytes.
    pub size: u64,
    /// Width and height in pixels, for images where known.
    pub dimensions: Option<(u32, u32)>,
}

/// What the event is written as.
#[derive(Clone, Copy)]
pub struct Style<'a> {
    /// `m.text` or `m.notice` for text.
    pub msgtype: &'a str,
    /// The event the message replies to, already in this room.
    pub reply_to: Option<&'a str>,
    /// The Matrix user a `@name` in the text stands for, for mention pills.
    pub mention: &'a dyn Fn(&str) -> Option<String>,
}

/// The content of part `part`, a message's text (with its first file, if `media`).
pub fn body(msg: &Message, part: u32, media: Option<&Media>, style: Style<'_>) -> Value {
    let (text, html) = text(msg, style);
    let mut content = Map::new();
    match media {
        None => {
            content.insert("msgtype".into(), json!(style.msgtype));
            content.insert("body".into(), json!(text));
            put_html(&mut content, html);
        }
        Some(media) => {
            file(&mut content, media);
            if !text.is_empty() && text != media.name {
                content.insert("body".into(), json!(text));
                put_html(&mut content, html);
            }
        }
    }
    finish(content, msg, part, style.reply_to)
}

/// The content of part `part`, a further file of the message (no caption, not a reply).
pub fn attachment(msg: &Message, part: u32, media: &Media) -> Value {
    let mut content = Map::new();
    file(&mut content, media);
    finish(content, msg, part, None)
}

/// Adds to a text content the note that replaces a file that could not be copied (`text` as
/// [`bridge_core::Attachment::not_copied`] says it), after the message's own text.
pub fn add_note(content: &mut Value, text: &str) {
    let line = format!("📎 {text}");
    let Some(c) = content.as_object_mut() else {
        return;
    };
    let body = c.get("body").and_then(Value::as_str).unwrap_or_default();
    let joined = if body.is_empty() {
        line
    } else {
        format!("{body}\n\n{line}")
    };
    let html = format!("📎 <em>{}</em>", markdown::escape(text));
    if let Some(f) = c.get("formatted_body").and_then(Value::as_str) {
        let f = format!("{f}<br><br>{html}");
        c.insert("formatted_body".into(), json!(f));
    }
    c.insert("body".into(), json!(joined));
}

/// The content of part `part`, a further file of the message that could not be copied: the
/// note that replaces it.
pub fn attachment_note(msg: &Message, part: u32, msgtype: &str, text: &str) -> Value {
    let mut content = Map::new();
    content.insert("msgtype".into(), json!(msgtype));
    content.insert("body".into(), json!(format!("📎 {text}")));
    put_html(
        &mut content,
        Some(format!("📎 <em>{}</em>", markdown::escape(text))),
    );
    finish(content, msg, part, None)
}

/// The content of part `part`, a reaction `key` to the message's first event `target`.
pub fn reaction(msg: &Message, part: u32, target: &str, key: &str) -> Value {
    json!({
        "m.relates_to": { "rel_type": "m.annotation", "event_id": target, "key": key },
        SOURCE_KEY: source_value(msg, part),
    })
}

/// The content of an edit (`m.replace`) of the event `target`, whose content was `original`:
/// the new text as `m.new_content`, and a `* `-prefixed fallback body for clients without
/// edits. A notice or emote stays one; a file stays the same file, the text becoming its
/// caption (files themselves are not edited). Nobody is notified.
pub fn edit(target: &str, content: &Content, original: &Value, style: Style<'_>) -> Value {
    const MEDIA: [&str; 4] = ["m.image", "m.file", "m.video", "m.audio"];
    let (mut text, html) = content_text(content, style.mention);
    let mut new = Map::new();
    let kept = original.get("msgtype").and_then(Value::as_str);
    let msgtype = match kept {
        Some(t @ ("m.notice" | "m.emote")) => t,
        Some(t) if MEDIA.contains(&t) => {
            for key in ["url", "info", "filename"] {
                if let Some(v) = original.get(key) {
                    new.insert(key.into(), v.clone());
                }
            }
            if text.is_empty() {
                let name = original.get("filename").or_else(|| original.get("body"));
                text = name.and_then(Value::as_str).unwrap_or_default().to_owned();
            }
            t
        }
        _ => style.msgtype,
    };
    new.insert("msgtype".into(), json!(msgtype));
    new.insert("body".into(), json!(text));
    let fallback_html = html.as_ref().map(|h| format!("* {h}"));
    put_html(&mut new, html);
    new.insert("m.mentions".into(), json!({}));
    let mut outer = Map::new();
    outer.insert("msgtype".into(), json!(msgtype));
    outer.insert("body".into(), json!(format!("* {text}")));
    put_html(&mut outer, fallback_html);
    outer.insert("m.new_content".into(), Value::Object(new));
    outer.insert(
        "m.relates_to".into(),
        json!({ "rel_type": "m.replace", "event_id": target }),
    );
    outer.insert("m.mentions".into(), json!({}));
    Value::Object(outer)
}

/// The content of a live reaction `key` to the event `target`.
pub fn live_reaction(target: &str, key: &str) -> Value {
    json!({ "m.relates_to": { "rel_type": "m.annotation", "event_id": target, "key": key } })
}

/// The plain body and formatted body of a content's text, without reply notes.
fn content_text(
    content: &Content,
    mention: &dyn Fn(&str) -> Option<String>,
) -> (String, Option<String>) {
    match content.syntax {
        Syntax::Keybase => (
            emoji::replace_shortcodes(&content.text),
            markdown::to_html(&content.text, mention),
        ),
        // Plain text and other dialects are shown as typed (never as HTML).
        Syntax::Plain | Syntax::Discord | Syntax::MatrixHtml(_) => (content.text.clone(), None),
    }
}

/// The plain body and formatted body of the message's text.
fn text(msg: &Message, style: Style<'_>) -> (String, Option<String>) {
    let (source, html) = content_text(&msg.content, style.mention);
    if msg.reply_to.is_none() || style.reply_to.is_some() {
        return (source, html);
    }
    let shown = html.unwrap_or_else(|| markdown::escape(&source).replace('\n', "<br>"));
    (
        format!("> {MISSING_PARENT}\n\n{source}"),
        Some(format!(
            "<blockquote>{}</blockquote>{shown}",
            markdown::escape(MISSING_PARENT)
        )),
    )
}

fn put_html(content: &mut Map<String, Value>, html: Option<String>) {
    if let Some(html) = html {
        content.insert("format".into(), json!("org.matrix.custom.html"));
        content.insert("formatted_body".into(), json!(html));
    }
}

fn file(content: &mut Map<String, Value>, media: &Media) {
    let is_image = media
        .mime
        .as_deref()
        .is_some_and(|m| m.starts_with("image/"));
    content.insert(
        "msgtype".into(),
        json!(if is_image { "m.image" } else { "m.file" }),
    );
    content.insert("body".into(), json!(media.name));
    content.insert("filename".into(), json!(media.name));
    content.insert("url".into(), json!(media.url));
    let mut info = Map::new();
    if let Some(mime) = &media.mime {
        info.insert("mimetype".into(), json!(mime));
    }
    info.insert("size".into(), json!(media.size));
    if let (true, Some((w, h))) = (is_image, media.dimensions) {
        info.insert("w".into(), json!(w));
        info.insert("h".into(), json!(h));
    }
    content.insert("info".into(), Value::Object(info));
}

fn finish(
    mut content: Map<String, Value>,
    msg: &Message,
    part: u32,
    reply_to: Option<&str>,
) -> Value {
    if let Some(parent) = reply_to {
        content.insert(
            "m.relates_to".into(),
            json!({ "m.in_reply_to": { "event_id": parent } }),
        );
    }
    content.insert("m.mentions".into(), json!({}));
    content.insert(SOURCE_KEY.into(), source_value(msg, part));
    Value::Object(content)
}

#[cfg(test)]
mod tests {
    use bridge_core::{ChatRef, MsgId, Platform, testing::text_message};

    use super::*;

    fn no_mentions(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn edits_replace_the_text_and_keep_notices_and_files() {
        let style = Style {
            msgtype: "m.text",
            reply_to: None,
            mention: &no_mentions,
        };
        let content = bridge_core::Content {
            text: "now *bold*".into(),
            syntax: Syntax::Keybase,
            attachments: Vec::new(),
        };
        let text = edit(
            "$t",
            &content,
            &json!({"msgtype": "m.text", "body": "was"}),
            style,
        );
        assert_eq!(
            text["m.relates_to"],
            json!({"rel_type": "m.replace", "event_id": "$t"})
        );
        assert_eq!(text["body"], "* now *bold*");
        assert_eq!(text["m.new_content"]["msgtype"], "m.text");
        assert_eq!(text["m.new_content"]["body"], "now *bold*");
        assert_eq!(
            text["m.new_content"]["formatted_body"],
            "now <strong>bold</strong>"
        );
        assert_eq!(text["m.new_content"]["m.mentions"], json!({}));
        assert_eq!(text["m.mentions"], json!({}));

        let notice = edit(
            "$t",
            &content,
            &json!({"msgtype": "m.notice", "body": "was"}),
            style,
        );
        assert_eq!(notice["m.new_content"]["msgtype"], "m.notice");

        let file = json!({"msgtype": "m.image", "body": "cap", "filename": "a.png",
                          "url": "mxc://s/x", "info": {"size": 3}});
        let e = edit("$t", &content, &file, style);
        assert_eq!(e["m.new_content"]["msgtype"], "m.image");
        assert_eq!(e["m.new_content"]["url"], "mxc://s/x");
        assert_eq!(e["m.new_content"]["filename"], "a.png");
        assert_eq!(e["m.new_content"]["body"], "now *bold*");
        let e = edit("$t", &bridge_core::Content::plain(""), &file, style);
        assert_eq!(
            e["m.new_content"]["body"], "a.png",
            "no caption: the file's name"
        );
    }

    fn style<'a>(reply_to: Option<&'a str>) -> Style<'a> {
        Style {
            msgtype: "m.text",
            reply_to,
            mention: &no_mentions,
        }
    }

    fn keybase(text: &str) -> Message {
        let mut msg = text_message(&ChatRef::new(Platform::Keybase, "acme#general"), 11, text);
        msg.content.syntax = Syntax::Keybase;
        msg
    }

    #[test]
    fn text_with_markup_has_a_formatted_body_and_the_source_key() {
        let c = body(&keybase("*hi* <b>"), 0, None, style(None));
        assert_eq!(c["msgtype"], "m.text");
        assert_eq!(c["body"], "*hi* <b>");
        assert_eq!(c["format"], "org.matrix.custom.html");
        assert_eq!(c["formatted_body"], "<strong>hi</strong> &lt;b&gt;");
        assert_eq!(c["m.mentions"], json!({}));
        assert_eq!(
            c[SOURCE_KEY],
            json!({"platform": "keybase", "chat": "acme#general", "msg": "11", "part": 0})
        );

        let plain = body(&keybase("hello"), 0, None, style(None));
        assert!(plain.get("formatted_body").is_none());
        let mut system = keybase("carol_x added *x*");
        system.content.syntax = Syntax::Plain;
        assert!(
            body(&system, 0, None, style(None))
                .get("formatted_body")
                .is_none()
        );
    }

    #[test]
    fn replies_point_at_the_parent_or_say_it_is_gone() {
        let mut msg = keybase("yes");
        msg.reply_to = Some(MsgId::new("10"));
        let c = body(&msg, 0, None, style(Some("$parent")));
        assert_eq!(c["m.relates_to"]["m.in_reply_to"]["event_id"], "$parent");
        assert_eq!(c["body"], "yes");

        let c = body(&msg, 0, None, style(None));
        assert!(c.get("m.relates_to").is_none());
        assert_eq!(c["body"], format!("> {MISSING_PARENT}\n\nyes"));
        assert_eq!(
            c["formatted_body"],
            format!("<blockquote>{MISSING_PARENT}</blockquote>yes")
        );
    }

    #[test]
    fn files_are_images_or_files_with_captions() {
        let media = Media {
            url: "mxc://localhost/abc".into(),
            name: "whiteboard.png".into(),
            mime: Some("image/png".into()),
            size: 77,
            dimensions: Some((2, 2)),
        };
        let c = body(&keybase("the _board_"), 0, Some(&media), style(None));
        assert_eq!(c["msgtype"], "m.image");
        assert_eq!(c["filename"], "whiteboard.png");
        assert_eq!(c["body"], "the _board_");
        assert_eq!(c["formatted_body"], "the <em>board</em>");
        assert_eq!(
            c["info"],
            json!({"mimetype": "image/png", "size": 77, "w": 2, "h": 2})
        );

        let c = body(&keybase(""), 0, Some(&media), style(None));
        assert_eq!(c["body"], "whiteboard.png");

        let txt = Media {
            name: "notes.txt".into(),
            mime: Some("text/plain".into()),
            dimensions: None,
            ..media
        };
        let c = attachment(&keybase("x"), 1, &txt);
        assert_eq!(c["msgtype"], "m.file");
        assert_eq!(c["body"], "notes.txt");
        assert_eq!(c[SOURCE_KEY]["part"], 1);
    }

    #[test]
    fn reactions_annotate_the_first_event() {
        let c = reaction(&keybase("x"), 2, "$first", "🎉");
        assert_eq!(
            c["m.relates_to"],
            json!({"rel_type": "m.annotation", "event_id": "$first", "key": "🎉"})
        );
        assert_eq!(c[SOURCE_KEY]["part"], 2);
    }
}
