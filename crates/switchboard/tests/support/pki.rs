//! A throwaway CA and a `localhost` server certificate, generated with
//! `rcgen` at test time and written as PEM files for the proxies.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A CA and a server certificate for `localhost` and `127.0.0.1`, as files
/// in the directory given to [`TestPki::write_to`].
pub struct TestPki {
    /// The CA certificate, which clients must trust.
    pub ca_pem: String,
    /// The CA certificate's file.
    pub ca_path: PathBuf,
    /// The server chain (leaf, then CA).
    pub chain_path: PathBuf,
    /// The server's private key.
    pub key_path: PathBuf,
    /// Chain and key in one file, as HAProxy's `crt` wants them.
    pub combined_path: PathBuf,
}

impl TestPki {
    /// Generates the certificates and writes them into `dir`.
    pub fn write_to(dir: &Path) -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Switchboard reverse-proxy test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let mut leaf_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

        let chain = format!("{}{}", leaf.pem(), ca.pem());
        let key = leaf_key.serialize_pem();
        let pki = TestPki {
            ca_pem: ca.pem(),
            ca_path: dir.join("ca.pem"),
            chain_path: dir.join("chain.pem"),
            key_path: dir.join("key.pem"),
            combined_path: dir.join("chain-and-key.pem"),
        };
        std::fs::write(&pki.ca_path, &pki.ca_pem).unwrap();
        std::fs::write(&pki.chain_path, &chain).unwrap();
        std::fs::write(&pki.key_path, &key).unwrap();
        std::fs::write(&pki.combined_path, format!("{chain}{key}")).unwrap();
        pki
    }
}
