//! SCCM-like client certificates.
//!
//! A ConfigMgr 2007 client makes, per machine, two self-signed certificates in
//! the LocalMachine `SMS` store: an "SMS Signing Certificate" (keyUsage
//! digitalSignature, key spec AT_SIGNATURE) and an "SMS Encryption
//! Certificate" (keyEncipherment + dataEncipherment, AT_KEYEXCHANGE). Each
//! carries a friendly name and a key provider info property pointing at a
//! machine key container in the Microsoft Enhanced Cryptographic Provider.
//! Unhotfixed SP1/SP2 clients end the friendly name with two NULs (docs/BEHAVIOR.md
//! claim C1): [`Defect::DoubledTerminator`].
//!
//! Profiles:
//! - [`Profile::Sccm2007`]: RSA-2048, sha1WithRSAEncryption, made with the
//!   `openssl` crate, subject `CN=SMS, CN=<machine>` (two CN attributes, in
//!   that encoded order), valid 100 years from November 2009.
//! - [`Profile::ModernRsa`] / [`Profile::ModernEcdsa`]: the same shape made
//!   with `rcgen` (SHA-256; RSA-2048, or ECDSA P-256 signed with RFC 6979
//!   deterministic nonces through the `p256` crate), to show nothing in the
//!   harness depends on one generator.
//!
//! Determinism: every byte follows from the seed and the machine name. Keys
//! come from a committed test-only pool (`harness/model/keys/`, picked by a
//! seeded hash) or, for ECDSA, are derived from the seed; serial numbers and
//! validity come from a seeded hash; RSA PKCS#1 v1.5 and RFC 6979 signatures
//! are deterministic.
//!
//! Bulk mode ([`bulk`]) stamps unique serials and names into one signed
//! template per key and role: hundreds of thousands of certificates per
//! second, **with signatures that do not verify** ([`verify_signature`] says so).

pub mod adversarial;
pub mod bulk;
mod keys;
mod machine;
mod modern;
mod sccm2007;
mod verify;

pub use machine::{ElementInfo, MachineGenerator};

use certmig_format::names::UnknownName;
use std::fmt;

use crate::format::key_prov_info::{KeyProvInfo, AT_KEYEXCHANGE, AT_SIGNATURE};
use crate::format::{Defect, Property, PropertyId, SerializedElement, Thumbprint};

certmig_format::vocabulary! {
    "profile";
    /// Which generator and key type.
    #[strum(serialize_all = "kebab-case")]
    pub enum Profile {
        /// ConfigMgr 2007 client: RSA-2048, sha1RSA, made with openssl.
        Sccm2007,
        /// The same shape made with rcgen: SHA-256, RSA-2048.
        #[strum(serialize = "modern")]
        ModernRsa,
        /// The same shape made with rcgen: ECDSA P-256 (deterministic RFC 6979 signatures).
        ModernEcdsa,
    }
}

/// The two certificates a ConfigMgr client makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Role {
    Signing,
    Encryption,
}

impl Role {
    /// The friendly-name text ConfigMgr writes.
    pub fn friendly_text(self) -> &'static str {
        match self {
            Role::Signing => "SMS Signing Certificate",
            Role::Encryption => "SMS Encryption Certificate",
        }
    }

    /// `AT_SIGNATURE` or `AT_KEYEXCHANGE`.
    pub fn key_spec(self) -> u32 {
        match self {
            Role::Signing => AT_SIGNATURE,
            Role::Encryption => AT_KEYEXCHANGE,
        }
    }

    /// The machine key container name, e.g. `SMS_PC0042_Signing` (18
    /// characters for a 6-character machine name, which gives the observed
    /// 160-byte key provider info).
    pub fn container(self, machine: &str) -> String {
        match self {
            Role::Signing => format!("SMS_{machine}_Signing"),
            Role::Encryption => format!("SMS_{machine}_Encrypt"),
        }
    }

    /// Role of the `i`-th certificate of a machine: signing, encryption, ...
    pub fn of_index(i: usize) -> Role {
        if i % 2 == 0 {
            Role::Signing
        } else {
            Role::Encryption
        }
    }
}

/// How each certificate's friendly-name defect is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefectChoice {
    Fixed(Defect),
    /// A seeded choice per certificate among [`Defect::ALL`].
    Mixed,
}

impl DefectChoice {
    /// The name of [`DefectChoice::Mixed`]; the others are [`Defect`]'s names.
    pub const MIXED: &'static str = "mixed";

    /// Every name, [`Defect`]'s first.
    pub fn names() -> Vec<&'static str> {
        let mut names = <Defect as strum::VariantNames>::VARIANTS.to_vec();
        names.push(Self::MIXED);
        names
    }
}

impl std::str::FromStr for DefectChoice {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        if s == Self::MIXED {
            return Ok(DefectChoice::Mixed);
        }
        s.parse().map(DefectChoice::Fixed).map_err(|_| UnknownName {
            what: "defect",
            given: s.to_owned(),
            expected: Self::names(),
        })
    }
}

impl fmt::Display for DefectChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefectChoice::Fixed(d) => d.fmt(f),
            DefectChoice::Mixed => f.write_str(Self::MIXED),
        }
    }
}

/// One machine's certificates to generate.
#[derive(Debug, Clone)]
pub struct MachineSpec {
    pub machine: String,
    pub seed: u64,
    pub profile: Profile,
    pub defect: DefectChoice,
    pub certs_per_machine: usize,
    /// Stamped certificates with invalid signatures (see [`bulk`]).
    pub bulk: bool,
}

