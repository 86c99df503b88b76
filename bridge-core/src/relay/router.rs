//! Which chats mirror each other: from a chat to its link and the link's other chats.

use std::{collections::HashMap, sync::Arc};

use crate::ids::ChatRef;

/// One link's chats, resolved (two, or three for a three-way link).
#[derive(Clone, Debug)]
pub struct RelayLink {
    /// The link's name, for logs.
    pub name: Arc<str>,
    /// Its chats, one per platform.
    pub chats: Vec<ChatRef>,
}

/// A chat named by two links: a message there would be relayed twice.
#[derive(Debug, thiserror::Error)]
#[error("{chat} is in both link {first} and link {second}")]
pub struct RouteConflict {
    /// The chat.
    pub chat: ChatRef,
    /// The first link naming it.
    pub first: Arc<str>,
    /// The second.
    pub second: Arc<str>,
}

/// From a chat to its link and the link's other chats.
#[derive(Debug, Default)]
pub struct Router {
    routes: HashMap<ChatRef, (Arc<str>, Vec<ChatRef>)>,
}

impl Router {
    /// The routes of `links`.
    ///
    /// # Errors
    /// [`RouteConflict`] when two links name the same chat.
    pub fn new(links: &[RelayLink]) -> Result<Self, RouteConflict> {
        let mut router = Self::default();
        for link in links {
            router.add(link)?;
        }
        Ok(router)
    }

    /// Adds the routes of `link`; none is added when one of its chats is already routed.
    ///
    /// # Errors
    /// [`RouteConflict`] when another link names one of its chats.
    pub fn add(&mut self, link: &RelayLink) -> Result<(), RouteConflict> {
        if let Some((chat, (first, _))) = link
            .chats
            .iter()
            .find_map(|c| self.routes.get(c).map(|r| (c, r)))
        {
            return Err(RouteConflict {
                chat: chat.clone(),
                first: first.clone(),
                second: link.name.clone(),
            });
        }
        for chat in &link.chats {
            let others = link.chats.iter().filter(|c| *c != chat).cloned().collect();
            self.routes
                .insert(chat.clone(), (link.name.clone(), others));
        }
        Ok(())
    }

    /// Removes the routes of the link named `name`; the chats they were for.
    pub fn remove(&mut self, name: &str) -> Vec<ChatRef> {
        let chats: Vec<ChatRef> = self
            .routes
            .iter()
            .filter(|(_, (link, _))| link.as_ref() == name)
            .map(|(chat, _)| chat.clone())
            .collect();
        for chat in &chats {
            self.routes.remove(chat);
        }
        chats
    }

    /// Every link routed, by name, each with its chats (sorted).
    pub fn links(&self) -> Vec<RelayLink> {
        let mut links: std::collections::BTreeMap<&Arc<str>, Vec<ChatRef>> =
            std::collections::BTreeMap::new();
        for (chat, (name, _)) in &self.routes {
            links.entry(name).or_default().push(chat.clone());
        }
        links
            .into_iter()
            .map(|(name, mut chats)| {
                chats.sort();
                RelayLink {
                    name: name.clone(),
                    chats,
                }
            })
            .collect()
    }

    /// The link of `chat` and the chats its events go to; `None` for a chat no link names.
    pub fn route(&self, chat: &ChatRef) -> Option<(&Arc<str>, &[ChatRef])> {
        self.routes
            .get(chat)
            .map(|(name, others)| (name, others.as_slice()))
    }
}
