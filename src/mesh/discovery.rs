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

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use std::sync::{Arc, Weak};

use tonic::transport::{Channel, Endpoint};

use super::replicas::{ReplicaSet, Replicas};
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
            let set = Arc::downgrade(replicas.set());
            tokio::spawn(resolve(authority.clone(), endpoint, set));
            Ok(replicas)
        }
    }
}

/// Keeps the replica set equal to what `authority` resolves to, until no
/// client holds the set any more. A failed lookup keeps the replicas known
/// so far; an unchanged answer changes nothing.
async fn resolve(authority: String, endpoint: MakeEndpoint, set: Weak<ReplicaSet>) {
    let mut known: BTreeSet<SocketAddr> = BTreeSet::new();
    loop {
        let looked_up = tokio::net::lookup_host(&authority).await;
        let Some(replicas) = set.upgrade() else {
            return;
        };
        match looked_up {
            Ok(found) => {
                let found: BTreeSet<SocketAddr> = found.collect();
                if found != known {
                    tracing::info!(target = %authority, replicas = found.len(), "replicas changed");
                    let connected = found
                        .iter()
                        .filter_map(|address| {
                            let url = format!("http://{address}");
                            endpoint(&url).ok().map(|e| (url, e.connect_lazy()))
                        })
                        .collect();
                    replicas.replace(connected);
                    known = found;
                }
            }
            Err(error) => {
                tracing::warn!(target = %authority, %error, "cannot resolve; keeping the replicas known");
            }
        }
        drop(replicas);
        tokio::time::sleep(REFRESH).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> Result<Endpoint, ConfigError> {
        Endpoint::from_shared(url.to_owned()).map_err(|_| ConfigError::new("bad URL"))
    }

    #[tokio::test]
    async fn a_name_becomes_its_replicas_and_the_resolver_ends_with_the_client() {
        let replicas = replicas(&Target::Dns("localhost:9".into()), endpoint).unwrap();
        let set = Arc::downgrade(replicas.set());
        let mut addresses = Vec::new();
        for _ in 0..100 {
            addresses = set.upgrade().unwrap().addresses();
            if !addresses.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(
            addresses.contains(&"http://127.0.0.1:9".to_owned()),
            "{addresses:?}"
        );
        drop(replicas);
        assert!(set.upgrade().is_none(), "nothing keeps the replicas alive");
    }
}
