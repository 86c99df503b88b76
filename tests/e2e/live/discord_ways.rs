//! Keybase ↔ Discord through `kbbridge run` (the Discord stand-in's gateway dialled by serenity
//! unchanged): each kind of event made by a person on one side shows on the other, from the
//! right author, and nothing comes back as an echo.

use discord_standin::RecordedMessage;
use serde_json::Value;

use super::{Live, PUSHING, discord::DiscordSide};

/// SUPPRESS_NOTIFICATIONS: set on backfilled copies, never on live ones.
const SUPPRESSED: u64 = 1 << 12;

/// The body of a Keybase message as `read` shows it.
fn body(m: &Value) -> &str {
    m["content"]["text"]["body"].as_str().unwrap_or_default()
}

/// Who reacted with `emoji` to Keybase message `m`.
fn reactors(m: &Value, emoji: &str) -> Vec<String> {
    m["reactions"]["reactions"][emoji]["users"]
        .as_object()
        .map(|users| users.keys().cloned().collect())
        .unwrap_or_default()
}

/// The copy kbbridge's webhook posted with `text` in it.
fn copy_with<'a>(messages: &'a [RecordedMessage], text: &str) -> Option<&'a RecordedMessage> {
    messages
        .iter()
        .find(|m| m.webhook_id.is_some() && m.content.contains(text))
}