impl MachineSpec {
    /// Two certificates, sccm2007 profile, signed.
    pub fn sccm(machine: &str, seed: u64, defect: Defect) -> Self {
        MachineSpec {
            machine: machine.to_owned(),
            seed,
            profile: Profile::Sccm2007,
            defect: DefectChoice::Fixed(defect),
            certs_per_machine: 2,
            bulk: false,
        }
    }
}

/// A generated certificate with the properties a client stores with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedCertificate {
    pub der: Vec<u8>,
    pub role: Role,
    pub defect: Defect,
    /// The raw friendly-name property value (UTF-16LE, defect applied).
    pub friendly_name: Vec<u8>,
    pub key_prov_info: KeyProvInfo,
    /// False for bulk certificates, whose stamped bytes break the signature.
    pub signature_valid: bool,
}

impl GeneratedCertificate {
    /// The serialized element in the observed order: friendly name (11),
    /// key provider info (2), then the certificate (32).
    pub fn element(&self) -> SerializedElement<'static> {
        SerializedElement::certificate(
            self.der.clone(),
            vec![
                Property::new(PropertyId::FriendlyName, self.friendly_name.clone()),
                Property::new(PropertyId::KeyProvInfo, self.key_prov_info.encode()),
            ],
        )
    }

    pub fn thumbprint(&self) -> Thumbprint {
        Thumbprint::of(&self.der)
    }
}

/// Errors from certificate generation.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("openssl: {0}")]
    Openssl(#[from] openssl::error::ErrorStack),
    #[error("rcgen: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{0}")]
    Other(String),
}

/// `PC0001`-style machine names: four digits, more past 9999.
pub fn machine_name(index: usize) -> String {
    format!("PC{index:04}")
}

pub use crate::seed::derive;
pub use verify::verify_signature_cached;

/// A positive 16-byte serial number whose DER encoding is always 16 bytes.
pub(crate) fn serial_for(seed: u64, machine: &str, index: usize) -> [u8; 16] {
    let d = derive(seed, &[b"serial", machine.as_bytes(), &index.to_le_bytes()]);
    let mut s = [0u8; 16];
    s.copy_from_slice(&d[..16]);
    s[0] = (s[0] & 0x3F) | 0x40;
    s
}

/// Seconds after 2009-11-01 00:00:00 UTC at which a certificate's validity
/// starts (within about 180 days, seeded).
pub(crate) fn not_before_offset(seed: u64, machine: &str) -> u32 {
    let d = derive(seed, &[b"not-before", machine.as_bytes()]);
    u32::from_le_bytes([d[0], d[1], d[2], d[3]]) % (180 * 86_400)
}

/// 2009-11-01 00:00:00 UTC.
pub(crate) const EPOCH_2009_11_01: i64 = 1_257_033_600;
/// Validity: 100 years (ConfigMgr's self-signed certificates are long-lived).
pub(crate) const VALIDITY_SECS: i64 = 36_525 * 86_400;

/// Generates one machine's certificates.
pub fn generate_machine(spec: &MachineSpec) -> Result<Vec<GeneratedCertificate>, CertError> {
    (0..spec.certs_per_machine)
        .map(|i| generate_one(spec, i))
        .collect()
}

/// The friendly-name defect of certificate `i` of a machine.
pub(crate) fn defect_of(spec: &MachineSpec, i: usize) -> Defect {
    match spec.defect {
        DefectChoice::Fixed(d) => d,
        DefectChoice::Mixed => {
            let d = derive(
                spec.seed,
                &[b"defect", spec.machine.as_bytes(), &i.to_le_bytes()],
            );
            Defect::ALL[d[0] as usize % Defect::ALL.len()]
        }
    }
}

pub(crate) fn generate_one(
    spec: &MachineSpec,
    i: usize,
) -> Result<GeneratedCertificate, CertError> {
    let role = Role::of_index(i);
    let defect = defect_of(spec, i);
    let serial = serial_for(spec.seed, &spec.machine, i);
    let (der, signature_valid) = if spec.bulk {
        (
            bulk::stamped(spec.profile, spec.seed, &spec.machine, role, serial)?,
            false,
        )
    } else {
        (
            sign(spec.profile, spec.seed, &spec.machine, role, serial)?,
            true,
        )
    };
    Ok(GeneratedCertificate {
        der,
        role,
        defect,
        friendly_name: defect.apply(role.friendly_text()),
        key_prov_info: KeyProvInfo::sccm_machine_key(
            &role.container(&spec.machine),
            role.key_spec(),
        ),
        signature_valid,
    })
}

/// Makes and signs one certificate with the profile's generator.
pub(crate) fn sign(
    profile: Profile,
    seed: u64,
    machine: &str,
    role: Role,
    serial: [u8; 16],
) -> Result<Vec<u8>, CertError> {
    let key_index = derive(seed, &[b"key", machine.as_bytes(), &[role as u8]])[0] as usize;
    match profile {
        Profile::Sccm2007 => {
            sccm2007::certificate(keys::sccm2007(key_index)?, seed, machine, role, serial)
        }
        Profile::ModernRsa => modern::rsa(key_index, seed, machine, role, serial),
        Profile::ModernEcdsa => modern::ecdsa(seed, machine, role, serial),
    }
}

/// True when `der` is a certificate whose signature verifies with its own
/// public key (a self-signed certificate that was not tampered with).
pub fn verify_signature(der: &[u8]) -> bool {
    let Ok(x) = openssl::x509::X509::from_der(der) else {
        return false;
    };
    let Ok(key) = x.public_key() else {
        return false;
    };
    x.verify(&key).unwrap_or(false)
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Signing => "signing",
            Role::Encryption => "encryption",
        })
    }
}
