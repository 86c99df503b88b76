//! The stand-in against keybase.md: envelopes, error classes, pagination, output shapes, the
//! writing methods, the team API and the one-shot commands.

use keybase_standin::samples::export as world;

fn id_of(s: &keybase_standin::StandIn, chat: &str) -> String {
    let list = s.api(&[r#"{"method":"list"}"#]);
    list[0]["result"]["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            let ch = &c["channel"];
            let name = match ch["topic_name"].as_str() {
                Some(t) => format!("{}#{t}", ch["name"].as_str().unwrap()),
                None => ch["name"].as_str().unwrap().to_owned(),
            };
            name == chat
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn read_pages_newest_first_with_msgpack_cursors() {
    let s = world::build();
    let req = |extra: &str| {
        format!(
            r#"{{"method":"read","params":{{"version":1,"options":{{"channel":{{"name":"alice,bob"}},"pagination":{{"num":3{extra}}}}}}}}}"#
        )
    };
    let r = s.api(&[&req("")]);
    let page = &r[0]["result"];
    let ids: Vec<u64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["msg"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [4, 3, 2]);
    // next = msgpack(2) = 0x02 → "Ag==", previous = msgpack(4) → "BA=="; `last` omitted.
    assert_eq!(
        page["pagination"],
        serde_json::json!({"next": "Ag==", "previous": "BA==", "num": 3})
    );
    let r = s.api(&[&req(r#","next":"Ag==""#)]);
    assert_eq!(
        r[0]["result"]["pagination"],
        serde_json::json!({"next": "AQ==", "previous": "AQ==", "num": 1, "last": true})
    );
    // Past the end: an empty page that repeats the cursor.
    let r = s.api(&[&req(r#","next":"AQ==""#)]);
    assert_eq!(
        r[0]["result"]["pagination"],
        serde_json::json!({"next": "AQ==", "previous": null, "num": 0, "last": true})
    );
}

#[test]
fn messages_have_go_field_order_escaping_and_folds() {
    let s = world::build();
    let out = s.run(&["chat", "api"], r#"{"method":"read","params":{"options":{"channel":{"name":"acme","members_type":"team","topic_name":"general"},"pagination":{"num":40}}}}"#);
    let line = String::from_utf8(out.stdout).unwrap();
    let gid = id_of(&s, "acme#general");
    let alice = r#""sender":{"uid":""#;
    let two = format!(
        r#"{{"msg":{{"id":2,"conversation_id":"{gid}","channel":{{"name":"acme","members_type":"team","topic_type":"chat","topic_name":"general"}},{alice}"#
    );
    assert!(line.contains(&two), "{line}");
    assert!(line.contains(r#""content":{"type":"text","text":{"body":"Welcome to *acme* \u003c3 \u0026 more","payments":null,"userMentions":null,"teamMentions":null,"emojis":null}},"prev":[],"unread":false,"channel_mention":"none"}}"#), "{line}");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let msgs = v["result"]["messages"].as_array().unwrap();
    let by = |id: u64| {
        msgs.iter()
            .find(|m| m["msg"]["id"] == id)
            .map(|m| &m["msg"])
    };
    assert!(by(9).is_none(), "deleted");
    assert_eq!(
        by(4).unwrap()["content"]["text"]["body"],
        "hello all",
        "edit folded"
    );
    assert_eq!(
        by(5).unwrap()["content"]["type"],
        "edit",
        "superseding messages still listed"
    );
    assert_eq!(by(6).unwrap()["content"]["text"]["replyTo"], 4);
    assert_eq!(
        by(6).unwrap()["reactions"]["reactions"][":+1:"]["users"]["alice"]["reactionMsgID"],
        8
    );
    assert_eq!(
        by(3).unwrap()["content"],
        serde_json::json!({"type": "join"})
    );
    assert_eq!(
        by(10).unwrap()["content"]["delete"]["messageIDs"],
        serde_json::json!([9])
    );
}

#[test]
fn service_errors_reply_and_validation_errors_end_the_process() {
    let s = world::build();
    let out = s.run(&["chat", "api"], concat!(
        r#"{"method":"read","params":{"options":{"channel":{"name":"nobody,else"}}},"id":7,"jsonrpc":"2.0"}"#, "\n",
        r#"{"Method":"LIST"}"#, "\n",
        r#"{"method":"list","id":3}"#, "\n",
        r#"{"method":"read","params":{"options":{"channel":{"name":"alice,bob"},"conversation_id":"00"}}}"#, "\n",
        r#"{"method":"list"}"#, "\n",
    ));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"jsonrpc":"2.0","id":7,"error":{"code":0,"message":"no conversations matched \"nobody,else\""}}"#
    );
    assert_eq!(
        lines.len(),
        1,
        "an unknown method ends the process: {stdout}"
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(r#"invalid v1 method "LIST""#));

    let out = s.run(&["chat", "api"], r#"{"method":"read","params":{"options":{"channel":{"name":"alice,bob"},"conversation_id":"00"}}}"#);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("invalid read v1 options: include channel or conversation_id, not both")
    );
    let out = s.run(
        &["chat", "api"],
        r#"{"method":"read","params":{"options":{}}}"#,
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid read v1 options: empty options")
    );
    let out = s.run(&["chat", "api"], r#"{"method":"list"} {"method": "#);
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid JSON"));
    let out = s.run(&["chat", "api"], "");
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "EOF ends cleanly"
    );
}

#[test]
fn send_edit_react_delete_attach_and_download() {
    let s = world::build();
    let file = s.home().join("upload.txt");
    std::fs::write(&file, "UPLOADED").unwrap();
    let dm = r#""channel":{"name":"bob,alice"}"#;
    let out = s.home().join("out.txt");
    let r = s.api(&[
        &format!(r#"{{"method":"send","params":{{"options":{{{dm},"message":{{"body":"yes"}},"reply_to":2}}}}}}"#),
        &format!(r#"{{"method":"edit","params":{{"options":{{{dm},"message_id":5,"message":{{"body":"yes!"}}}}}}}}"#),
        &format!(r#"{{"method":"reaction","params":{{"options":{{{dm},"message_id":5,"message":{{"body":":+1:"}}}}}}}}"#),
        &format!(r#"{{"method":"attach","params":{{"options":{{{dm},"filename":"{}","title":"notes"}}}}}}"#, file.display()),
        &format!(r#"{{"method":"download","params":{{"options":{{{dm},"message_id":8,"output":"{}"}}}}}}"#, out.display()),
        &format!(r#"{{"method":"delete","params":{{"options":{{{dm},"message_id":5}}}}}}"#),
        &format!(r#"{{"method":"send","params":{{"options":{{{dm},"message":{{"body":"later"}},"nonblock":true}}}}}}"#),
        &format!(r#"{{"method":"get","params":{{"options":{{{dm},"message_ids":[9,2]}}}}}}"#),
    ]);
    assert_eq!(
        r[0]["result"],
        serde_json::json!({"message": "message sent", "id": 5})
    );
    assert_eq!(
        r[1]["result"],
        serde_json::json!({"message": "message edited", "id": 6})
    );
    assert_eq!(
        r[2]["result"],
        serde_json::json!({"message": "message reacted to", "id": 7})
    );
    assert_eq!(
        r[3]["result"],
        serde_json::json!({"message": "attachment sent", "id": 8})
    );
    assert_eq!(
        r[4]["result"]["message"],
        format!("attachment downloaded to {}", out.display())
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "UPLOADED");
    assert_eq!(
        r[5]["result"],
        serde_json::json!({"message": "message deleted", "id": 9})
    );
    assert!(r[6]["result"]["outbox_id"].is_string() && r[6]["result"].get("id").is_none());
    let got = r[7]["result"]["messages"].as_array().unwrap();
    assert_eq!(
        got[0]["msg"]["content"]["delete"]["messageIDs"],
        serde_json::json!([5, 6, 7]),
        "its edit and its reaction are deleted with it (getAllDeletedEdits)"
    );
    let read = s.api(&[&format!(
        r#"{{"method":"read","params":{{"options":{{{dm}}}}}}}"#
    )]);
    let ids: Vec<u64> = read[0]["result"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["msg"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ids,
        [10, 9, 8, 4, 3, 2, 1],
        "5, its edit 6 and its reaction 7 are gone"
    );
}

#[test]
fn channels_members_and_the_team_api() {
    let s = world::build();
    let r = s.api(&[
        r#"{"method":"listconvsonname","params":{"options":{"name":"acme.ops","members_type":"team","topic_type":"chat"}}}"#,
        r#"{"method":"listmembers","params":{"options":{"channel":{"name":"acme","members_type":"team","topic_name":"random"}}}}"#,
    ]);
    let alerts = &r[0]["result"]["conversations"][0];
    assert_eq!(
        (
            alerts["channel"]["topic_name"].as_str(),
            alerts["member_status"].as_str()
        ),
        (Some("alerts"), Some("never_joined"))
    );
    let members = &r[1]["result"]["members"];
    assert_eq!(members["owners"][0]["username"], "alice");
    assert_eq!(members["writers"][0]["username"], "bob");
    assert!(
        members["readers"].is_null(),
        "carol has not joined #random; empty lists are null"
    );

    let out = s.run(
        &["team", "api"],
        concat!(
            r#"{"method":"list-team-memberships","params":{"options":{"team":"acme"}}}"#,
            r#"{"method":"list-user-memberships","params":{"options":{"username":"bob"}}}"#,
            r#"{"method":"list-team-memberships","params":{"options":{"team":"nope"}}}"#,
            r#"{"method":"list-self-memberships"}"#,
        ),
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["result"]["members"]["readers"][0]["role"], 1);
    assert_eq!(
        lines[0]["result"]["settings"],
        serde_json::json!({"open": false, "joinAs": 1})
    );
    let bob: Vec<(&str, u64)> = lines[1]["result"]["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["fq_name"].as_str().unwrap(), t["role"].as_u64().unwrap()))
        .collect();
    assert_eq!(bob, [("acme", 2), ("acme.ops", 3)]);
    assert!(
        lines[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope"),
        "option problems are error replies"
    );
    assert_eq!(
        lines[3]["result"]["teams"].as_array().unwrap().len(),
        3 + 3,
        "one row per (team, member)"
    );
}

#[test]
fn one_shot_commands_print_what_the_cli_prints() {
    let s = world::build();
    let text = |args: &[&str]| String::from_utf8(s.run(args, "").stdout).unwrap();
    let following: serde_json::Value =
        serde_json::from_str(&text(&["list-following", "-j"])).unwrap();
    assert_eq!(following[0]["username"], "bob");
    assert!(
        text(&["list-following", "-j"]).starts_with("[\n    {"),
        "pretty, four spaces"
    );
    assert_eq!(
        text(&["list-followers", "-v"]),
        "bob\tBob B\ncarol\tCarol C\n"
    );
    assert_eq!(text(&["list-followers", "dave"]), "no followers\n");
    let no_json = s.run(&["list-followers", "-j"], "");
    assert!(!no_json.status.success(), "list-followers has no -j");
    let id: serde_json::Value = serde_json::from_str(&text(&["id", "-j"])).unwrap();
    assert_eq!(
        (
            id["username"].as_str(),
            id["proofs"][0]["proof"]["proofType"].as_u64()
        ),
        (Some("alice"), Some(3))
    );
    assert_eq!(
        text(&["git", "list"]),
        "personal repos:\n  dotfiles  keybase://private/alice/dotfiles\nteam repos:\n  acme/website  keybase://team/acme/website\n"
    );
    let ls = text(&["fs", "ls", "-w", "/keybase/private/alice"]);
    let rows: Vec<Vec<&str>> = ls.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(
        (rows[0][1], rows[0][2], rows[0][3]),
        ("FILE", "12", "notes.txt")
    );
    assert_eq!((rows[1][1], rows[1][3]), ("<DIR>", "photos"));
    assert!(rows[0][0].ends_with(" UTC"));
}
