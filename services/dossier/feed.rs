//! The live side of the decision feed, shared by WatchConsent's streams
//! and the tasks that publish to it (`publisher`):
//!
//! - a generation counter that moves on whenever new changes are in the
//!   feed (committed by this process's access log writer, or announced by
//!   another replica through PostgreSQL's `NOTIFY`), so a waiting stream
//!   reads the database again at once instead of polling;
//! - the watches each company holds on this server, bounded;
//! - the decisions whose publication waits on Identity (`Republish`es that
//!   could not be resolved), retried in the background.
//!
//! The feed itself is the `decision_changes` table, so what a stream sends
//! is what is committed, in commit order, and a resumed stream reads the
//! same rows again from its cursor: nothing is kept only in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use super::access_log::Republish;
use crate::ids::CompanyName;

/// The WatchConsent streams one company may hold open on one server at
/// once. A company needs one or two (a consumer and a stand-by); the bound
/// keeps a leaked loop of reconnects from holding the server's memory and
/// database reads.
pub const MAX_WATCHES_PER_COMPANY: usize = 8;
/// Publications waiting on Identity that are kept for retry; beyond this
/// the oldest are dropped (and logged): the next expiry scan or choice of
/// the same patient publishes them again.
const MAX_PENDING: usize = 10_000;

pub struct Feed {
    generation: watch::Sender<u64>,
    watches: Mutex<HashMap<CompanyName, usize>>,
    pending: Mutex<Vec<Republish>>,
}

impl Feed {
    /// A feed whose generation `generation` moves on (the access log
    /// writer holds the other end of it).
    pub fn new(generation: watch::Sender<u64>) -> Arc<Self> {
        Arc::new(Self {
            generation,
            watches: Mutex::new(HashMap::new()),
            pending: Mutex::new(Vec::new()),
        })
    }

    /// Wakes when new changes may be in the feed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Another replica committed changes (or we may have missed its word).
    pub fn announce(&self) {
        self.generation.send_modify(|generation| *generation += 1);
    }

    /// A watch for `company`, or `None` when it holds as many as it may.
    /// The watch is given back when the `Watch` is dropped (the stream
    /// ended, or its client went away).
    pub fn watch(self: &Arc<Self>, company: &CompanyName) -> Option<Watch> {
        let mut watches = self.watches.lock().unwrap_or_else(PoisonError::into_inner);
        let held = watches.entry(company.clone()).or_insert(0);
        if *held >= MAX_WATCHES_PER_COMPANY {
            return None;
        }
        *held += 1;
        Some(Watch {
            feed: self.clone(),
            company: company.clone(),
        })
    }

    /// Keeps `republish` to try again later.
    pub fn defer(&self, republish: Republish) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.len() >= MAX_PENDING {
            tracing::warn!(
                kept = MAX_PENDING,
                "too many decision changes wait on Identity; dropping the oldest"
            );
            pending.remove(0);
        }
        pending.push(republish);
    }

    /// Every publication waiting to be tried again.
    pub fn take_deferred(&self) -> Vec<Republish> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// One of a company's watches, held by its stream.
pub struct Watch {
    feed: Arc<Feed>,
    company: CompanyName,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut watches = self
            .feed
            .watches
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = watches.get_mut(&self.company) {
            *held -= 1;
            if *held == 0 {
                watches.remove(&self.company);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_company_holds_a_bounded_number_of_watches_and_gets_them_back() {
        let feed = Feed::new(watch::channel(0).0);
        let company = CompanyName::parse("Zorg B.V.").unwrap();
        let other = CompanyName::parse("Kliniek").unwrap();
        let held: Vec<Watch> = (0..MAX_WATCHES_PER_COMPANY)
            .map(|_| feed.watch(&company).expect("within the bound"))
            .collect();
        assert!(feed.watch(&company).is_none());
        assert!(feed.watch(&other).is_some(), "the bound is per company");
        drop(held);
        assert!(feed.watch(&company).is_some());
    }

    #[test]
    fn an_announcement_wakes_subscribers() {
        let feed = Feed::new(watch::channel(0).0);
        let receiver = feed.subscribe();
        assert!(!receiver.has_changed().unwrap());
        feed.announce();
        assert!(receiver.has_changed().unwrap());
    }
}
