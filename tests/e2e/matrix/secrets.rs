//! No appservice token leaves kbbridge while the homeserver's connections are reset mid-request
//! (a proxy in front of the real Synapse): every byte of output and of the database searched for
//! the `as_token` and the `hs_token`, at every verbosity. The Discord half is in `secrets.rs`.

use std::{net::SocketAddr, process::Output, sync::atomic::Ordering};

use super::{
    Bridge, sample_export,
    verify::{expected, verify_room},
};
use crate::{
    proxy::ResetProxy,
    secrets::{VERBOSITIES, assert_no_token, files, fresh_token},
    support::text,
};

const CHATS: [&str; 4] = [
    "acme#general",
    "acme#random",
    "acme.ops#alerts",
    "alice,bob",
];
const ROOMS: [(&str, &str); 4] = [
    ("acme#general", "acme-general"),
    ("acme#random", "acme-random"),
    ("acme.ops#alerts", "acme.ops-alerts"),
    ("alice,bob", "-alice=2cbob"),
];

/// Attempts per verbosity: a reset while rooms are being set up ends a run today (setup is not
/// retried yet), and the next run goes on from what is recorded; the backfill itself retries
/// through resets.
const ATTEMPTS: usize = 10;

#[tokio::test(flavor = "multi_thread")]
async fn no_appservice_token_in_any_output_or_row_while_connections_reset() {
    let synapse: SocketAddr = {
        let bridge = Bridge::with_export(&sample_export(), &CHATS, 200);
        bridge.synapse.url.socket_addrs(|| None).unwrap()[0]
    };
    // Every 9th chunk a client sends is reset, before or after it reaches Synapse.
    let proxy = ResetProxy::start(synapse, 9).await;
    let hs_token = fresh_token("hs");
    let expected = expected(&sample_export()).await;
    for (name, flags, rust_log) in VERBOSITIES {
        let bridge = Bridge::with_export(&sample_export(), &CHATS, 200);
        let as_token = bridge.synapse.as_token.clone();
        let mut places: Vec<(String, Vec<u8>)> = Vec::new();
        let mut done = false;
        for attempt in 1..=ATTEMPTS {
            let mut cmd = bridge.command(&[]);
            cmd.args(flags)
                .arg("backfill")
                .env(
                    "KBBRIDGE__MATRIX__HOMESERVER",
                    format!("http://{}", proxy.addr()),
                )
                .env("KBBRIDGE__MATRIX__HS_TOKEN", &hs_token);
            match rust_log {
                Some(filter) => cmd.env("RUST_LOG", filter),
                None => cmd.env_remove("RUST_LOG"),
            };
            let out: Output = tokio::task::spawn_blocking(move || cmd.output())
                .await
                .unwrap()
                .unwrap();
            let ok = out.status.success();
            let stderr = text(&out.stderr);
            places.push((format!("{name} #{attempt}: stdout"), out.stdout));
            places.push((format!("{name} #{attempt}: stderr"), out.stderr));
            if ok {
                done = true;
                break;
            }
            println!("{name}: attempt {attempt} failed:\n{stderr}");
        }
        assert!(done, "{name}: no run ended well in {ATTEMPTS} attempts");

        // The token was in use: the rooms exist, made by the bot through the proxy with it,
        // and every message arrived once despite the resets.
        let read = bridge.synapse.read_back();
        for (chat, alias) in ROOMS {
            let room = read
                .alias(&bridge.alias(alias))
                .await
                .unwrap_or_else(|e| panic!("{name}: no room for {chat}: {e}"));
            verify_room(&bridge, &read, &room, &expected[chat]).await;
        }
        let logs: String = places
            .iter()
            .filter(|(p, _)| p.ends_with("stderr"))
            .map(|(_, b)| text(b))
            .collect();
        assert!(
            logs.contains("retrying"),
            "{name}: the resets were met and logged:\n{logs}"
        );

        places.extend(
            files(bridge.dir.path())
                .into_iter()
                .map(|(p, b)| (format!("{name}: {p}"), b)),
        );
        assert!(
            places.iter().any(|(p, _)| p.ends_with("kbbridge.db")),
            "{name}: the database is searched"
        );
        assert_no_token(
            &places,
            &[
                ("the as_token", as_token),
                ("the hs_token", hs_token.clone()),
            ],
        );
    }
    let c = proxy.counts();
    let (before, after) = (
        c.reset_before.load(Ordering::Relaxed),
        c.reset_after.load(Ordering::Relaxed),
    );
    assert!(
        before >= 3 && after >= 3,
        "the proxy reset connections: {before} before, {after} after the request"
    );
}
