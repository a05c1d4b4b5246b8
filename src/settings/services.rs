//! The services of the mesh by name, with the contract's default addresses.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

/// One of the four services. `toestemming <name>` runs one; `toestemming
/// all` runs them all, in [`ServiceKind::START_ORDER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKind {
    Identity,
    Pseudoniem,
    Dossier,
    Website,
}

impl ServiceKind {
    /// Dependencies first, so a service's first calls find their peer
    /// listening (each would retry anyway: clients connect lazily).
    pub const START_ORDER: [ServiceKind; 4] = [
        ServiceKind::Pseudoniem,
        ServiceKind::Identity,
        ServiceKind::Dossier,
        ServiceKind::Website,
    ];

    /// The subcommand, the log name, and the default SQLite file name.
    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::Identity => "identity",
            ServiceKind::Pseudoniem => "pseudoniem",
            ServiceKind::Dossier => "dossier",
            ServiceKind::Website => "website",
        }
    }

    /// The default address (the README's service table), shared by `all`
    /// and a service run alone, so separate processes find each other
    /// without configuration.
    pub fn default_addr(self) -> SocketAddr {
        let port = match self {
            ServiceKind::Identity => 50051,
            ServiceKind::Pseudoniem => 50052,
            ServiceKind::Dossier => 50053,
            ServiceKind::Website => 8080,
        };
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }

    /// Whether the service keeps a database of its own. The website keeps
    /// nothing: it is a client of Identity and Dossier.
    pub fn has_database(self) -> bool {
        !matches!(self, ServiceKind::Website)
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
