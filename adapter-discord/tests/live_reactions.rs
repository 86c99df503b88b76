//! Live reactions on copies against the stand-in, through the relay engine (which counts the
//! users sharing a bot reaction), for each `[discord] reactions` setting.

mod common;

use adapter_discord::{config::ReactionStyle, limiter::LimiterOptions};
use bridge_core::{AdapterError, Event, MsgRef, Sink, relay::Applied};
use chrono::{TimeZone, Utc};
use common::{
    backfill, chat, kb,
    relay::{Live, id, live, person},
    rig,
};
use discord_standin::Limits;

fn react(target: &MsgRef, who: &str, emoji: &str, add: bool) -> Event {
    let (target, sender, emoji, id) = (target.clone(), person(who), emoji.to_owned(), None);
    if add {
        Event::ReactionAdded {
            target,
            sender,
            emoji,
            id,
        }
    } else {
        Event::ReactionRemoved {
            target,
            sender,
            emoji,
            id,
        }
    }
}

/// The bot's reactions on message `msg`: (emoji, how many users).
fn reactions(r: &common::Rig, channel: u64, msg: u64) -> Vec<(String, usize)> {
    let m = r
        .standin
        .messages(channel)
        .into_iter()
        .find(|m| m.id == msg);
    m.unwrap()
        .reactions
        .iter()
        .filter(|x| !x.users.is_empty())
        .map(|x| (x.emoji.clone(), x.users.len()))
        .collect()
}

fn content(r: &common::Rig, channel: u64, msg: u64) -> String {
    let m = r
        .standin
        .messages(channel)
        .into_iter()
        .find(|m| m.id == msg);
    m.unwrap().content
}

async fn setup(
    style: ReactionStyle,
) -> (
    common::Rig,
    Live,
    std::sync::Arc<adapter_discord::DiscordSink>,
) {
    let r = rig(Limits::discord().scaled(0.1), 10 * 1024 * 1024).await;
    let channel = r.channel("general");
    let mut config = r.config();
    config.reactions = style;
    let sink = r.sink_with(&config, LimiterOptions::default());
    let l = live(&r.store, sink.clone(), chat("acme#general"), channel);
    (r, l, sink)
}

#[tokio::test]
async fn bot_reactions_are_shared_by_users_and_go_with_the_last() {
    let (r, mut l, sink) = setup(ReactionStyle::Bot).await;
    assert_eq!(sink.reaction_style(), bridge_core::ReactionStyle::Shared);
    let msg = kb(&l.kb, 1, "react to me");
    l.apply(Event::Message(msg.clone())).await;
    let copy = l.parts(&msg.origin).await[0];
    let o = &msg.origin;
    // Keybase gives reactions as shortcodes: one emoji for Discord.
    assert_eq!(
        l.apply(react(o, "alice", ":+1:", true)).await,
        Applied::Relayed(1)
    );
    assert_eq!(
        l.apply(react(o, "bob", ":+1:", true)).await,
        Applied::Relayed(1)
    );
    assert_eq!(reactions(&r, l.channel, copy), vec![("👍".to_owned(), 1)]);
    l.apply(react(o, "alice", ":+1:", false)).await;
    assert_eq!(
        reactions(&r, l.channel, copy),
        vec![("👍".to_owned(), 1)],
        "bob's stays"
    );
    l.apply(react(o, "bob", ":+1:", false)).await;
    assert!(
        reactions(&r, l.channel, copy).is_empty(),
        "gone with the last user"
    );

    // A Keybase custom emoji has no Discord equivalent: refused, the relay goes on.
    assert_eq!(
        l.apply(react(o, "bob", ":kb_custom_x:", true)).await,
        Applied::Relayed(0)
    );
}

