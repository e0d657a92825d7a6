//! Shared fixtures for the TLS and proxy tests: loopback echo servers and
//! real proxy daemons (tinyproxy, microsocks, dante) started on 127.0.0.1
//! with temporary configs. Certificates come from `switchboard_testkit::pki`.
//!
//! Every test binary uses a different subset, hence the allowance.
#![allow(dead_code)]

pub mod echo;
pub mod proxies;
pub mod tunnels;
pub mod ws_echo;

use std::future::Future;
use std::time::Duration;

use switchboard::tls::{TlsAcceptor, TlsClientConfig};
use switchboard_testkit::pki::TestPki;

/// Upper bound for one test's network work, so nothing can hang CI.
pub const TEST_DEADLINE: Duration = Duration::from_secs(30);

/// Runs `future`, failing the test if it exceeds [`TEST_DEADLINE`].
pub async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(TEST_DEADLINE, future)
        .await
        .expect("test exceeded its deadline")
}

/// A TLS acceptor serving `pki`'s `localhost` certificate.
pub fn acceptor_for(pki: &TestPki) -> TlsAcceptor {
    TlsAcceptor::from_pem_files(pki.chain_path(), pki.key_path()).unwrap()
}

/// A client TLS configuration trusting only `pki`'s CA.
pub fn client_trusting(pki: &TestPki) -> TlsClientConfig {
    TlsClientConfig::new()
        .add_root_certificates_pem_file(pki.ca_path())
        .expect("CA PEM loads")
}
