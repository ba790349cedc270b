//! The TLS settings of a scrape pool (`tls_config`) as a rustls client configuration:
//! trusted roots (`ca_file`, else the bundled public roots), a client certificate,
//! `server_name` (certificates are checked against that name instead of the target's
//! host, as Prometheus does for targets addressed by IP), `insecure_skip_verify`, and
//! `min_version`/`max_version`.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::scrape::{TlsConfig, TlsVersion};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(base_dir: &Path, file: &str, what: &str) -> Result<Vec<u8>, String> {
    let path = base_dir.join(file);
    std::fs::read(&path).map_err(|err| format!("cannot read {what} {}: {err}", path.display()))
}

fn root_store(tls: &TlsConfig, base_dir: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match &tls.ca_file {
        Some(ca_file) => {
            let pem = read(base_dir, ca_file, "ca_file")?;
            for certificate in CertificateDer::pem_slice_iter(&pem) {
                let certificate = certificate.map_err(|err| format!("ca_file {ca_file}: {err}"))?;
                roots
                    .add(certificate)
                    .map_err(|err| format!("ca_file {ca_file}: {err}"))?;
            }
            if roots.is_empty() {
                return Err(format!("ca_file {ca_file}: no certificate found"));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(roots)
}

fn protocol_versions(
    tls: &TlsConfig,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let min = tls.min_version.unwrap_or(TlsVersion::Tls12);
    let max = tls.max_version.unwrap_or(TlsVersion::Tls13);
    let versions: Vec<_> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(version, _)| (min..=max).contains(version))
    .map(|(_, supported)| supported)
    .collect();
    if versions.is_empty() {
        return Err(
            "tls_config: only TLS12 and TLS13 are supported; TLS10 and TLS11 are insecure"
                .to_string(),
        );
    }
    Ok(versions)
}

/// Builds the rustls configuration the pool's HTTP client connects with.
pub fn client_config(tls: &TlsConfig, base_dir: &Path) -> Result<rustls::ClientConfig, String> {
    let provider = provider();
    let versions = protocol_versions(tls)?;
    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(AcceptAnyCertificate {
            provider: provider.clone(),
        })
    } else {
        let webpki = WebPkiServerVerifier::builder_with_provider(
            Arc::new(root_store(tls, base_dir)?),
            provider.clone(),
        )
        .build()
        .map_err(|err| format!("tls_config: {err}"))?;
        match &tls.server_name {
            Some(name) => Arc::new(ExpectedServerName {
                inner: webpki,
                name: ServerName::try_from(name.clone())
                    .map_err(|_| format!("tls_config.server_name {name:?} is not a valid name"))?,
            }),
            None => webpki,
        }
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|err| format!("tls_config: {err}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let cert_pem = read(base_dir, cert_file, "cert_file")?;
            let chain = CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| format!("cert_file {cert_file}: {err}"))?;
            let key = PrivateKeyDer::from_pem_slice(&read(base_dir, key_file, "key_file")?)
                .map_err(|err| format!("key_file {key_file}: {err}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|err| format!("client certificate: {err}"))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// Checks the certificate chain against `tls_config.server_name` whatever host the
/// target URL names.
#[derive(Debug)]
struct ExpectedServerName {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for ExpectedServerName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _target_host: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `insecure_skip_verify`: any certificate is accepted, but the handshake signatures are
/// still checked so the connection is at least encrypted to the certificate's key.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _target_host: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_protocol_versions_are_refused_with_a_reason() {
        let tls = TlsConfig {
            min_version: Some(TlsVersion::Tls10),
            max_version: Some(TlsVersion::Tls11),
            ..TlsConfig::default()
        };
        let err = client_config(&tls, Path::new(".")).unwrap_err();
        assert!(err.contains("TLS12"), "{err}");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let tls = TlsConfig {
            ca_file: Some("no-such-ca.pem".into()),
            ..TlsConfig::default()
        };
        let err = client_config(&tls, Path::new("/nonexistent")).unwrap_err();
        assert!(err.contains("no-such-ca.pem"), "{err}");
    }

    #[test]
    fn defaults_build() {
        client_config(&TlsConfig::default(), Path::new(".")).unwrap();
    }
}
