//! A throwaway CA and a `localhost` server certificate it signed, as PEM
//! files in a temporary directory.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;

/// The files; the directory goes away with the value.
pub struct Pki {
    dir: TempDir,
    /// The CA certificate, what a client must trust.
    pub ca_pem: String,
}

impl Pki {
    /// A fresh CA and a server certificate for `localhost` and `127.0.0.1`.
    pub fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "switchboard-cli test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        server_params
            .distinguished_name
            .push(DnType::CommonName, "switchboard-cli test server");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().unwrap();
        let server = server_params.signed_by(&server_key, &ca).unwrap();

        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
            ca_pem: ca.pem(),
        };
        std::fs::write(pki.ca_path(), ca.pem()).unwrap();
        std::fs::write(pki.chain_path(), format!("{}{}", server.pem(), ca.pem())).unwrap();
        std::fs::write(pki.key_path(), server_key.serialize_pem()).unwrap();
        pki
    }

    /// The CA certificate file.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The server's certificate chain file (leaf, then CA).
    pub fn chain_path(&self) -> PathBuf {
        self.dir.path().join("chain.pem")
    }

    /// The server's private key file.
    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }
}
