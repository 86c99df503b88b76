//! SIGHUP while traffic flows: a link added, one removed, one changed, one untouched; then a
//! broken file refused with the running links untouched.

use std::time::Duration;

use super::{Live, PUSHING, event_with_body, messages_from};

/// The `"channel":{…}` of `acme#<topic>`.
fn channel(topic: &str) -> String {
    format!(r#""channel":{{"name":"acme","members_type":"team","topic_name":"{topic}"}}"#)
}

/// A relay link of `acme#<topic>` into an "auto" room, named `name`.
fn link(name: &str, topic: &str) -> String {
    format!(
        "[[link]]\nname = \"{name}\"\nkeybase = \"acme#{topic}\"\nmatrix = \"auto\"\nmode = \"relay\"\n\n"
    )
}

impl Live {
    /// bob says `body` in `acme#<topic>`.
    fn bob_in(&self, topic: &str, body: &str) {
        self.keybase().write_in(
            &channel(topic),
            "bob",
            "send",
            &format!(r#""message":{{"body":"{body}"}}"#),
        );
    }

    /// Sends SIGHUP and waits until the `n`th reload (or refusal) is logged.
    async fn hangup(&mut self, n: usize) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status();
        let started = std::time::Instant::now();
        loop {
            self.assert_running();
            let log = self.logs();
            let done = log.matches("configuration reloaded").count()
                + log.matches("the mapping file was refused").count();
            if done >= n {
                return;
            }
            assert!(started.elapsed() < super::ARRIVAL, "no reload:\n{log}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_adds_removes_and_changes_links_while_traffic_flows_and_refuses_a_broken_file() {
    let _one = PUSHING.lock().await;
    let first = [
        link("general", "general"),
        link("ops", "ops"),
        link("design", "design"),
    ]
    .concat();
    let mut live = Live::with_links(&first, &[], "").await;
    std::fs::write(
        live.kb_home.join("conversations.json"),
        r#"[{"name": "acme", "topic_name": "general"}, {"name": "acme", "topic_name": "ops"},
            {"name": "acme", "topic_name": "design"}, {"name": "acme", "topic_name": "dev"},
            {"name": "acme", "topic_name": "random"}]"#,
    )
    .unwrap();
    live.start();
    let general = live.room().await;
    let ops = live.room_of("acme#ops").await;
    let design = live.room_of("acme#design").await;
    let bob = live.ghost("bob");

    // Traffic in the untouched link all along.
    let keybase = live.keybase();
    let talking = std::thread::spawn(move || {
        for i in 0..40 {
            keybase.write_in(
                &channel("design"),
                "bob",
                "send",
                &format!(r#""message":{{"body":"design{i}."}}"#),
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    });

    // Reloaded: "ops" removed, "general" changed to acme#random, "dev" added.
    let second = [
        link("general", "random"),
        link("design", "design"),
        link("dev", "dev"),
    ]
    .concat();
    let config = live.dir.path().join("kbbridge.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let head = &text[..text.find("[[link]]").unwrap()];
    std::fs::write(&config, format!("{head}{second}")).unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    live.hangup(1).await;
    assert!(
        live.logs().contains("stopped=2 started=2"),
        "{}",
        live.logs()
    );

    let random = live.room_of("acme#random").await;
    let dev = live.room_of("acme#dev").await;
    live.bob_in("random", "random1.");
    live.bob_in("dev", "dev1.");
    live.bob_in("ops", "ops1.");
    live.bob_in("general", "general1.");
    for (room, body) in [(&random, "random1."), (&dev, "dev1.")] {
        live.on_matrix(room, body, |events| {
            event_with_body(events, &bob, body).map(|_| ())
        })
        .await;
    }

    // A broken file: refused, the running links go on.
    std::fs::write(&config, format!("{head}[[link]\nname = ")).unwrap();
    live.hangup(2).await;
    assert!(live.logs().contains("the mapping file was refused"));
    live.bob_in("dev", "dev2.");
    live.on_matrix(&dev, "dev2.", |events| {
        event_with_body(events, &bob, "dev2.").map(|_| ())
    })
    .await;
    talking.join().unwrap();

    // The untouched link: every message once, in order, across both reloads.
    let bodies: Vec<String> = (0..40).map(|i| format!("design{i}.")).collect();
    let events = live
        .on_matrix(&design, "design39.", |events| {
            event_with_body(events, &bob, "design39.").map(|_| events.to_vec())
        })
        .await;
    let got: Vec<&str> = messages_from(&events, &bob)
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    assert_eq!(got, bodies, "each once, in order");
    // The removed and the left chats: nothing after the reload.
    for (room, body) in [(&ops, "ops1."), (&general, "general1.")] {
        let events = live.read.messages(room).await.unwrap();
        assert!(
            event_with_body(&events, &bob, body).is_none(),
            "{body} relayed"
        );
    }
    assert_eq!(live.stop(), Some(0));
}