#[tokio::test]
async fn the_21st_different_emoji_is_rejected_with_a_reason() {
    let (r, mut l, sink) = setup(ReactionStyle::Bot).await;
    let msg = kb(&l.kb, 1, "popular");
    l.apply(Event::Message(msg.clone())).await;
    let copy = l.parts(&msg.origin).await[0];
    let emoji: Vec<String> = ('\u{1F600}'..='\u{1F614}').map(String::from).collect();
    for e in &emoji[..20] {
        assert_eq!(
            l.apply(react(&msg.origin, "alice", e, true)).await,
            Applied::Relayed(1)
        );
    }
    assert_eq!(reactions(&r, l.channel, copy).len(), 20);
    // Through the relay: refused for good, logged and skipped, not an error.
    let applied = l.apply(react(&msg.origin, "alice", &emoji[20], true)).await;
    assert_eq!(applied, Applied::Relayed(0));
    assert_eq!(reactions(&r, l.channel, copy).len(), 20);
    let err = sink
        .react(&l.to(), &id(copy), &person("bob"), &emoji[20])
        .await
        .unwrap_err();
    match err {
        AdapterError::Rejected { reason } => assert!(reason.contains("maximum of 20"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_reactions_line_names_who_reacted_through_adds_removes_and_edits() {
    let (r, mut l, sink) = setup(ReactionStyle::Line).await;
    assert_eq!(sink.reaction_style(), bridge_core::ReactionStyle::PerUser);
    let msg = kb(&l.kb, 1, "hello");
    l.apply(Event::Message(msg.clone())).await;
    let copy = l.parts(&msg.origin).await[0];
    let o = &msg.origin;
    l.apply(react(o, "alice", ":+1:", true)).await;
    l.apply(react(o, "bob", "👍", true)).await;
    l.apply(react(o, "carol_x", ":tada:", true)).await;
    assert_eq!(
        content(&r, l.channel, copy),
        "hello\n-# 👍 alice, bob · 🎉 carol\\_x"
    );
    l.apply(react(o, "alice", ":+1:", false)).await;
    assert_eq!(
        content(&r, l.channel, copy),
        "hello\n-# 👍 bob · 🎉 carol\\_x"
    );

    // An edit keeps the line; one that needs three parts moves it to the last.
    let at = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
    let edit = |text: &str, s: i64| Event::Edit {
        target: o.clone(),
        sender: person("alice"),
        content: bridge_core::Content::plain(text),
        at: at(s),
    };
    l.apply(edit("hi", 1)).await;
    assert_eq!(content(&r, l.channel, copy), "hi\n-# 👍 bob · 🎉 carol\\_x");
    let long: String = (0..1000).map(|i| format!("w{i} ")).collect();
    l.apply(edit(long.trim_end(), 2)).await;
    let parts = l.parts(o).await;
    assert_eq!(parts.len(), 3);
    assert!(!content(&r, l.channel, parts[0]).contains("-# "));
    let last = content(&r, l.channel, parts[2]);
    assert!(last.ends_with("w999\n-# 👍 bob · 🎉 carol\\_x"), "{last}");
    // Reactions go on changing the line where it now is.
    l.apply(react(o, "bob", "👍", false)).await;
    l.apply(react(o, "carol_x", ":tada:", false)).await;
    let last = content(&r, l.channel, parts[2]);
    assert!(last.ends_with("w999"), "{}", &last[last.len() - 80..]);
}

#[tokio::test]
async fn a_backfilled_line_is_kept_when_live_reactions_change_it() {
    let r = rig(Limits::discord().scaled(0.1), 10 * 1024 * 1024).await;
    let channel = r.channel("general");
    let c = chat("acme#general");
    let mut m = kb(&c, 1, "old news");
    m.reactions = vec![bridge_core::Reaction {
        emoji: "👍".into(),
        exact: true,
        users: vec![person("dave")],
        times: Vec::new(),
    }];
    backfill(
        &r.store,
        r.sink(),
        vec![(c.clone(), vec![m.clone()], channel)],
    )
    .await;
    let mut l = live(&r.store, r.sink(), c, channel);
    let copy = l.parts(&m.origin).await[0];
    l.apply(react(&m.origin, "erin", ":+1:", true)).await;
    l.apply(react(&m.origin, "erin", ":tada:", true)).await;
    let t = m.sent_at.timestamp();
    assert_eq!(
        content(&r, channel, copy),
        format!("**── <t:{t}:D> ──**\n<t:{t}:f> old news\n-# 👍 dave, erin · 🎉 erin")
    );
}

#[tokio::test]
async fn with_reactions_none_they_are_not_relayed() {
    let (r, mut l, _sink) = setup(ReactionStyle::None).await;
    let msg = kb(&l.kb, 1, "quiet");
    l.apply(Event::Message(msg.clone())).await;
    let copy = l.parts(&msg.origin).await[0];
    assert_eq!(
        l.apply(react(&msg.origin, "alice", "👍", true)).await,
        Applied::Relayed(0)
    );
    assert!(reactions(&r, l.channel, copy).is_empty());
    assert_eq!(content(&r, l.channel, copy), "quiet");
}
