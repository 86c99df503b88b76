//! serenity's own gateway client, unchanged: `ClientBuilder` with the HTTP client that reaches
//! the stand-in as `discord.com`, so the shard dials what `GET /gateway` answers. Events are
//! collected by a raw event handler; serenity runs each in a task of its own, so the tests
//! wait for each event rather than for an order.

use discord_standin::{StandIn, TEXT, intents};
use serenity::{
    all::{ClientBuilder, Context, Event, GatewayIntents, RawEventHandler},
    async_trait,
    builder::{CreateWebhook, ExecuteWebhook},
    gateway::GatewayError,
    model::{channel::ReactionType, id::ChannelId},
    prelude::SerenityError,
};
use tokio::{sync::mpsc, task::JoinHandle};

use super::support::{RELAY_INTENTS, WAIT, eventually, http, start};

/// Hands every event to the test.
struct Forward(mpsc::UnboundedSender<Event>);

#[async_trait]
impl RawEventHandler for Forward {
    async fn raw_event(&self, _ctx: Context, event: Event) {
        let _ = self.0.send(event);
    }
}

/// A running serenity client and the events it received.
struct Running {
    events: mpsc::UnboundedReceiver<Event>,
    seen: Vec<Event>,
    task: JoinHandle<Result<(), SerenityError>>,
}

impl Running {
    async fn start(s: &StandIn, intents: u64) -> Running {
        let (tx, events) = mpsc::unbounded_channel();
        let mut client =
            ClientBuilder::new_with_http(http(s), GatewayIntents::from_bits_truncate(intents))
                .raw_event_handler(Forward(tx))
                .await
                .unwrap();
        let task = tokio::spawn(async move { client.start().await });
        Running {
            events,
            seen: Vec::new(),
            task,
        }
    }

