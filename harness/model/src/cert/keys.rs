//! The committed test-only key pool (see `harness/model/keys/README.md`).

use std::sync::OnceLock;

use openssl::pkey::{PKey, Private};

use super::CertError;

/// PKCS#8 PEM RSA-2048 keys: both profiles use them.
pub(crate) const RSA2048: [&str; 8] = [
    include_str!("../../keys/rsa2048-0.pem"),
    include_str!("../../keys/rsa2048-1.pem"),
    include_str!("../../keys/rsa2048-2.pem"),
    include_str!("../../keys/rsa2048-3.pem"),
    include_str!("../../keys/rsa2048-4.pem"),
    include_str!("../../keys/rsa2048-5.pem"),
    include_str!("../../keys/rsa2048-6.pem"),
    include_str!("../../keys/rsa2048-7.pem"),
];

static SCCM_KEYS: OnceLock<Result<Vec<PKey<Private>>, String>> = OnceLock::new();

/// The `index`-th (modulo the pool size) RSA-2048 key for openssl, parsed once.
pub(crate) fn sccm2007(index: usize) -> Result<&'static PKey<Private>, CertError> {
    let pool = SCCM_KEYS.get_or_init(|| {
        RSA2048
            .iter()
            .map(|pem| PKey::private_key_from_pem(pem.as_bytes()).map_err(|e| e.to_string()))
            .collect()
    });
    match pool {
        Ok(keys) => Ok(&keys[index % keys.len()]),
        Err(e) => Err(CertError::Other(format!("test key pool: {e}"))),
    }
}
