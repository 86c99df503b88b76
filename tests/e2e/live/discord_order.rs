//! Discord → Keybase through `kbbridge run` with the gateway delivering a channel's events out
//! of order (the stand-in's `hold_dispatches` / `release_dispatches`): an edit, a reaction or
//! a delete that comes before its message, and a reaction's removal that comes before the
//! reaction, each end as Discord itself ends, once.

use serde_json::Value;

use super::{Live, PUSHING};

/// The body of a Keybase message as `read` shows it.
fn body(m: &Value) -> &str {
    m["content"]["text"]["body"].as_str().unwrap_or_default()
}

/// The bridge account's text messages whose body has `tag`.
fn relayed<'a>(messages: &'a [Value], tag: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| m["sender"]["username"] == "alice" && body(m).contains(tag))
        .collect()
}

/// Who reacted with `emoji` to Keybase message `m`.
fn reactors(m: &Value, emoji: &str) -> Vec<String> {
    m["reactions"]["reactions"][emoji]["users"]
        .as_object()
        .map(|users| users.keys().cloned().collect())
        .unwrap_or_default()
}

impl Live {
    /// Dana says `tag` (no event held) and waits for it on Keybase: after it shows, every
    /// event of the channel before it has been applied (the relay keeps a chat's order).
    async fn marker(&mut self, tag: &str) {
        self.discord().say(tag);
        self.on_keybase(tag, |ms| (relayed(ms, tag).len() == 1).then_some(()))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_a_reaction_or_a_delete_before_its_message_ends_as_on_discord() {
    let _one = PUSHING.lock().await;
    let mut live = Live::with_discord("relay", false, "reactions = \"bot\"").await;
    live.start();
    live.relaying().await;
    let side = live.discord();
    let (standin, channel, dana) = (side.standin.clone(), side.channel, side.dana.clone());

    // MESSAGE_UPDATE before MESSAGE_CREATE: the copy ends with the edited text, once.
    standin.hold_dispatches(channel);
    let m = live.discord().say("order-edit v1");
    assert!(standin.edit_as(&dana, m, "order-edit v2"));
    let sent = standin.release_dispatches(channel, &[1, 0]);
    assert_eq!(sent, ["MESSAGE_UPDATE", "MESSAGE_CREATE"]);
    live.on_keybase("the edit that came first", |ms| {
        let copies = relayed(ms, "order-edit");
        (copies.len() == 1 && body(copies[0]).contains("order-edit v2")).then_some(())
    })
    .await;

    // MESSAGE_REACTION_ADD before MESSAGE_CREATE: the copy carries the reaction, as the
    // bridge account, once.
    standin.hold_dispatches(channel);
    let m = live.discord().say("order-react");
    assert!(standin.react_as(&dana, m, "👍"));
    let sent = standin.release_dispatches(channel, &[1, 0]);
    assert_eq!(sent, ["MESSAGE_REACTION_ADD", "MESSAGE_CREATE"]);
    live.on_keybase("the reaction that came first", |ms| {
        let copies = relayed(ms, "order-react");
        (copies.len() == 1 && reactors(copies[0], ":+1:") == ["alice"]).then_some(())
    })
    .await;

    // MESSAGE_DELETE before MESSAGE_CREATE: the message never shows. The marker said after
    // it is relayed after the late MESSAGE_CREATE was handled, so its absence then is final.
    standin.hold_dispatches(channel);
    let m = live.discord().say("order-delete");
    assert!(standin.delete_message(m));
    let sent = standin.release_dispatches(channel, &[1, 0]);
    assert_eq!(sent, ["MESSAGE_DELETE", "MESSAGE_CREATE"]);
    live.marker("order-marker-1").await;

    let kb = live.kb_messages();
    assert!(
        relayed(&kb, "order-delete").is_empty(),
        "the deleted message reached Keybase: {kb:#?}\n{}",
        live.logs()
    );
    assert_eq!(relayed(&kb, "order-edit").len(), 1, "{kb:#?}");
    let react = relayed(&kb, "order-react");
    assert_eq!(react.len(), 1, "{kb:#?}");
    assert_eq!(reactors(react[0], ":+1:"), ["alice"], "{kb:#?}");
    assert_eq!(live.stop(), Some(0), "{}", live.logs());
}

// The events alone cannot tell this from a removal of a reaction kbbridge never saw followed by
// a new one: the Discord source reads the reaction back when it handles each event, and hands
// over what is true then (here, twice a removal).
#[tokio::test(flavor = "multi_thread")]
async fn a_reaction_removal_before_the_reaction_leaves_no_reaction() {
    let _one = PUSHING.lock().await;
    let mut live = Live::with_discord("relay", false, "reactions = \"bot\"").await;
    live.start();
    live.relaying().await;
    let side = live.discord();
    let (standin, channel, dana) = (side.standin.clone(), side.channel, side.dana.clone());
    let m = live.discord().say("order-unreact");
    live.on_keybase("dana's message", |ms| {
        (relayed(ms, "order-unreact").len() == 1).then_some(())
    })
    .await;

    // Dana reacts and takes it back; the gateway sends the removal first. On Discord the
    // message has no reaction, so on Keybase neither.
    standin.hold_dispatches(channel);
    assert!(standin.react_as(&dana, m, "👍"));
    assert!(standin.unreact_as(&dana, m, "👍"));
    let sent = standin.release_dispatches(channel, &[1, 0]);
    assert_eq!(sent, ["MESSAGE_REACTION_REMOVE", "MESSAGE_REACTION_ADD"]);
    let on_discord = standin.messages(channel);
    let original = on_discord
        .iter()
        .find(|x| x.id == m)
        .expect("dana's message");
    assert!(original.reactions.is_empty(), "{original:?}");
    live.marker("order-marker-2").await;

    let kb = live.kb_messages();
    let copy = relayed(&kb, "order-unreact");
    assert_eq!(copy.len(), 1, "{kb:#?}");
    assert!(
        reactors(copy[0], ":+1:").is_empty(),
        "a reaction Discord no longer has is on Keybase: {:#?}\n{}",
        copy[0],
        live.logs()
    );
    assert_eq!(live.stop(), Some(0), "{}", live.logs());
}