    /// The first event (received so far or next) that `pick` takes.
    async fn wait<T>(&mut self, what: &str, pick: impl Fn(&Event) -> Option<T>) -> T {
        if let Some(t) = self.seen.iter().find_map(&pick) {
            return t;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what}; got {:#?}", self.seen))
                .expect("the client stopped");
            let picked = pick(&event);
            self.seen.push(event);
            if let Some(t) = picked {
                return t;
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn serenity_receives_ready_guild_create_and_message_events() {
    let s = start(intents::PRIVILEGED).await;
    let channel = s.create_channel("general", TEXT, None);
    let alice = s.add_human("alice");
    let mut c = Running::start(&s, RELAY_INTENTS).await;

    let ready = c
        .wait("READY", |e| match e {
            Event::Ready(r) => Some(r.ready.clone()),
            _ => None,
        })
        .await;
    assert_eq!(ready.user.id.get(), s.bot_id());
    assert_eq!(ready.guilds[0].id.get(), s.guild_id());
    assert_eq!(ready.application.id.get(), s.bot_id());
    let guild = c
        .wait("GUILD_CREATE", |e| match e {
            Event::GuildCreate(g) => Some(g.guild.clone()),
            _ => None,
        })
        .await;
    assert_eq!(guild.id.get(), s.guild_id());
    assert!(guild.channels.keys().any(|id| id.get() == channel));

    let posted = s.post_as(&alice, channel, "hello from alice").unwrap();
    let msg = c
        .wait("alice's MESSAGE_CREATE", |e| match e {
            Event::MessageCreate(m) if m.message.id.get() == posted => Some(m.message.clone()),
            _ => None,
        })
        .await;
    assert_eq!(msg.content, "hello from alice");
    assert_eq!(msg.author.id.get(), alice.id);
    assert_eq!(msg.author.name, "alice");
    assert!(!msg.author.bot);
    assert_eq!(msg.guild_id.map(|g| g.get()), Some(s.guild_id()));
    assert!(msg.member.is_some());

    assert!(s.edit_as(&alice, posted, "hello, edited"));
    let update = c
        .wait("MESSAGE_UPDATE", |e| match e {
            Event::MessageUpdate(u) if u.id.get() == posted => Some(u.clone()),
            _ => None,
        })
        .await;
    assert_eq!(update.content.as_deref(), Some("hello, edited"));
    assert!(update.edited_timestamp.is_some());

    assert!(s.react_as(&alice, posted, "👍"));
    let reaction = c
        .wait("MESSAGE_REACTION_ADD", |e| match e {
            Event::ReactionAdd(r) => Some(r.reaction.clone()),
            _ => None,
        })
        .await;
    assert_eq!(reaction.user_id.map(|u| u.get()), Some(alice.id));
    assert_eq!(reaction.message_id.get(), posted);
    assert_eq!(reaction.emoji, ReactionType::Unicode("👍".into()));

    assert!(s.delete_message(posted));
    c.wait("MESSAGE_DELETE", |e| match e {
        Event::MessageDelete(d) if d.message_id.get() == posted => Some(()),
        _ => None,
    })
    .await;

    // A webhook message through serenity's REST: its echo carries `webhook_id`.
    let http = http(&s);
    let hook = ChannelId::new(channel)
        .create_webhook(&http, CreateWebhook::new("kbbridge"))
        .await
        .unwrap();
    let execute = ExecuteWebhook::new().content("relayed").username("bob");
    let sent = hook.execute(&http, true, execute).await.unwrap().unwrap();
    let echo = c
        .wait("the webhook's MESSAGE_CREATE", |e| match e {
            Event::MessageCreate(m) if m.message.id == sent.id => Some(m.message.clone()),
            _ => None,
        })
        .await;
    assert_eq!(echo.webhook_id, Some(hook.id));
    assert_eq!(echo.author.name, "bob");

    // serenity heartbeats on its own and the ACKs keep it on its first connection.
    eventually("two heartbeats", || s.gateway_stats().heartbeats >= 2).await;
    let stats = s.gateway_stats();
    assert_eq!((stats.connections, stats.identifies), (1, 1));
}

#[tokio::test]
async fn serenity_resumes_after_op_7_and_a_drop_and_identifies_again_after_op_9() {
    let s = start(intents::PRIVILEGED).await;
    let channel = s.create_channel("general", TEXT, None);
    let alice = s.add_human("alice");
    let mut c = Running::start(&s, RELAY_INTENTS).await;
    let first = c
        .wait("READY", |e| match e {
            Event::Ready(r) => Some(r.ready.session_id.clone()),
            _ => None,
        })
        .await;

    // op 7: serenity dials the same URL again and resumes the session.
    assert_eq!(s.force_reconnect(), 1);
    c.wait("RESUMED", |e| matches!(e, Event::Resumed(_)).then_some(()))
        .await;
    let stats = s.gateway_stats();
    assert_eq!((stats.identifies, stats.resumes), (1, 1));
    let after = s.post_as(&alice, channel, "after the resume").unwrap();
    c.wait("the message after the resume", |e| match e {
        Event::MessageCreate(m) if m.message.id.get() == after => Some(()),
        _ => None,
    })
    .await;

    // A dropped connection: serenity resumes again, and what was posted meanwhile arrives.
    assert_eq!(s.drop_gateway_connections(), 1);
    let during = s.post_as(&alice, channel, "while it was away").unwrap();
    c.wait("the message posted while it was away", |e| match e {
        Event::MessageCreate(m) if m.message.id.get() == during => Some(()),
        _ => None,
    })
    .await;
    eventually("a second resume", || s.gateway_stats().resumes == 2).await;
    assert_eq!(s.gateway_stats().identifies, 1);

    // op 9, not resumable: a new IDENTIFY, a new session.
    eventually("a live session", || s.force_invalid_session(false) == 1).await;
    c.wait("a second READY", |e| match e {
        Event::Ready(r) if r.ready.session_id != first => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(s.gateway_stats().identifies, 2);
}

#[tokio::test]
async fn serenity_gets_blank_content_without_the_message_content_intent() {
    let s = start(intents::PRIVILEGED).await;
    let channel = s.create_channel("general", TEXT, None);
    let alice = s.add_human("alice");
    let mut c = Running::start(&s, RELAY_INTENTS & !intents::MESSAGE_CONTENT).await;
    c.wait("READY", |e| matches!(e, Event::Ready(_)).then_some(()))
        .await;

    let hidden = s.post_as(&alice, channel, "not for bots").unwrap();
    let msg = c
        .wait("alice's MESSAGE_CREATE", |e| match e {
            Event::MessageCreate(m) if m.message.id.get() == hidden => Some(m.message.clone()),
            _ => None,
        })
        .await;
    assert_eq!(msg.content, "");
    assert_eq!(msg.author.id.get(), alice.id);

    // A message that mentions the bot keeps its content.
    let mention = format!("<@{}> over here", s.bot_id());
    let shown = s.post_as(&alice, channel, &mention).unwrap();
    let msg = c
        .wait("the mention's MESSAGE_CREATE", |e| match e {
            Event::MessageCreate(m) if m.message.id.get() == shown => Some(m.message.clone()),
            _ => None,
        })
        .await;
    assert_eq!(msg.content, mention);
    assert_eq!(msg.mentions[0].id.get(), s.bot_id());
}

#[tokio::test]
async fn serenity_stops_with_disallowed_intents_when_message_content_is_not_granted() {
    let s = start(intents::GUILD_MEMBERS).await;
    let mut c = Running::start(&s, RELAY_INTENTS).await;
    let ended = tokio::time::timeout(WAIT, &mut c.task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(
            ended,
            Err(SerenityError::Gateway(
                GatewayError::DisallowedGatewayIntents
            ))
        ),
        "{ended:?}"
    );
    assert_eq!(s.gateway_stats().closes.get(&4014), Some(&1));
}
