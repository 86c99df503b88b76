//! The listener alone (no homeserver): tokens, repeated transactions, filters, limits.

use super::*;

/// A transaction as Synapse sends it, with these events.
fn transaction(events: &[Value]) -> String {
    json!({ "events": events }).to_string()
}

fn message(id: &str, room: &str, sender: &str) -> Value {
    json!({
        "type": "m.room.message", "event_id": id, "room_id": room, "sender": sender,
        "origin_server_ts": 1_700_000_000_000_u64, "content": {"msgtype": "m.text", "body": id},
        "unsigned": {},
    })
}

/// Straight at the listener (no homeserver): the hs_token is required on every endpoint (401
/// without, 403 when wrong, and then nothing is written, not even the transaction's ID); a
/// transaction repeated, an event redelivered, kbbridge's own events, state events and
/// unknown rooms change nothing; the legacy query token works; the users and rooms queries
/// are 404; an oversized or unreadable body is refused and not recorded.
#[tokio::test]
async fn the_listener_checks_the_token_and_takes_each_transaction_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kbbridge.db").display());
    let store = MappingStore::open(&url).await.unwrap();
    let rooms = KnownRooms::default();
    let room = "!known:localhost";
    rooms.insert(&ChatId::new(room));
    let bot = ruma::UserId::parse("@kbbridge:localhost").unwrap();
    let filter = Filter {
        ours: Ours::new(bot, "kb_"),
        rooms,
    };
    let receiver = Arc::new(Receiver::new(
        store.clone(),
        filter,
        Secret::new("right-token"),
    ));
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let listening = Listening::start(listener, receiver).unwrap();
    let base = format!("http://{}", listening.addr());
    let http = reqwest::Client::new();
    let put = |txn: &str, token: Option<&str>, body: String| {
        let mut r = http
            .put(format!("{base}/_matrix/app/v1/transactions/{txn}"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    };
    let status = |r: reqwest::Response| async move {
        let s = r.status().as_u16();
        let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or(Value::Null);
        (s, body)
    };
    let one = transaction(&[message("$one", room, "@human:localhost")]);

    let (s, b) = status(
        put("1", Some("wrong-token"), one.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")));
    let (s, b) = status(put("1", None, one.clone()).send().await.unwrap()).await;
    assert_eq!((s, b["errcode"].as_str()), (401, Some("M_MISSING_TOKEN")));
    assert_eq!(store.inbox_counts(INGRESS).await.unwrap(), (0, 0));

    // The same transaction ID, now with the token: taken (the refusals recorded nothing).
    let (s, b) = status(
        put("1", Some("right-token"), one.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b), (200, json!({})));
    // Again, whatever it carries: 200, no effect.
    let other = transaction(&[message("$other", room, "@human:localhost")]);
    let (s, b) = status(put("1", Some("right-token"), other).send().await.unwrap()).await;
    assert_eq!((s, b), (200, json!({})));
    let ids = |items: Vec<bridge_core::store::InboxItem>| -> Vec<String> {
        items.into_iter().map(|i| i.native_id).collect()
    };
    assert_eq!(
        ids(store.inbox_waiting(INGRESS, 10).await.unwrap()),
        ["$one"]
    );

    // A new transaction redelivering $one, with kbbridge's own, a state event, an unknown
    // room and one new event: only the new one is written.
    let mixed = transaction(&[
        message("$one", room, "@human:localhost"),
        message("$ghost", room, "@kb_alice:localhost"),
        message("$bot", room, "@kbbridge:localhost"),
        message("$elsewhere", "!unknown:localhost", "@human:localhost"),
        json!({"type": "m.room.member", "event_id": "$join", "room_id": room, "state_key": "@human:localhost",
               "sender": "@human:localhost", "origin_server_ts": 1, "content": {"membership": "join"}}),
        message("$two", room, "@human:localhost"),
    ]);
    let (s, _) = status(put("2", Some("right-token"), mixed).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(
        ids(store.inbox_waiting(INGRESS, 10).await.unwrap()),
        ["$one", "$two"]
    );

    // The legacy query token.
    let three = transaction(&[message("$three", room, "@human:localhost")]);
    let r = http
        .put(format!(
            "{base}/_matrix/app/v1/transactions/3?access_token=right-token"
        ))
        .header("content-type", "application/json")
        .body(three)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // A full transaction (100 events of about 60 KiB, as Synapse may send) is well within the
    // limit: refusing one would hold up every later transaction.
    let big: Vec<Value> = (0..100)
        .map(|i| {
            let mut m = message(&format!("$big{i}"), room, "@human:localhost");
            m["content"]["body"] = json!("x".repeat(60_000));
            m
        })
        .collect();
    let (s, _) = status(
        put("big", Some("right-token"), transaction(&big))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(store.inbox_counts(INGRESS).await.unwrap(), (103, 0));
    for item in store.inbox_waiting(INGRESS, 200).await.unwrap() {
        if item.native_id.starts_with("$big") {
            store.inbox_done(item.id).await.unwrap();
        }
    }

    // Refused bodies record nothing, not even the transaction ID.
    let huge = format!(
        "{{\"events\": [], \"pad\": \"{}\"}}",
        " ".repeat(BODY_LIMIT)
    );
    let (s, _) = status(put("4", Some("right-token"), huge).send().await.unwrap()).await;
    assert_eq!(s, 413);
    let (s, b) = status(
        put("4", Some("right-token"), "{not json".into())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["errcode"].as_str()), (400, Some("M_BAD_JSON")));
    let four = transaction(&[message("$four", room, "@human:localhost")]);
    let (s, _) = status(put("4", Some("right-token"), four).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(
        ids(store.inbox_waiting(INGRESS, 10).await.unwrap()),
        ["$one", "$two", "$three", "$four"]
    );

    // The ping, the users and rooms queries, anything else.
    let (s, b) = status(
        http.post(format!("{base}/_matrix/app/v1/ping"))
            .bearer_auth("right-token")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b), (200, json!({})));
    let (s, _) = status(
        http.post(format!("{base}/_matrix/app/v1/ping"))
            .bearer_auth("nope")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 403);
    for path in ["users/@kb_x:localhost", "rooms/%23kb_x:localhost"] {
        let get = |t: &'static str| {
            http.get(format!("{base}/_matrix/app/v1/{path}"))
                .bearer_auth(t)
                .send()
        };
        let (s, b) = status(get("right-token").await.unwrap()).await;
        assert_eq!(
            (s, b["errcode"].as_str()),
            (404, Some("M_NOT_FOUND")),
            "{path}"
        );
        let (s, _) = status(get("nope").await.unwrap()).await;
        assert_eq!(s, 403, "{path}");
    }
    let (s, b) = status(http.get(format!("{base}/elsewhere")).send().await.unwrap()).await;
    assert_eq!((s, b["errcode"].as_str()), (404, Some("M_UNRECOGNIZED")));
    listening.stop().await;
}

/// Without an hs_token every transaction would be refused: kbbridge does not start listening,
/// and says what to set.
#[tokio::test]
async fn no_listener_without_an_hs_token() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kbbridge.db").display());
    let store = MappingStore::open(&url).await.unwrap();
    let mut config = adapter_matrix::config::MatrixConfig {
        homeserver: Some("http://127.0.0.1:1".parse().unwrap()),
        server_name: Some("localhost".into()),
        ..Default::default()
    };
    config.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let client = MatrixClient::new(
        config.homeserver.as_ref().unwrap(),
        "localhost",
        Secret::new("as"),
        "kbbridge",
    )
    .unwrap();
    let refused = appservice::start(&config, &client, store, KnownRooms::default()).await;
    let Err(e) = refused else {
        panic!("started without an hs_token")
    };
    assert!(e.to_string().contains("KBBRIDGE__MATRIX__HS_TOKEN"), "{e}");
}
