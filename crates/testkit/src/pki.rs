//! A throwaway CA and a server certificate signed by it, written as PEM
//! files into a temporary directory.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;

/// A CA plus one server certificate; the files go away with the value.
pub struct TestPki {
    dir: TempDir,
    /// The CA certificate (what clients must trust).
    pub ca_pem: String,
    /// The server certificate chain (leaf, then CA).
    pub chain_pem: String,
    /// The server's private key (PKCS#8).
    pub key_pem: String,
}

impl TestPki {
    /// A fresh CA and a server certificate for `localhost` and `127.0.0.1`.
    pub fn new() -> Self {
        Self::for_names(&["localhost", "127.0.0.1"])
    }

    /// A fresh CA and a server certificate for `names` (DNS names or IPs).
    pub fn for_names(names: &[&str]) -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Switchboard test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut leaf_params = CertificateParams::new(names).unwrap();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "switchboard test server");
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

        let pki = Self {
            dir: tempfile::tempdir().unwrap(),
            ca_pem: ca.pem(),
            chain_pem: format!("{}{}", leaf.pem(), ca.pem()),
            key_pem: leaf_key.serialize_pem(),
        };
        std::fs::write(pki.ca_path(), &pki.ca_pem).unwrap();
        std::fs::write(pki.chain_path(), &pki.chain_pem).unwrap();
        std::fs::write(pki.key_path(), &pki.key_pem).unwrap();
        std::fs::write(
            pki.combined_path(),
            format!("{}{}", pki.chain_pem, pki.key_pem),
        )
        .unwrap();
        pki
    }

    /// Path of the CA certificate PEM.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Path of the server chain PEM.
    pub fn chain_path(&self) -> PathBuf {
        self.dir.path().join("chain.pem")
    }

    /// Path of the server key PEM.
    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    /// Path of the chain followed by the key in one file, the form
    /// HAProxy's `crt` wants.
    pub fn combined_path(&self) -> PathBuf {
        self.dir.path().join("chain-and-key.pem")
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}
