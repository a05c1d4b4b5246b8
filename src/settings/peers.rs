//! Where a service finds the others.

use super::{ConfigError, ServiceKind};

/// Where a service finds the others (`IDENTITY_URL`, `PSEUDONIEM_URL`,
/// `DOSSIER_URL`), each a [`Target`]. In `all` they are the addresses
/// actually bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peers {
    pub identity: String,
    pub pseudoniem: String,
    pub dossier: String,
}

impl Default for Peers {
    fn default() -> Self {
        let url = |service: ServiceKind| format!("http://{}", service.default_addr());
        Self {
            identity: url(ServiceKind::Identity),
            pseudoniem: url(ServiceKind::Pseudoniem),
            dossier: url(ServiceKind::Dossier),
        }
    }
}

/// Where a client sends its calls, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One address.
    One(String),
    /// A fixed list of replicas.
    List(Vec<String>),
    /// `host:port`, resolved to every replica.
    Dns(String),
}

impl Target {
    /// Reads `http://…`, `http://…,http://…` or `dns:///host:port`.
    pub fn parse(target: &str) -> Result<Self, ConfigError> {
        let problem = || {
            ConfigError::new(format!(
                "{target:?} is not a service address: use http://host:port, a comma-separated \
                 list of them, or dns:///host:port"
            ))
        };
        if let Some(authority) = target.strip_prefix("dns:///") {
            let (host, port) = authority.rsplit_once(':').ok_or_else(problem)?;
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(problem());
            }
            return Ok(Target::Dns(authority.to_owned()));
        }
        let urls: Vec<String> = target
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect();
        for url in &urls {
            let uri: http::Uri = url.parse().map_err(|_| problem())?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                return Err(problem());
            }
        }
        match urls.len() {
            0 => Err(problem()),
            1 => Ok(Target::One(urls.into_iter().next().unwrap_or_default())),
            _ => Ok(Target::List(urls)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_one_address_a_list_or_a_name_to_resolve() {
        assert_eq!(
            Target::parse("http://pseudoniem:50052").unwrap(),
            Target::One("http://pseudoniem:50052".into())
        );
        assert_eq!(
            Target::parse("http://a:1, http://b:2").unwrap(),
            Target::List(vec!["http://a:1".into(), "http://b:2".into()])
        );
        assert_eq!(
            Target::parse("dns:///pseudoniem-headless.toestemming.svc:50052").unwrap(),
            Target::Dns("pseudoniem-headless.toestemming.svc:50052".into())
        );
        for bad in [
            "",
            "ftp://a:1",
            "dns:///nohost",
            "dns:///:80",
            "http://a:1,nonsense",
            "a:1",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?}");
        }
    }
}
