//! A connection's behaviour and limits as one value that many connections
//! share.

use std::sync::{Arc, OnceLock};

use crate::{Config, Limits};

/// [`Config`] and [`Limits`] together. A [`Connection`](crate::Connection)
/// holds them behind an [`Arc`], so every connection built from the same
/// settings (a server's accepted connections, typically) shares one copy:
/// inline, the two cost about 120 bytes per connection, a tenth of an idle
/// connection's whole footprint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Behaviour (keepalive, timeouts, delivery).
    pub config: Config,
    /// Safety bounds.
    pub limits: Limits,
}

impl Settings {
    /// Settings from their two parts.
    pub fn new(config: Config, limits: Limits) -> Self {
        Settings { config, limits }
    }

    /// The default settings, allocated once per process and shared by every
    /// caller.
    pub fn shared_default() -> Arc<Settings> {
        static DEFAULT: OnceLock<Arc<Settings>> = OnceLock::new();
        Arc::clone(DEFAULT.get_or_init(|| Arc::new(Settings::default())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_default_is_one_allocation_with_default_values() {
        let first = Settings::shared_default();
        let second = Settings::shared_default();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(*first, Settings::new(Config::default(), Limits::default()));
    }
}
