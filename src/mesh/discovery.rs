//! Where a service finds the replicas of another.
//!
//! One HTTP/2 connection carries every call to a dependency, so a plain
//! channel pins all of a caller's calls to whichever replica it connected
//! to; a Kubernetes ClusterIP Service balances connections, not calls.
//! So the callers keep a connection per replica and spread their calls
//! themselves ([`super::replicas`]). The replicas come from the target:
//!
//! - `http://pseudoniem:50052`: one;
//! - `http://a:50052,http://b:50052`: a fixed list;
//! - `dns:///pseudoniem.toestemming.svc.cluster.local:50052`: every address
//!   the name resolves to (a headless Service lists one per ready pod),
//!   resolved again every [`REFRESH`], so replicas that come and go are
//!   followed.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use tonic::transport::{Channel, Endpoint};

use super::replicas::Replicas;
use crate::settings::{ConfigError, Target};

/// How often a `dns:///` target is resolved again.
pub const REFRESH: Duration = Duration::from_secs(10);

/// Makes the endpoint, with the mesh's connection settings, for a URL.
pub type MakeEndpoint = fn(&str) -> Result<Endpoint, ConfigError>;

/// The replicas of `target`, each lazily connected. For a DNS target it
/// spawns the resolver, which ends when the replicas are dropped; call it
/// inside the runtime.
pub fn replicas(target: &Target, endpoint: MakeEndpoint) -> Result<Replicas, ConfigError> {
    let connect = |url: &str| -> Result<(String, Channel), ConfigError> {
        Ok((url.to_owned(), endpoint(url)?.connect_lazy()))
    };
    match target {
        Target::One(url) => Ok(Replicas::new(vec![connect(url)?])),
        Target::List(urls) => Ok(Replicas::new(
            urls.iter()
                .map(|url| connect(url))
                .collect::<Result<_, _>>()?,
        )),
        Target::Dns(authority) => {
            // The name must make a valid URL before anything is spawned.
            endpoint(&format!("http://{authority}"))?;
            let replicas = Replicas::new(Vec::new());
            let watched = Arc::downgrade(&replicas.shared());
            tokio::spawn(resolve(
                authority.clone(),
                endpoint,
                replicas.clone(),
                watched,
            ));
            Ok(replicas)
        }
    }
}

/// Keeps `replicas` equal to what `authority` resolves to, until nothing
/// uses them any more. A failed lookup keeps the replicas known so far.
async fn resolve(
    authority: String,
    endpoint: MakeEndpoint,
    replicas: Replicas,
    watched: std::sync::Weak<()>,
) {
    // The task holds a clone; it stops once every other holder is gone.
    let mut known: HashSet<SocketAddr> = HashSet::new();
    loop {
        if watched.strong_count() == 0 {
            return;
        }
        match tokio::net::lookup_host(&authority).await {
            Ok(found) => {
                let found: HashSet<SocketAddr> = found.collect();
                if found != known {
                    let changes = diff(&known, &found);
                    tracing::info!(target = %authority, replicas = found.len(), changes = changes.len(), "replicas changed");
                    let mut sorted: Vec<SocketAddr> = found.iter().copied().collect();
                    sorted.sort();
                    let set = sorted
                        .into_iter()
                        .filter_map(|address| {
                            let url = format!("http://{address}");
                            endpoint(&url).ok().map(|e| (url, e.connect_lazy()))
                        })
                        .collect();
                    replicas.replace(set);
                    known = found;
                }
            }
            Err(error) => {
                tracing::warn!(target = %authority, %error, "cannot resolve; keeping the replicas known");
            }
        }
        tokio::time::sleep(REFRESH).await;
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
