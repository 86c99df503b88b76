//! A person's files and replies (`post_with`): the MESSAGE_CREATE a client sees (attachments
//! named as Discord names uploads, their bytes downloadable; the reply's `message_reference`),
//! names kept as given for testing a client's defences, and what is refused.

use discord_standin::{TEXT, intents};
use serde_json::json;

use super::support::{RELAY_INTENTS, Raw, start};

const QUERY: &str = "v=10&encoding=json";

#[tokio::test]
async fn a_human_posts_files_and_replies() {
    let s = start(intents::PRIVILEGED).await;
    let channel = s.create_channel("general", TEXT, None);
    let alice = s.add_human("alice");
    let (mut raw, _) = Raw::connect(&s, QUERY).await;
    raw.open(&s, RELAY_INTENTS).await;
    let web = reqwest::Client::new();

    let first = s.post_as(&alice, channel, "the plan").unwrap();
    raw.event("MESSAGE_CREATE", 3).await;
    let photo: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let reply = s
        .post_with(
            &alice,
            channel,
            "",
            &[("my photo (1).png", &photo), ("notes", b"plain")],
            Some(first),
        )
        .unwrap();
    let d = raw.event("MESSAGE_CREATE", 4).await;
    assert_eq!(d["id"], reply.to_string());
    assert_eq!(d["content"], "");
    assert_eq!(d["type"], 19, "a reply: {d}");
    assert_eq!(d["message_reference"]["message_id"], first.to_string());
    assert_eq!(d["message_reference"]["channel_id"], channel.to_string());
    let files = d["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{d}");
    assert_eq!(files[0]["filename"], "my_photo_1.png");
    assert_eq!(files[0]["size"], 3000);
    assert_eq!(files[0]["content_type"], "image/png");
    assert_eq!(files[1]["filename"], "notes");
    assert_eq!(files[1].get("content_type"), None, "unknown kind: {d}");
    for (file, bytes) in files.iter().zip([&photo[..], b"plain"]) {
        let url = file["url"].as_str().unwrap();
        let got = web.get(url).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], bytes, "{url}");
    }
    let recorded = s.messages(channel);
    let kept = recorded.iter().find(|m| m.id == reply).unwrap();
    assert_eq!(kept.reference, Some(first));
    assert_eq!(kept.files[0].name, "my_photo_1.png");
    assert_eq!(kept.files[0].bytes, photo);

    // Names kept as given: `filename` says them; the URL still works.
    let hostile = ["../../evil.sh", "a/b", "\u{1b}[31mred\u{7}.txt", ""];
    let long = "x".repeat(300);
    let given: Vec<(&str, &[u8])> = hostile
        .iter()
        .copied()
        .chain([long.as_str()])
        .map(|n| (n, &b"data"[..]))
        .collect();
    s.post_with_names_as_given(&alice, channel, "raw", &given, None)
        .unwrap();
    let d = raw.event("MESSAGE_CREATE", 5).await;
    assert_eq!(d["type"], 0);
    assert_eq!(d["message_reference"], json!(null));
    let files = d["attachments"].as_array().unwrap();
    let names: Vec<&str> = files
        .iter()
        .map(|f| f["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names[..4], hostile);
    assert_eq!(names[4], long);
    for f in files {
        let url = f["url"].as_str().unwrap();
        let got = web.get(url).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], b"data", "{url}");
    }

    // Refused as Discord refuses: nothing at all, 11 files, a reply to an unknown message or
    // to another channel's.
    let other = s.create_channel("other", TEXT, None);
    let elsewhere = s.post_as(&alice, other, "elsewhere").unwrap();
    let eleven = vec![("f.txt", &b"x"[..]); 11];
    assert_eq!(s.post_with(&alice, channel, "", &[], None), None);
    assert_eq!(s.post_with(&alice, channel, "many", &eleven, None), None);
    assert_eq!(s.post_with(&alice, channel, "re", &[], Some(1)), None);
    assert_eq!(
        s.post_with(&alice, channel, "re", &[], Some(elsewhere)),
        None
    );
    assert_eq!(s.messages(channel).len(), 3);
}
