//! The validation corpus: stores generated from a seed that cover every
//! friendly-name shape, clean and mixed stores, one certificate and many,
//! non-SMS certificates, unusual property orders, unknown property ids, a
//! large store, and malformed inputs, each rendered in the format under test.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::cert::{self, bulk, GeneratedCertificate, MachineSpec, Role};
use crate::format::friendly_name::encode_utf16;
use crate::format::reg::{write_reg, RegEncoding};
use crate::format::registry::RegistryStore;
use crate::format::{Defect, FileFormat, Property, PropertyId, SerializedElement, SerializedStore};

/// A case's input as the tool gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseInput {
    /// One file.
    File(Vec<u8>),
    /// A directory of `<THUMBPRINT>.blob` files (`--format blob`).
    BlobDir(Vec<(String, Vec<u8>)>),
}

impl CaseInput {
    /// Its bytes, a directory's files added up.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        match self {
            CaseInput::File(b) => b.len(),
            CaseInput::BlobDir(files) => files.iter().map(|f| f.1.len()).sum(),
        }
    }
}

/// One corpus case.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub description: String,
    /// False for malformed inputs (invariant V8 applies instead of V1-V7).
    pub valid: bool,
    pub input: CaseInput,
}

/// The friendly-name values a corpus uses, by shape.
fn name_value(shape: usize, text: &str) -> Vec<u8> {
    match shape % 6 {
        0 => Defect::Clean.apply(text),
        1 => Defect::DoubledTerminator.apply(text),
        2 => Defect::EmbeddedNul.apply(text),
        3 => Defect::OnlyNuls.apply(text),
        4 => encode_utf16(text), // no terminator: tolerated, not bad
        _ => {
            // Several NULs inside and at the end.
            let mut v = encode_utf16(text);
            v.splice(0..0, [0, 0]);
            v.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            v
        }
    }
}

/// Certificates to build cases from: signed SCCM-like pairs from the key
/// pool (generated once per corpus).
struct Pool {
    certs: Vec<GeneratedCertificate>,
}

impl Pool {
    fn new(seed: u64) -> Pool {
        let mut certs = Vec::new();
        for m in 1..=4 {
            let spec = MachineSpec::sccm(&cert::machine_name(m), seed, Defect::Clean);
            certs.extend(
                cert::generate_machine(&spec).expect("certificates from the committed key pool"),
            );
        }
        Pool { certs }
    }

    /// An SMS-shaped element (friendly name, key provider info, certificate)
    /// of pool certificate `i` with friendly-name value `name`.
    fn sms(&self, i: usize, name: Vec<u8>) -> SerializedElement<'static> {
        let c = &self.certs[i % self.certs.len()];
        SerializedElement::certificate(
            c.der.clone(),
            vec![
                Property::new(PropertyId::FriendlyName, name),
                Property::new(PropertyId::KeyProvInfo, c.key_prov_info.encode()),
            ],
        )
    }

    fn text(&self, i: usize) -> &'static str {
        self.certs[i % self.certs.len()].role.friendly_text()
    }
}

/// Stamped certificates (bulk mode) for the large case: valid DER, invalid
/// signatures, which the invariants do not care about.
fn bulk_elements(seed: u64, n: usize, rng: &mut ChaCha8Rng) -> Vec<SerializedElement<'static>> {
    (0..n)
        .map(|i| {
            let role = if i % 2 == 0 {
                Role::Signing
            } else {
                Role::Encryption
            };
            let mut serial = [0u8; 16];
            serial[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            serial[0] = 0x40; // positive, and never a leading zero
            let der = bulk::stamped(cert::Profile::Sccm2007, seed, "PC9000", role, serial)
                .expect("bulk certificate");
            let defect = if rng.gen_bool(0.5) {
                Defect::DoubledTerminator
            } else {
                Defect::Clean
            };
            let kpi = crate::format::KeyProvInfo::sccm_machine_key(
                &role.container("PC9000"),
                role.key_spec(),
            );
            SerializedElement::certificate(
                der,
                vec![
                    Property::new(PropertyId::FriendlyName, defect.apply(role.friendly_text())),
                    Property::new(PropertyId::KeyProvInfo, kpi.encode()),
                ],
            )
        })
        .collect()
}