/// Whether the bot reacted with `emoji` to `m`.
fn bot_reacted(m: &RecordedMessage, emoji: &str, bot: u64) -> bool {
    m.reactions
        .iter()
        .any(|r| r.emoji == emoji && r.users.contains(&bot))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_event_crosses_keybase_and_discord_once() {
    let _one = PUSHING.lock().await;
    let mut live = Live::with_discord("relay", false, "reactions = \"bot\"").await;
    // Everything kbbridge's crates log, for the check that no token is among it.
    live.env.push((
        "RUST_LOG".into(),
        "info,kbbridge=debug,bridge_core=debug,adapter_discord=debug,adapter_keybase=debug".into(),
    ));
    live.start();
    live.relaying().await;
    let bot = live.discord().standin.bot_id();

    // Keybase → Discord: bob's message through the webhook, under his name, notifying as a
    // live message does, but never the whole channel.
    let first = live.kb_write("bob", "send", r#""message":{"body":"hello from keybase"}"#);
    let copy = live
        .on_discord("bob's message", |ms| {
            copy_with(ms, "hello from keybase").cloned()
        })
        .await;
    assert!(copy.author_name.contains("bob"), "author: {copy:?}");
    assert_eq!(copy.flags & SUPPRESSED, 0, "a live copy notifies: {copy:?}");
    live.kb_write(
        "carol",
        "send",
        r#""message":{"body":"@everyone @here look"}"#,
    );
    let loud = live
        .on_discord("carol's @everyone", |ms| copy_with(ms, "look").cloned())
        .await;
    assert!(loud.pinged.is_empty(), "nobody is pinged: {loud:?}");

    // Its edit, in place.
    live.kb_write(
        "bob",
        "edit",
        &format!(r#""message_id":{first},"message":{{"body":"hello, edited"}}"#),
    );
    live.on_discord("bob's edit", |ms| {
        ms.iter()
            .find(|m| m.id == copy.id && m.content.contains("hello, edited"))
            .map(|m| assert!(m.edited.is_some()))
    })
    .await;

    // A reaction, as the bot's, taken back when carol takes hers back.
    let reaction = format!(r#""message_id":{first},"message":{{"body":":tada:"}}"#);
    live.kb_write("carol", "reaction", &reaction);
    live.on_discord("carol's reaction", |ms| {
        ms.iter()
            .find(|m| m.id == copy.id && bot_reacted(m, "🎉", bot))
            .map(|_| ())
    })
    .await;
    live.kb_write("carol", "reaction", &reaction);
    live.on_discord("carol's reaction taken back", |ms| {
        ms.iter()
            .find(|m| m.id == copy.id && !bot_reacted(m, "🎉", bot))
            .map(|_| ())
    })
    .await;

    // Discord → Keybase: dana's message, posted by the bridge account with her name.
    let said = live.discord().say("hi from discord");
    let relayed = live
        .on_keybase("dana's message", |messages| {
            messages
                .iter()
                .find(|m| m["sender"]["username"] == "alice" && body(m).contains("hi from discord"))
                .map(|m| (m["id"].as_u64().unwrap(), body(m).to_owned()))
        })
        .await;
    assert!(
        relayed.1.contains("dana") && relayed.1.contains("Discord"),
        "the author is shown: {:?}",
        relayed.1
    );

    // Her edit.
    let side = live.discord();
    assert!(side.standin.edit_as(&side.dana, said, "hi, edited"));
    live.on_keybase("dana's edit", |messages| {
        messages
            .iter()
            .find(|m| m["id"] == relayed.0 && body(m).contains("hi, edited"))
            .map(|_| ())
    })
    .await;

    // Her reaction on the copy of bob's message reaches bob's message, then goes.
    let side = live.discord();
    assert!(side.standin.react_as(&side.dana, copy.id, "👍"));
    live.on_keybase("dana's reaction", |messages| {
        messages
            .iter()
            .find(|m| m["id"] == first && reactors(m, ":+1:") == ["alice"])
            .map(|_| ())
    })
    .await;
    let side = live.discord();
    assert!(side.standin.unreact_as(&side.dana, copy.id, "👍"));
    live.on_keybase("dana's reaction taken back", |messages| {
        messages
            .iter()
            .find(|m| m["id"] == first && reactors(m, ":+1:").is_empty())
            .map(|_| ())
    })
    .await;

    // Deletes, each way.
    assert!(live.discord().standin.delete_message(said));
    live.on_keybase("dana's message deleted", |messages| {
        (!messages.iter().any(|m| m["id"] == relayed.0)).then_some(())
    })
    .await;
    live.kb_write("bob", "delete", &format!(r#""message_id":{first}"#));
    live.on_discord("bob's message deleted", |ms| {
        (!ms.iter().any(|m| m.id == copy.id)).then_some(())
    })
    .await;

    // Nothing echoed: Discord holds carol's copy only (dana's and bob's are deleted), Keybase
    // no copy of a copy.
    let left: Vec<String> = live
        .discord()
        .messages()
        .iter()
        .map(|m| m.content.clone())
        .collect();
    assert_eq!(left.len(), 1, "Discord: {left:?}");
    let kb = live.kb_messages();
    let from_bridge: Vec<&str> = kb
        .iter()
        .filter(|m| m["sender"]["username"] == "alice" && m["content"]["type"] == "text")
        .map(body)
        .collect();
    assert!(
        from_bridge.is_empty(),
        "no echo on Keybase: {from_bridge:?}"
    );
    assert_eq!(live.stop(), Some(0), "{}", live.logs());
    // No secret in any log line: neither the bot's token nor the webhook's.
    let logs = live.logs();
    let side = live.discord();
    let mut secrets = vec![side.standin.token().to_owned()];
    secrets.extend(side.standin.webhooks().into_iter().map(|w| w.token));
    assert!(secrets.len() > 1, "the webhook was made");
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a token is logged");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_gateway_reconnect_or_a_lost_session_nothing_is_lost_or_doubled() {
    let _one = PUSHING.lock().await;
    let mut live = Live::with_discord("relay", false, "").await;
    live.start();
    live.relaying().await;
    let said: Vec<String> = (0..30).map(|i| format!("dc{i}.")).collect();
    for b in &said[..10] {
        live.discord().say(b);
    }
    // op 7: the session is resumed and the events sent meanwhile replayed.
    assert_eq!(live.discord().standin.force_reconnect(), 1);
    for b in &said[10..20] {
        live.discord().say(b);
    }
    let started = std::time::Instant::now();
    while live.discord().standin.gateway_stats().resumes == 0 {
        assert!(
            started.elapsed() < super::ARRIVAL,
            "no RESUME after op 7: {:?}\n{}",
            live.discord().standin.gateway_stats(),
            live.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // op 9, not resumable: a new session, and what was said meanwhile read back.
    assert_eq!(live.discord().standin.force_invalid_session(false), 1);
    for b in &said[20..] {
        live.discord().say(b);
    }
    let bodies = live
        .on_keybase("every Discord message", |messages| {
            let texts: Vec<String> = messages
                .iter()
                .filter(|m| m["sender"]["username"] == "alice")
                .filter_map(|m| m["content"]["text"]["body"].as_str().map(str::to_owned))
                .collect();
            said.iter()
                .all(|b| texts.iter().any(|t| t.contains(b.as_str())))
                .then_some(texts)
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let again = live.kb_messages();
    let texts: Vec<&str> = again
        .iter()
        .filter(|m| m["sender"]["username"] == "alice")
        .filter_map(|m| m["content"]["text"]["body"].as_str())
        .collect();
    for b in &said {
        let n = texts.iter().filter(|t| t.contains(b.as_str())).count();
        assert_eq!(
            n,
            1,
            "{b} on Keybase {n} times: {bodies:?}\n{}",
            live.logs()
        );
    }
    let order: Vec<usize> = texts
        .iter()
        .filter_map(|t| said.iter().position(|b| t.contains(b.as_str())))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "order: {order:?}");
    let stats = live.discord().standin.gateway_stats();
    assert!(
        stats.resumes >= 1,
        "the op 7 session was resumed: {stats:?}"
    );
    assert!(
        stats.identifies >= 2,
        "op 9 made it identify again: {stats:?}"
    );
    assert_eq!(live.stop(), Some(0), "{}", live.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_message_content_intent_it_stops_and_says_how_to_fix_it() {
    let _one = PUSHING.lock().await;
    let side = DiscordSide::with_intents(0).await;
    let mut live = Live::with_side(side, "relay", false, "").await;
    live.start();
    let started = std::time::Instant::now();
    let code = loop {
        if let Some(code) = live.exited() {
            break code;
        }
        assert!(
            started.elapsed() < super::ARRIVAL,
            "kbbridge kept running without the intent:\n{}",
            live.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_ne!(code, Some(0));
    let logs = live.logs();
    let lower = logs.to_lowercase();
    assert!(
        lower.contains("message content intent") && lower.contains("developer portal"),
        "the advice is given: {logs}"
    );
    let stats = live.discord().standin.gateway_stats();
    assert_eq!(stats.closes.get(&4014), Some(&1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn discord_mentions_reach_keybase_as_names() {
    let _one = PUSHING.lock().await;
    let mut live = Live::with_discord("relay", false, "").await;
    let side = live.discord();
    let role = side.standin.add_role("moderators", 0);
    let (dana, channel) = (side.dana.id, side.channel);
    live.start();
    live.relaying().await;
    live.discord().say(&format!(
        "thanks <@{dana}>, ask <@&{role}> in <#{channel}> <:party:123> before <t:1700000000:f>"
    ));
    let relayed = live
        .on_keybase("dana's mentions", |messages| {
            messages
                .iter()
                .filter(|m| m["sender"]["username"] == "alice")
                .find_map(|m| m["content"]["text"]["body"].as_str().map(str::to_owned))
        })
        .await;
    assert!(
        relayed.contains("thanks @dana, ask @moderators in #general :party: before 2023-11-14"),
        "{relayed}"
    );
    assert_eq!(live.stop(), Some(0), "{}", live.logs());
}
