//! Where a service finds the replicas of another.
//!
//! One HTTP/2 connection carries every call to a dependency, so a plain
//! channel pins all of a caller's calls to whichever replica it connected
//! to; a Kubernetes ClusterIP Service balances connections, not calls.
//! So the callers balance themselves, over every replica:
//!
//! - `http://a:50052,http://b:50052`: a fixed list;
//! - `dns:///pseudoniem-headless.toestemming.svc:50052`: every address the
//!   name resolves to (a headless Service lists one per ready pod),
//!   resolved again every [`REFRESH`], so replicas that come and go are
//!   followed;
//! - `http://pseudoniem:50052`: one connection, as before.
//!
//! Calls are spread by tower's power-of-two-choices balancer (tonic's
//! `Channel::balance_*`), which prefers the less loaded of two replicas and
//! leaves out one that cannot be connected to.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

use crate::settings::{ConfigError, Target};

/// How often a `dns:///` target is resolved again.
pub const REFRESH: Duration = Duration::from_secs(10);

/// Makes the endpoint, with the mesh's connection settings, for a URL.
pub type MakeEndpoint = fn(&str) -> Result<Endpoint, ConfigError>;

/// A lazily connected channel over `target`'s replicas. For a DNS target
/// it spawns the resolver, which ends when the channel is dropped; call it
/// inside the runtime.
pub fn channel(target: &Target, endpoint: MakeEndpoint) -> Result<Channel, ConfigError> {
    match target {
        Target::One(url) => Ok(endpoint(url)?.connect_lazy()),
        Target::List(urls) => {
            let endpoints = urls
                .iter()
                .map(|url| endpoint(url))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Channel::balance_list(endpoints.into_iter()))
        }
        Target::Dns(authority) => {
            // The name must make a valid URL before anything is spawned.
            endpoint(&format!("http://{authority}"))?;
            let (channel, changes) = Channel::balance_channel::<SocketAddr>(64);
            tokio::spawn(resolve(authority.clone(), endpoint, changes));
            Ok(channel)
        }
    }
}

/// Keeps the balancer's replicas equal to what `authority` resolves to.
/// A failed lookup keeps the replicas known so far.
async fn resolve(
    authority: String,
    endpoint: MakeEndpoint,
    changes: tokio::sync::mpsc::Sender<Change<SocketAddr, Endpoint>>,
) {
    let mut known: HashSet<SocketAddr> = HashSet::new();
    loop {
        match tokio::net::lookup_host(&authority).await {
            Ok(found) => {
                let found: HashSet<SocketAddr> = found.collect();
                for (change, address) in diff(&known, &found) {
                    let change = match change {
                        Diff::Added => match endpoint(&format!("http://{address}")) {
                            Ok(endpoint) => Change::Insert(address, endpoint),
                            Err(_) => continue,
                        },
                        Diff::Removed => Change::Remove(address),
                    };
                    if changes.send(change).await.is_err() {
                        return;
                    }
                }
                if found != known {
                    tracing::info!(target = %authority, replicas = found.len(), "replicas changed");
                }
                known = found;
            }
            Err(error) => {
                tracing::warn!(target = %authority, %error, "cannot resolve; keeping the replicas known");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(REFRESH) => {}
            () = changes.closed() => return,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Diff {
    Added,
    Removed,
}

/// What changed from `before` to `after`, removals first.
fn diff(before: &HashSet<SocketAddr>, after: &HashSet<SocketAddr>) -> Vec<(Diff, SocketAddr)> {
    let mut changes: Vec<(Diff, SocketAddr)> = before
        .difference(after)
        .map(|address| (Diff::Removed, *address))
        .collect();
    changes.extend(
        after
            .difference(before)
            .map(|address| (Diff::Added, *address)),
    );
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_that_come_and_go_are_followed() {
        let a: SocketAddr = "10.0.0.1:50052".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:50052".parse().unwrap();
        let c: SocketAddr = "10.0.0.3:50052".parse().unwrap();
        let before = HashSet::from([a, b]);
        let after = HashSet::from([b, c]);
        assert_eq!(
            diff(&before, &after),
            vec![(Diff::Removed, a), (Diff::Added, c)]
        );
        assert!(diff(&after, &after).is_empty());
    }
}
