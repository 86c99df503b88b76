//! The live relay engine writing into the stand-in through the Discord sink, from a Keybase
//! chat whose events the tests make up (as the Keybase live source would deliver them).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use adapter_discord::DiscordSink;
use bridge_core::{
    ChatId, ChatRef, Event, Incoming, MappingStore, MsgId, MsgRef, Platform, Sender, Sink, UserId,
    relay::{Applied, Leases, Relay, RelayLink, RelayOptions, Router},
    retry::RetryPolicy,
    store::CopyState,
    testing::FakeSink,
};

/// One link, Keybase chat `kb` ↔ Discord channel `channel`, relayed live.
pub struct Live {
    pub relay: Relay,
    pub leases: Leases,
    pub kb: ChatRef,
    pub dc: ChatRef,
    pub channel: u64,
    pub store: MappingStore,
}

pub fn person(name: &str) -> Sender {
    Sender {
        id: UserId::new(name),
        name: name.to_owned(),
        avatar: None,
    }
}

pub fn live(store: &MappingStore, sink: Arc<DiscordSink>, kb: ChatRef, channel: u64) -> Live {
    let dc = ChatRef::new(Platform::Discord, ChatId::new(channel.to_string()));
    let mut sinks: BTreeMap<Platform, Arc<dyn Sink>> = BTreeMap::new();
    sinks.insert(Platform::Discord, sink);
    sinks.insert(
        Platform::Keybase,
        Arc::new(FakeSink::new(Platform::Keybase)),
    );
    let router = Router::new(&[RelayLink {
        name: kb.chat.as_str().into(),
        chats: vec![kb.clone(), dc.clone()],
    }])
    .unwrap();
    let options = RelayOptions {
        retry: RetryPolicy {
            max_attempts: 10,
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
        },
        ..RelayOptions::default()
    };
    Live {
        relay: Relay::new(store.clone(), sinks, router, options),
        leases: Leases::default(),
        kb,
        dc,
        channel,
        store: store.clone(),
    }
}

impl Live {
    /// Applies `event` as the relay does a live one.
    pub async fn apply(&mut self, event: Event) -> Applied {
        let incoming = Incoming {
            event,
            position: None,
            own: false,
        };
        self.relay.apply(&incoming, &mut self.leases).await.unwrap()
    }

    /// The Discord message IDs of the sent parts of `origin`'s copy, in part order.
    pub async fn parts(&self, origin: &MsgRef) -> Vec<u64> {
        self.store
            .copies(origin, &self.dc)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.state == CopyState::Sent)
            .filter_map(|r| r.msg.map(|m| m.as_str().parse().unwrap()))
            .collect()
    }

    /// The Discord chat ID of the link.
    pub fn to(&self) -> ChatId {
        self.dc.chat.clone()
    }
}

/// A Discord message ID as the sink takes it.
pub fn id(n: u64) -> MsgId {
    MsgId::new(n.to_string())
}
