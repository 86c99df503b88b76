//! Files and replies said on Discord, through `kbbridge run` and the live gateway: a file
//! reaches Keybase (as the bridge account, its bytes intact) and Matrix; a reply to the copy
//! of a Keybase message, with text or a file alone, is a reply to the original on Keybase
//! and Matrix; files whose names a hostile server could send (`../../evil.sh`, `/`, control
//! characters, 300 characters, empty, `..`, a right-to-left override) arrive on Keybase and on
//! Matrix under safe names, without anything written outside kbbridge's temporary area.

use std::path::Path;

use serde_json::Value;

use super::{Live, PUSHING, event_with_body};

/// The body of a Keybase message as `read` shows it.
fn body(m: &Value) -> &str {
    m["content"]["text"]["body"].as_str().unwrap_or_default()
}

/// The file name of a Keybase attachment message.
fn file_name(m: &Value) -> Option<&str> {
    m["content"]["attachment"]["object"]["filename"].as_str()
}

/// `n` bytes of a known pattern (every byte value, so nothing text-only survives by chance).
fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

impl Live {
    /// The bytes the Keybase stand-in stored for attachment message `id` named `name`.
    fn kb_file(&self, id: u64, name: &str) -> Vec<u8> {
        let path = self.kb_home.join(format!("files/acme#general/{id}-{name}"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_and_a_reply_from_discord_reach_keybase_and_matrix() {
    let _one = PUSHING.lock().await;
    let mut live = Live::with_discord("relay", true, "").await;
    live.start();
    let room = live.room().await;
    let bob = live.ghost("bob");

    // dana's file: on Keybase from the bridge account, named as on Discord, the same bytes.
    let side = live.discord();
    let bytes = pattern(4096, 7);
    let posted = side
        .standin
        .post_with(
            &side.dana,
            side.channel,
            "",
            &[("diagram.png", &bytes)],
            None,
        )
        .unwrap();
    let (id, title) = live
        .on_keybase("dana's file", |messages| {
            messages
                .iter()
                .find(|m| m["sender"]["username"] == "alice" && file_name(m) == Some("diagram.png"))
                .map(|m| {
                    let title = m["content"]["attachment"]["object"]["title"].as_str();
                    (m["id"].as_u64().unwrap(), title.unwrap_or("").to_owned())
                })
        })
        .await;
    assert_eq!(live.kb_file(id, "diagram.png"), bytes);
    assert!(title.contains("dana"), "the author is shown: {title:?}");
    // …and on Matrix, an image whose media holds the same bytes.
    let mxc = live
        .on_matrix(&room, "dana's file", |events| {
            events
                .iter()
                .find(|e| e["type"] == "m.room.message" && e["content"]["body"] == "diagram.png")
                .map(|e| {
                    assert_eq!(e["content"]["msgtype"], "m.image", "{e}");
                    e["content"]["url"].as_str().unwrap().to_owned()
                })
        })
        .await;
    assert_eq!(live.read.download(&mxc).await.unwrap(), bytes);

    // bob asks on Keybase; dana answers on Discord as a reply to the copy of his message.
    let asked = live.kb_write("bob", "send", r#""message":{"body":"which diagram?"}"#);
    let copy = live
        .on_discord("bob's question", |ms| {
            ms.iter()
                .find(|m| m.webhook_id.is_some() && m.content.contains("which diagram?"))
                .map(|m| m.id)
        })
        .await;
    let on_matrix = live
        .on_matrix(&room, "bob's question", |events| {
            event_with_body(events, &bob, "which diagram?")
                .map(|e| e["event_id"].as_str().unwrap().to_owned())
        })
        .await;
    let side = live.discord();
    side.standin
        .post_with(&side.dana, side.channel, "the one above", &[], Some(copy))
        .unwrap();
    let reply_to = live
        .on_keybase("dana's reply", |messages| {
            messages
                .iter()
                .find(|m| m["sender"]["username"] == "alice" && body(m).contains("the one above"))
                .map(|m| m["content"]["text"]["replyTo"].clone())
        })
        .await;
    assert_eq!(reply_to, asked, "a reply to bob's original");
    live.on_matrix(&room, "dana's reply", |events| {
        events
            .iter()
            .find(|e| {
                e["type"] == "m.room.message"
                    && e["content"]["body"]
                        .as_str()
                        .is_some_and(|b| b.contains("the one above"))
            })
            .map(|e| {
                let parent = &e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"];
                assert_eq!(parent, on_matrix.as_str(), "a reply to bob's copy: {e}");
            })
    })
    .await;

    // A reply of a file alone: Keybase's `attach` takes no reply, so a text part naming the
    // file carries the link, the file after it.
    let sketch = pattern(2048, 99);
    let side = live.discord();
    side.standin
        .post_with(
            &side.dana,
            side.channel,
            "",
            &[("sketch.txt", &sketch)],
            Some(copy),
        )
        .unwrap();
    let (reply_to, file) = live
        .on_keybase("dana's reply of a file", |messages| {
            let at = messages.iter().position(|m| {
                m["sender"]["username"] == "alice" && body(m).contains("📎 sketch.txt")
            })?;
            let file = messages[at..]
                .iter()
                .find(|m| file_name(m) == Some("sketch.txt"))?;
            Some((
                messages[at]["content"]["text"]["replyTo"].clone(),
                file["id"].as_u64().unwrap(),
            ))
        })
        .await;
    assert_eq!(
        reply_to, asked,
        "the file's reply is linked to bob's original"
    );
    assert_eq!(live.kb_file(file, "sketch.txt"), sketch);
    live.on_matrix(&room, "dana's reply of a file", |events| {
        events
            .iter()
            .find(|e| e["type"] == "m.room.message" && e["content"]["filename"] == "sketch.txt")
            .map(|e| {
                let parent = &e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"];
                assert_eq!(parent, on_matrix.as_str(), "a reply to bob's copy: {e}");
            })
    })
    .await;

    // Each once on Keybase: no echo of the copies, nothing sent twice.
    let messages = live.kb_messages();
    let files = messages.iter().filter(|m| file_name(m).is_some()).count();
    let replies = messages
        .iter()
        .filter(|m| body(m).contains("the one above") || body(m).contains("📎 sketch.txt"))
        .count();
    assert_eq!((files, replies), (2, 2), "{messages:#?}");
    assert!(
        live.discord()
            .messages()
            .iter()
            .all(|m| m.id == posted || !m.files.iter().any(|f| f.bytes == bytes)),
        "the file is not echoed back to Discord"
    );
    live.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_file_names_from_discord_arrive_under_safe_names() {
    let _one = PUSHING.lock().await;
    let mut live = Live::with_discord("relay", true, "").await;
    // kbbridge's temporary area, to look into afterwards.
    let tmp = live.dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    live.env
        .push(("TMPDIR".into(), tmp.to_string_lossy().into_owned()));
    live.start();
    let room = live.room().await;

    // Names as Discord itself never sends them: the client must not trust them.
    let long = format!("{}.txt", "x".repeat(296));
    let names = [
        "../../evil.sh",
        "dir/inner.txt",
        "bell\u{7}\u{1b}[31mred\ttab.txt",
        long.as_str(),
        "",
        "..",
        "invoice\u{202e}fdp.exe",
    ];
    let contents: Vec<Vec<u8>> = (0..names.len())
        .map(|i| pattern(1000 + i, i as u8))
        .collect();
    let files: Vec<(&str, &[u8])> = names
        .iter()
        .copied()
        .zip(contents.iter().map(Vec::as_slice))
        .collect();
    let side = live.discord();
    side.standin
        .post_with_names_as_given(&side.dana, side.channel, "hostile names", &files, None)
        .unwrap();

    // Every file arrives (none dropped silently), each under a name that is one plain path
    // component, with its own bytes.
    let arrived = live
        .on_keybase("the files with hostile names", |messages| {
            let got: Vec<(u64, String)> = messages
                .iter()
                .filter(|m| m["sender"]["username"] == "alice")
                .filter_map(|m| Some((m["id"].as_u64()?, file_name(m)?.to_owned())))
                .collect();
            (got.len() >= names.len()).then_some(got)
        })
        .await;
    assert_eq!(arrived.len(), names.len(), "{arrived:?}");
    for ((id, name), bytes) in arrived.iter().zip(&contents) {
        assert_safe(name);
        assert_eq!(&live.kb_file(*id, name), bytes, "{name:?}");
    }
    let text = live.kb_messages();
    assert!(
        text.iter().any(|m| body(m).contains("hostile names")),
        "the text goes too: {text:#?}"
    );

    // On Matrix, where a client saves the file under the name it is shown: each file as media
    // holding its bytes, under a safe name.
    let media = live
        .on_matrix(&room, "the files with hostile names", |events| {
            let got: Vec<(String, String)> = events
                .iter()
                .filter(|e| e["type"] == "m.room.message")
                .filter_map(|e| {
                    let c = &e["content"];
                    let name = c["filename"].as_str().or(c["body"].as_str())?;
                    Some((c["url"].as_str()?.to_owned(), name.to_owned()))
                })
                .collect();
            (got.len() >= names.len()).then_some(got)
        })
        .await;
    assert_eq!(media.len(), names.len(), "{media:?}");
    for ((url, name), bytes) in media.iter().zip(&contents) {
        assert_safe(name);
        assert_eq!(&live.read.download(url).await.unwrap(), bytes, "{url}");
    }

    // Nothing escaped: no evil.sh anywhere in the test's folder but the stand-in's store, and
    // the temporary area is empty again (each upload folder removed after its send).
    live.stop();
    let store = live.kb_home.join("files");
    let escaped = find(live.dir.path(), "evil.sh", &store);
    assert!(
        escaped.is_empty(),
        "written outside the temp area: {escaped:?}"
    );
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

/// Fails unless `name` is one plain path component that shows as written: no folder, no
/// control character, no reordering of the text around it, and not endless.
fn assert_safe(name: &str) {
    assert!(
        !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains(['/', '\\'])
            && !name.chars().any(char::is_control)
            && !name.contains(['\u{202e}', '\u{202d}', '\u{2066}', '\u{2067}', '\u{2068}'])
            && name.len() <= 255,
        "unsafe name {name:?}"
    );
}

/// The files under `dir` (except under `skip`) whose name ends with `suffix`.
fn find(dir: &Path, suffix: &str, skip: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.starts_with(skip) {
            continue;
        }
        if path.is_dir() {
            found.extend(find(&path, suffix, skip));
        } else if path.to_string_lossy().ends_with(suffix) {
            found.push(path);
        }
    }
    found
}
