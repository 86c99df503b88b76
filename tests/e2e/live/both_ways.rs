//! Keybase ↔ Matrix through `kbbridge run`: each kind of event made by a person on one side
//! shows on the other from the right author, and nothing comes back as an echo.

use serde_json::{Value, json};

use super::{Live, PUSHING, event_with_body, messages_from, redacted};

/// The body of a Keybase message as `read` shows it.
fn body(m: &Value) -> &str {
    m["content"]["text"]["body"].as_str().unwrap_or_default()
}

/// A transaction as the homeserver pushes it: one message of `sender` in `room`.
fn transaction(room: &str, sender: &str, text: &str) -> String {
    let event = json!({
        "type": "m.room.message",
        "event_id": format!("${}", text.trim_end_matches('.')),
        "sender": sender,
        "room_id": room,
        "origin_server_ts": 1_700_000_000_000_u64,
        "content": {"msgtype": "m.text", "body": text},
    });
    json!({ "events": [event] }).to_string()
}

/// Who reacted with `emoji` to Keybase message `m`.
fn reactors(m: &Value, emoji: &str) -> Vec<String> {
    m["reactions"]["reactions"][emoji]["users"]
        .as_object()
        .map(|users| users.keys().cloned().collect())
        .unwrap_or_default()
}

/// Sends `bytes` from the Matrix user into `room` as a file named `name`; waits for the bridge
/// account's copy on Keybase under the file name `on_keybase`, and returns the bytes Keybase
/// stored for it.
async fn file_on_keybase(
    live: &mut Live,
    room: &str,
    name: &str,
    bytes: &[u8],
    on_keybase: &str,
) -> Vec<u8> {
    let uri = live
        .human
        .upload("upload.txt", "text/plain", bytes.to_vec())
        .await
        .unwrap();
    live.human
        .send(
            room,
            "m.room.message",
            json!({"msgtype": "m.file", "body": name, "url": uri,
                "info": {"mimetype": "text/plain", "size": bytes.len()}}),
        )
        .await
        .unwrap();
    let file_id = live
        .on_keybase(&format!("the Matrix file {name:?}"), |messages| {
            messages
                .iter()
                .find(|m| {
                    m["sender"]["username"] == "alice"
                        && m["content"]["attachment"]["object"]["filename"] == on_keybase
                })
                .map(|m| m["id"].as_u64().unwrap())
        })
        .await;
    let stored = live
        .kb_home
        .join(format!("files/acme#general/{file_id}-{on_keybase}"));
    std::fs::read(&stored).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_event_crosses_both_ways_once() {
    let _one = PUSHING.lock().await;
    let mut live = Live::new("relay").await;
    live.start();
    let room = live.room().await;
    let (bob, carol) = (live.ghost("bob"), live.ghost("carol"));

    // Keybase → Matrix: a message, from bob's ghost; what came before the relay stays behind.
    let first = live.kb_write("bob", "send", r#""message":{"body":"hello from keybase"}"#);
    let copy = live
        .on_matrix(&room, "bob's message", |events| {
            event_with_body(events, &bob, "hello from keybase")
                .map(|e| e["event_id"].as_str().unwrap().to_owned())
        })
        .await;

    // A reply, pointing at the copy of its parent.
    live.kb_write(
        "carol",
        "send",
        &format!(r#""message":{{"body":"a reply"}},"reply_to":{first}"#),
    );
    live.on_matrix(&room, "carol's reply", |events| {
        event_with_body(events, &carol, "a reply")
            .filter(|e| e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == copy.as_str())
            .map(|_| ())
    })
    .await;

    // An edit, as an `m.replace` by the same ghost.
    live.kb_write(
        "bob",
        "edit",
        &format!(r#""message_id":{first},"message":{{"body":"hello, edited"}}"#),
    );
    live.on_matrix(&room, "bob's edit", |events| {
        messages_from(events, &bob)
            .any(|e| {
                e["content"]["m.relates_to"]["rel_type"] == "m.replace"
                    && e["content"]["m.relates_to"]["event_id"] == copy.as_str()
                    && e["content"]["m.new_content"]["body"] == "hello, edited"
            })
            .then_some(())
    })
    .await;

    // A reaction by carol's ghost, then taken back (Keybase toggles a repeated reaction off).
    let reaction = format!(r#""message_id":{first},"message":{{"body":"🎉"}}"#);
    live.kb_write("carol", "reaction", &reaction);
    let annotation = live
        .on_matrix(&room, "carol's reaction", |events| {
            events
                .iter()
                .find(|e| {
                    e["type"] == "m.reaction"
                        && e["sender"] == carol.as_str()
                        && e["content"]["m.relates_to"]["event_id"] == copy.as_str()
                        && e["content"]["m.relates_to"]["key"] == "🎉"
                })
                .map(|e| e["event_id"].as_str().unwrap().to_owned())
        })
        .await;
    live.kb_write("carol", "reaction", &reaction);
    live.on_matrix(&room, "carol's reaction taken back", |events| {
        redacted(events, &annotation).then_some(())
    })
    .await;

    // Matrix → Keybase: a person's message, posted by the bridge account with its author.
    let said = live
        .human
        .send(
            &room,
            "m.room.message",
            json!({"msgtype": "m.text", "body": "hi from matrix"}),
        )
        .await
        .unwrap();
    let name = live.human.user_id[1..]
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let relayed = live
        .on_keybase("the Matrix message", |messages| {
            messages
                .iter()
                .find(|m| m["sender"]["username"] == "alice" && body(m).contains("hi from matrix"))
                .map(|m| (m["id"].as_u64().unwrap(), body(m).to_owned()))
        })
        .await;
    assert!(
        relayed.1.contains(&name) && relayed.1.contains("Matrix"),
        "the author is shown: {:?}",
        relayed.1
    );

    // Its edit.
    live.human
        .send(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "* hi, edited",
                "m.new_content": {"msgtype": "m.text", "body": "hi, edited"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": said},
            }),
        )
        .await
        .unwrap();
    live.on_keybase("the Matrix edit", |messages| {
        messages
            .iter()
            .find(|m| m["id"] == relayed.0 && body(m).contains("hi, edited"))
            .map(|_| ())
    })
    .await;

    // A reaction on the copy of bob's message goes to bob's message on Keybase, as the
    // shortcode Keybase shows.
    let thumbs = live
        .human
        .send(
            &room,
            "m.reaction",
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": copy, "key": "👍"}}),
        )
        .await
        .unwrap();
    live.on_keybase("the Matrix reaction", |messages| {
        messages
            .iter()
            .find(|m| m["id"] == first && reactors(m, ":+1:") == ["alice"])
            .map(|_| ())
    })
    .await;
    // Taken back: a redaction of the annotation.
    live.human.redact(&room, &thumbs).await.unwrap();
    live.on_keybase("the Matrix reaction taken back", |messages| {
        messages
            .iter()
            .find(|m| m["id"] == first && reactors(m, ":+1:").is_empty())
            .map(|_| ())
    })
    .await;

    // Files: bob's on Keybase reaches Matrix with its bytes; the human's reaches Keybase.
    let upload = live.dir.path().join("report.txt");
    std::fs::write(&upload, "quarterly numbers").unwrap();
    let attach = format!(
        r#""filename":{:?},"title":"the report""#,
        upload.display().to_string()
    );
    live.kb_write("bob", "attach", &attach);
    let mxc = live
        .on_matrix(&room, "bob's file", |events| {
            messages_from(events, &bob)
                .find(|e| e["content"]["url"].is_string())
                .map(|e| e["content"]["url"].as_str().unwrap().to_owned())
        })
        .await;
    assert_eq!(
        live.read.download(&mxc).await.unwrap(),
        b"quarterly numbers"
    );
    let stored = file_on_keybase(&mut live, &room, "notes.txt", b"from matrix", "notes.txt").await;
    assert_eq!(stored, b"from matrix");

    // A Matrix client may name a file anything: it reaches Keybase as one plain component
    // that reads as written (no folder, no right-to-left override), with its bytes.
    let hostile = "../up/evil\u{202e}hs.txt";
    let stored = file_on_keybase(
        &mut live,
        &room,
        hostile,
        b"hostile name",
        "___up_evil_hs.txt",
    )
    .await;
    assert_eq!(stored, b"hostile name");

    // The homeserver's door: a wrong hs_token is refused and changes nothing; a transaction
    // sent twice is taken once.
    let forged = transaction(&room, &live.human.user_id, "forged.");
    assert_eq!(live.push("wrong-token", "t-forged", &forged), 403);
    let replayed = transaction(&room, &live.human.user_id, "replayed.");
    let token = live.pushing.hs_token.clone();
    assert_eq!(live.push(&token, "t-replayed", &replayed), 200);
    assert_eq!(live.push(&token, "t-replayed", &replayed), 200);
    live.on_keybase("the replayed transaction", |messages| {
        messages
            .iter()
            .any(|m| body(m).contains("replayed."))
            .then_some(())
    })
    .await;

    // Deletes: the Matrix message's copy, and bob's message's copy.
    live.human.redact(&room, &said).await.unwrap();
    live.on_keybase("the Matrix delete", |messages| {
        (!messages.iter().any(|m| m["id"] == relayed.0)).then_some(())
    })
    .await;
    live.kb_write("bob", "delete", &format!(r#""message_id":{first}"#));
    live.on_matrix(&room, "bob's delete", |events| {
        redacted(events, &copy).then_some(())
    })
    .await;

    // Nothing echoed: one copy of each side's messages on the other, none of the bridge's own.
    let events = live.read.messages(&room).await.unwrap();
    let alice = live.ghost("alice");
    assert_eq!(
        messages_from(&events, &alice).count(),
        0,
        "the bridge account's relayed message came back to Matrix: {events:#?}"
    );
    let plain = |sender: &str| {
        messages_from(&events, sender)
            .filter(|e| e["content"]["m.relates_to"]["rel_type"] != "m.replace")
            .count()
    };
    assert_eq!(
        plain(&bob),
        2,
        "bob's message and file once each: {events:#?}"
    );
    assert_eq!(plain(&carol), 1, "carol's reply once: {events:#?}");
    assert!(
        event_with_body(&events, &bob, "before the bridge").is_none(),
        "a relay-only link does not copy the history"
    );
    let from_alice: Vec<String> = live
        .kb_messages()
        .iter()
        .filter(|m| m["sender"]["username"] == "alice" && m["content"]["type"] == "text")
        .map(|m| body(m).to_owned())
        .collect();
    assert!(
        from_alice.len() == 1 && from_alice[0].contains("replayed."),
        "the bridge account's texts: the replayed transaction's, once (the other relayed text \
         was deleted, the forged one refused): {from_alice:#?}"
    );
    assert_eq!(
        live.stop(),
        Some(0),
        "SIGTERM stops cleanly:\n{}",
        live.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_asks_the_keybase_client_what_the_relay_needs() {
    let _one = PUSHING.lock().await;
    let live = Live::new("relay").await;
    let out = live.command(&["check"]).output().unwrap();
    let stdout = crate::support::text(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        crate::support::text(&out.stderr)
    );
    assert!(stdout.contains("keybase (live):"), "{stdout}");
    assert!(stdout.contains("client: logged in as alice"), "{stdout}");
    assert!(
        stdout.contains("general: keybase:acme#general is conversation 0000"),
        "{stdout}"
    );

    // Logged in as someone else than the mapping file says.
    let out = live
        .command(&["check"])
        .env("KBBRIDGE__KEYBASE__USERNAME", "bob")
        .output()
        .unwrap();
    let stdout = crate::support::text(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("client: problem: the keybase client is logged in as alice"),
        "{stdout}"
    );
}
