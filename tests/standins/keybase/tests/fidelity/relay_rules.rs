//! The stand-in's rules the relay relies on (relay.md §7.3): a repeated reaction toggles off,
//! a delete lists its target's edits and reactions, messages carry their device, `whoami`.

use keybase_standin::samples::relay::{self as world, GENERAL, act, general_msg, write};

#[test]
fn a_repeated_reaction_toggles_off_as_a_delete_of_the_first() {
    let s = world::build();
    let opts = format!(r#"{GENERAL},"message_id":1,"message":{{"body":":+1:"}}"#);
    let first = write(&s, "carol", "reaction", &opts);
    let msg = general_msg(&s, 1).unwrap();
    assert_eq!(
        msg["reactions"]["reactions"][":+1:"]["users"]["carol"]["reactionMsgID"],
        first
    );
    // Another user's same reaction stands beside it.
    let bobs = write(&s, "bob", "reaction", &opts);
    let again = write(&s, "carol", "reaction", &opts);
    let toggled = general_msg(&s, again).unwrap();
    assert_eq!(toggled["content"]["type"], "delete");
    assert_eq!(
        toggled["content"]["delete"]["messageIDs"],
        serde_json::json!([first])
    );
    let users = &general_msg(&s, 1).unwrap()["reactions"]["reactions"][":+1:"]["users"];
    assert!(users.get("carol").is_none(), "{users}");
    assert_eq!(users["bob"]["reactionMsgID"], bobs);
    // And a third time puts it back, as a new reaction message.
    let third = write(&s, "carol", "reaction", &opts);
    assert_eq!(
        general_msg(&s, third).unwrap()["content"]["type"],
        "reaction"
    );
}

#[test]
fn a_delete_lists_the_edits_and_standing_reactions_of_its_target() {
    let s = world::build();
    let sent = write(
        &s,
        "bob",
        "send",
        &format!(r#"{GENERAL},"message":{{"body":"helo"}}"#),
    );
    let edit = write(
        &s,
        "bob",
        "edit",
        &format!(r#"{GENERAL},"message_id":{sent},"message":{{"body":"hello"}}"#),
    );
    let react = |who: &str, emoji: &str| {
        write(
            &s,
            who,
            "reaction",
            &format!(r#"{GENERAL},"message_id":{sent},"message":{{"body":"{emoji}"}}"#),
        )
    };
    let kept = react("carol", ":tada:");
    let taken = react("alice", ":+1:");
    let untaken = react("alice", ":+1:");
    let delete = write(
        &s,
        "bob",
        "delete",
        &format!(r#"{GENERAL},"message_id":{sent}"#),
    );
    let listed = &general_msg(&s, delete).unwrap()["content"]["delete"]["messageIDs"];
    assert_eq!(
        *listed,
        serde_json::json!([sent, edit, kept]),
        "the reaction taken back ({taken}, by {untaken}) is not listed again"
    );
    for gone in [sent, edit, kept, taken] {
        assert!(general_msg(&s, gone).is_none(), "{gone} still shows");
    }
}

#[test]
fn messages_carry_their_device_and_whoami_names_this_one() {
    let s = world::build();
    let laptop = write(
        &s,
        "alice",
        "send",
        &format!(r#"{GENERAL},"message":{{"body":"mine"}}"#),
    );
    let phone = write(
        &s,
        "alice:phone",
        "send",
        &format!(r#"{GENERAL},"message":{{"body":"phone"}}"#),
    );
    let m = general_msg(&s, laptop).unwrap();
    assert_eq!(
        (
            m["sender"]["username"].as_str(),
            m["sender"]["device_name"].as_str()
        ),
        (Some("alice"), Some("laptop"))
    );
    let p = general_msg(&s, phone).unwrap();
    assert_eq!(p["sender"]["device_name"], "phone");
    assert_ne!(p["sender"]["device_id"], m["sender"]["device_id"]);
    let who = s.run(&["whoami", "-json"], "");
    let who: serde_json::Value = serde_json::from_slice(&who.stdout).unwrap();
    assert_eq!(who["user"]["username"], "alice");
    assert_eq!(who["deviceName"], "laptop");
    assert_eq!(who["loggedIn"], true);
    let plain = s.run(&["whoami"], "");
    assert_eq!(String::from_utf8(plain.stdout).unwrap().trim(), "alice");
    // A request the acting user may not make is refused as the service refuses it.
    let refused = act(
        &s,
        "carol",
        "send",
        r#""channel":{"name":"alice,bob"},"message":{"body":"x"}"#,
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no conversations matched")
    );
}