/// Renders elements in `format`.
pub fn render(elements: &[SerializedElement<'_>], format: FileFormat) -> CaseInput {
    match format {
        FileFormat::Sst => CaseInput::File(SerializedStore::new(elements.to_vec()).to_bytes()),
        FileFormat::Reg => CaseInput::File(write_reg(
            &RegistryStore::from_elements("SMS", elements.to_vec()),
            RegEncoding::Regedit5,
        )),
        // A single element file cannot hold a multi-certificate case: a
        // `.blob` corpus is a directory of them.
        FileFormat::Blob | FileFormat::BlobDir => {
            CaseInput::BlobDir(RegistryStore::from_elements("SMS", elements.to_vec()).blob_files())
        }
    }
}

/// Malformed variants of a valid rendering, for V8.
fn malformed(
    valid: &CaseInput,
    format: FileFormat,
) -> Vec<(&'static str, &'static str, CaseInput)> {
    let file = |b: Vec<u8>| match valid {
        CaseInput::File(_) => CaseInput::File(b),
        CaseInput::BlobDir(files) => {
            let mut files = files.clone();
            if let Some(f) = files.first_mut() {
                f.1 = b;
            }
            CaseInput::BlobDir(files)
        }
    };
    let bytes = match valid {
        CaseInput::File(b) => b.clone(),
        CaseInput::BlobDir(files) => files.first().map(|f| f.1.clone()).unwrap_or_default(),
    };
    let mut out = vec![
        (
            "malformed-truncated",
            "the input cut in the middle of a certificate",
            file(bytes[..bytes.len() * 2 / 3].to_vec()),
        ),
        (
            "malformed-garbage",
            "bytes that are no certificate store at all",
            file(b"\x30\x82\x01\x00 this is not a store".to_vec()),
        ),
    ];
    match format {
        FileFormat::Reg => {
            // An odd number of hex digits in the first Blob line.
            let text: Vec<u16> = bytes[2..]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            let s = String::from_utf16_lossy(&text).replacen("hex:0b,", "hex:0b,0", 1);
            let mut b = vec![0xff, 0xfe];
            b.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
            out.push((
                "malformed-odd-hex",
                "a Blob with an odd number of hex digits",
                file(b),
            ));
        }
        FileFormat::Sst | FileFormat::Blob | FileFormat::BlobDir => {
            // The first entry's length field made huge.
            let mut b = bytes.clone();
            let at = if format == FileFormat::Sst { 8 } else { 0 };
            if b.len() >= at + 12 {
                b[at + 8..at + 12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
            }
            out.push((
                "malformed-length",
                "an entry whose length runs past the end of the file",
                file(b),
            ));
        }
    }
    out
}

/// The fixed cases, in order: every shape and structure.
const FIXED_CASES: usize = 13;

/// The malformed cases that follow the valid ones (for every format).
const MALFORMED_CASES: usize = 3;

/// The corpus, made one case at a time: a fixed set of cases that cover
/// every shape and structure, then random stores up to `cases` valid cases,
/// then the malformed inputs. The same seed gives the same cases in the
/// same order, whatever consumes them.
pub struct Corpus {
    pool: Pool,
    rng: ChaCha8Rng,
    seed: u64,
    format: FileFormat,
    valid: usize,
    made: usize,
    random: usize,
    malformed: Option<std::vec::IntoIter<Case>>,
}

/// The corpus of `cases` valid cases (at least one) and the malformed ones.
pub fn generate(seed: u64, cases: usize, format: FileFormat) -> Corpus {
    Corpus {
        pool: Pool::new(seed),
        rng: certmig_format::seed::rng(seed, "validate corpus"),
        seed,
        format,
        valid: cases.max(1),
        made: 0,
        random: 0,
        malformed: None,
    }
}

impl Corpus {
    /// How many cases the corpus holds in all.
    pub fn total(&self) -> usize {
        self.valid + MALFORMED_CASES
    }

    fn pair(&self, shape: usize) -> Vec<SerializedElement<'static>> {
        let pool = &self.pool;
        vec![
            pool.sms(0, name_value(shape, pool.text(0))),
            pool.sms(1, name_value(shape, pool.text(1))),
        ]
    }

    /// Fixed case `k`: name, description, elements.
    fn fixed(&mut self, k: usize) -> (String, String, Vec<SerializedElement<'static>>) {
        let pool = &self.pool;
        let (name, description, elements) = match k {
            0 => (
                "one-doubled-terminator",
                "one SMS Signing Certificate with the ConfigMgr 2007 doubled terminator",
                vec![pool.sms(0, name_value(1, pool.text(0)))],
            ),
            1 => (
                "pair-doubled-terminator",
                "an SP1/SP2 client's SMS store: signing and encryption certificates, doubled terminators",
                self.pair(1),
            ),
            2 => (
                "pair-embedded-nul",
                "a NUL in place of the first space (SMS\\0Signing Certificate\\0)",
                self.pair(2),
            ),
            3 => (
                "pair-only-nuls",
                "names that are only NULs: the repaired name is empty (a warning)",
                self.pair(3),
            ),
            4 => ("pair-many-nuls", "NULs before, inside and after the text", self.pair(5)),
            5 => ("clean-store", "clean names: nothing to repair", self.pair(0)),
            6 => (
                "no-terminator",
                "names without a terminator: tolerated, not repaired",
                self.pair(4),
            ),
            7 => ("empty-store", "a store with no certificates", vec![]),
            8 => {
                let mut e = pool.sms(2, encode_utf16("Contoso Web Server\0"));
                e.properties.retain(|p| p.id != PropertyId::KeyProvInfo);
                let bare = SerializedElement::certificate(pool.certs[3].der.clone(), vec![]);
                (
                    "non-sms",
                    "certificates that are not ConfigMgr's: another name, and one with no properties at all",
                    vec![e, bare],
                )
            }
            9 => (
                "mixed",
                "doubled, clean, embedded-NUL and a non-SMS certificate in one store",
                vec![
                    pool.sms(0, name_value(1, pool.text(0))),
                    pool.sms(1, name_value(0, pool.text(1))),
                    pool.sms(2, name_value(2, pool.text(2))),
                    SerializedElement::certificate(
                        pool.certs[3].der.clone(),
                        vec![Property::new(
                            PropertyId::FriendlyName,
                            encode_utf16("Other\0"),
                        )],
                    ),
                ],
            ),
            10 => {
                let mut e = pool.sms(4, name_value(1, pool.text(4)));
                e.properties.reverse(); // key provider info before the friendly name
                let mut f = pool.sms(5, name_value(2, pool.text(5)));
                f.properties.insert(
                    0,
                    Property::new(
                        PropertyId::Description,
                        encode_utf16("issued by ConfigMgr\0"),
                    ),
                );
                (
                    "unusual-order",
                    "key provider info before the friendly name; a description property first",
                    vec![e, f],
                )
            }
            11 => {
                let mut e = pool.sms(6, name_value(1, pool.text(6)));
                e.properties.insert(
                    1,
                    Property::new(PropertyId::from_u32(0x5A), vec![1, 2, 3, 4, 5]),
                );
                e.properties
                    .push(Property::new(PropertyId::from_u32(0x7FFF), vec![]));
                (
                    "unknown-properties",
                    "property ids the harness does not know (0x5A, 0x7FFF) between and after the known ones",
                    vec![e, pool.sms(7, name_value(0, pool.text(7)))],
                )
            }
            _ => (
                "large",
                "a large store: 600 stamped certificates, half of them bad",
                bulk_elements(self.seed, 600, &mut self.rng),
            ),
        };
        (name.to_owned(), description.to_owned(), elements)
    }

    /// The next random store.
    fn random(&mut self) -> (String, String, Vec<SerializedElement<'static>>) {
        let (pool, rng) = (&self.pool, &mut self.rng);
        // Distinct certificates: a store holds each certificate once.
        let n = rng.gen_range(1..=pool.certs.len());
        let picks: Vec<usize> = rand::seq::index::sample(rng, pool.certs.len(), n).into_vec();
        let mut elements = Vec::with_capacity(n);
        for c in picks {
            let mut e = pool.sms(c, name_value(rng.gen_range(0..6), pool.text(c)));
            if rng.gen_bool(0.3) {
                e.properties.shuffle(rng);
            }
            if rng.gen_bool(0.2) {
                e.properties.push(Property::new(
                    PropertyId::from_u32(rng.gen_range(0x40..0x80)),
                    vec![rng.gen(); rng.gen_range(0..9)],
                ));
            }
            elements.push(e);
        }
        self.random += 1;
        (
            format!("random-{:02}", self.random),
            format!("{n} certificates, random shapes and property orders"),
            elements,
        )
    }
}

impl Iterator for Corpus {
    type Item = Case;

    fn next(&mut self) -> Option<Case> {
        if self.made < self.valid {
            let k = self.made;
            self.made += 1;
            let (name, description, elements) = if k < FIXED_CASES {
                self.fixed(k)
            } else {
                self.random()
            };
            return Some(Case {
                name,
                description,
                valid: true,
                input: render(&elements, self.format),
            });
        }
        if self.malformed.is_none() {
            let reference = render(&self.pair(1), self.format);
            let cases: Vec<Case> = malformed(&reference, self.format)
                .into_iter()
                .map(|(name, description, input)| Case {
                    name: name.to_owned(),
                    description: description.to_owned(),
                    valid: false,
                    input,
                })
                .collect();
            debug_assert_eq!(cases.len(), MALFORMED_CASES);
            self.malformed = Some(cases.into_iter());
        }
        self.malformed.as_mut().and_then(Iterator::next)
    }
}
