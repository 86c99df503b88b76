//! The sink's live abilities against the homeserver: edits, reactions, redactions.

use super::*;

/// The sink's live abilities, read back from the homeserver: an edit is an `m.replace` by the
/// ghost that sent the original; a reaction is an annotation by the reacting user's ghost
/// whose event ID is returned (and found again when made twice); a delete redacts, twice
/// without harm; events kbbridge did not send are not changed.
#[tokio::test]
async fn the_sink_edits_reacts_and_redacts_as_the_right_ghost() {
    let _one = PUSHING.lock().await;
    let (env, listening) = env(pushing()).await;
    env.sink
        .edit(
            &env.room,
            &env.ghost_msg,
            &sender("alice"),
            &Content::plain("edited *now*"),
        )
        .await
        .unwrap();
    let events = env.read.messages(env.room.as_str()).await.unwrap();
    let edit = events
        .iter()
        .find(|e| e["content"]["m.relates_to"]["rel_type"] == "m.replace")
        .expect("an edit event");
    let original = env.event(env.ghost_msg.as_str()).await;
    assert_eq!(
        edit["sender"], original["sender"],
        "sent by the original's ghost"
    );
    assert_eq!(original["sender"], env.ghost("alice"));
    assert_eq!(
        edit["content"]["m.relates_to"]["event_id"],
        env.ghost_msg.as_str()
    );
    assert_eq!(edit["content"]["m.new_content"]["body"], "edited *now*");
    assert_eq!(edit["content"]["body"], "* edited *now*");
    assert_eq!(edit["content"]["m.mentions"], json!({}));

    let target = MsgId::new(env.say("react to me").await);
    let id = env
        .sink
        .react(&env.room, &target, &sender("carol"), ":tada:")
        .await
        .unwrap()
        .expect("the annotation's event ID");
    let annotation = env.event(id.as_str()).await;
    assert_eq!(annotation["type"], "m.reaction");
    assert_eq!(annotation["sender"], env.ghost("carol"));
    assert_eq!(
        annotation["content"]["m.relates_to"],
        json!({"rel_type": "m.annotation", "event_id": target.as_str(), "key": "🎉"})
    );
    let again = env
        .sink
        .react(&env.room, &target, &sender("carol"), ":tada:")
        .await
        .unwrap();
    assert_eq!(
        again,
        Some(id.clone()),
        "the same reaction twice is the same annotation"
    );

    // Taken back by its ID: redacted by its ghost; again, without harm.
    let carol = sender("carol");
    env.sink
        .unreact(&env.room, &target, &carol, ":tada:", Some(&id))
        .await
        .unwrap();
    let gone = env.event(id.as_str()).await;
    assert!(gone["unsigned"]["redacted_because"].is_object(), "{gone}");
    assert_eq!(gone["content"], json!({}));
    assert_eq!(
        gone["unsigned"]["redacted_because"]["sender"],
        env.ghost("carol")
    );
    env.sink.delete(&env.room, &id).await.unwrap();
    // Given again after being taken back: a new annotation; taken back without its ID, it is
    // found by ghost and emoji.
    let anew = env
        .sink
        .react(&env.room, &target, &carol, ":tada:")
        .await
        .unwrap()
        .expect("an annotation ID");
    assert_ne!(anew, id);
    env.sink
        .unreact(&env.room, &target, &carol, ":tada:", None)
        .await
        .unwrap();
    let gone = env.event(anew.as_str()).await;
    assert!(gone["unsigned"]["redacted_because"].is_object(), "{gone}");
    env.sink
        .unreact(&env.room, &target, &carol, ":tada:", None)
        .await
        .unwrap();

    // The human's own message is not kbbridge's to change.
    let refused = env
        .sink
        .edit(&env.room, &target, &sender("alice"), &Content::plain("x"))
        .await;
    assert!(
        matches!(refused, Err(bridge_core::AdapterError::Rejected { .. })),
        "{refused:?}"
    );
    let refused = env.sink.delete(&env.room, &target).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(env.event(target.as_str()).await["content"]["body"] == "react to me");
    listening.stop().await;
}
