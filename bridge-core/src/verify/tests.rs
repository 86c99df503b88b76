//! A backfill into a fake target, verified, then tampered with by hand and verified again.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::{
    backfill::{Backfill, BackfillJob, BackfillOptions, Target},
    ids::Platform,
    model::{Content, Sender},
    testing::{FakeHistory, FakeSink, Script, text_message},
};

struct World {
    _dir: tempfile::TempDir,
    store: MappingStore,
    history: Arc<FakeHistory>,
    sink: Arc<FakeSink>,
    from: ChatRef,
    to: ChatRef,
}

/// Six messages copied into a target whose copies take two parts each; message 4 rejected.
async fn copied() -> World {
    copied_into(FakeSink::new(Platform::Matrix)).await
}

/// [`copied`] into `sink`.
async fn copied_into(sink: FakeSink) -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("map.db").display());
    let store = MappingStore::open(&url).await.unwrap();
    let from = ChatRef::new(Platform::Keybase, "acme#general");
    let to = ChatRef::new(Platform::Matrix, "!room:x");
    let msgs = (1..=6)
        .map(|i| text_message(&from, i, &format!("message {i}")))
        .collect();
    let history = Arc::new(FakeHistory::new(Platform::Keybase).with_chat(from.chat.clone(), msgs));
    let sink = Arc::new(sink.with_parts(|_| 2));
    sink.script("4", 0, Script::Reject("too big".into()));
    let engine = Backfill::new(store.clone(), BackfillOptions::default());
    let job = BackfillJob {
        link: "general".into(),
        source: history.clone(),
        from: from.clone(),
        sink: sink.clone(),
        to: Target::Named(to.clone()),
    };
    let outcomes = engine.run(vec![job], &CancellationToken::new()).await;
    assert!(outcomes[0].result.is_ok());
    World {
        _dir: dir,
        store,
        history,
        sink,
        from,
        to,
    }
}

async fn check(w: &World) -> Verification {
    verify(
        &w.store,
        w.history.as_ref(),
        &w.from,
        w.sink.as_ref(),
        &w.to,
    )
    .await
    .unwrap()
}

fn copy_of(w: &World, msg: &str, part: u32) -> MsgId {
    w.sink
        .delivered()
        .into_iter()
        .find(|d| d.origin.msg.as_str() == msg && d.part == part)
        .unwrap()
        .id
}

#[tokio::test]
async fn a_complete_copy_passes_with_the_rejected_message_counted() {
    let w = copied().await;
    let v = check(&w).await;
    assert!(v.passed(), "{:?}", v.findings);
    assert_eq!((v.messages, v.rejected, v.parts_ok), (6, 1, 10));
}

#[tokio::test]
async fn a_deleted_a_reposted_and_an_edited_copy_are_each_named() {
    let w = copied().await;
    let chat = w.to.chat.clone();
    let deleted = copy_of(&w, "2", 0);
    w.sink.delete(&chat, &deleted).await.unwrap();
    let twice = copy_of(&w, "3", 1);
    let extra = w.sink.repost(&twice);
    let edited = copy_of(&w, "5", 0);
    let person = Sender {
        id: crate::ids::UserId::new("mallory"),
        name: "mallory".into(),
        avatar: None,
    };
    w.sink
        .edit(&chat, &edited, &person, &Content::plain("changed"))
        .await
        .unwrap();

    let v = check(&w).await;
    let origin = |n: &str| w.from.msg(n);
    assert_eq!(
        v.findings,
        vec![
            Finding::Missing {
                origin: origin("2"),
                part: 0,
                id: deleted
            },
            Finding::Duplicated {
                origin: origin("3"),
                part: 1,
                extra: vec![extra]
            },
            Finding::Altered {
                origin: origin("5"),
                part: 0,
                id: edited
            },
        ]
    );
    assert!(!v.passed());
}

#[tokio::test]
async fn a_message_never_copied_is_named() {
    let w = copied().await;
    // The source grew after the backfill.
    let mut msgs: Vec<_> = (1..=7)
        .map(|i| text_message(&w.from, i, &format!("message {i}")))
        .collect();
    let later = msgs.pop().unwrap();
    msgs.push(later.clone());
    let history = FakeHistory::new(Platform::Keybase).with_chat(w.from.chat.clone(), msgs);
    let v = verify(&w.store, &history, &w.from, w.sink.as_ref(), &w.to)
        .await
        .unwrap();
    assert_eq!(
        v.findings,
        vec![Finding::NotCopied {
            origin: later.origin
        }]
    );
    assert_eq!(
        v.findings[0].to_string(),
        "keybase:acme#general:7: not copied"
    );
}

#[tokio::test]
async fn without_sources_a_repost_is_found_by_its_text() {
    let w = copied_into(FakeSink::new(Platform::Discord).without_sources()).await;
    let twice = copy_of(&w, "3", 0);
    let extra = w.sink.repost(&twice);
    let v = check(&w).await;
    assert_eq!(
        v.findings,
        vec![Finding::Duplicated {
            origin: w.from.msg("3"),
            part: 0,
            extra: vec![extra]
        }]
    );
}
