/// Installs rustls' aws-lc-rs crypto provider as the process default.
///
/// kube and google-cloud-pubsub together link more than one provider, and rustls then
/// refuses to pick one (kube panics on its first TLS connection), so every process calls
/// this before starting a client. Later calls, and a provider installed elsewhere, are
/// harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installing_twice_leaves_one_default_provider() {
        install_crypto_provider();
        install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
