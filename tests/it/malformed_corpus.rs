//! The malformed-input corpus: every case gives a typed error carrying an
//! in-range byte offset (or line), never a panic, and never an allocation
//! larger than the input (checked with a counting global allocator, which
//! counts only the allocations of the thread that reads a case: the other
//! tests of this binary run beside it on other threads).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use certmig::format::{
    self, reg, FormatError, Location, NotAStore, ReadMode, SerializedElement, SerializedStore,
};

use crate::support::{self, sccm_element, sccm_store};

struct Counting;
static LARGEST: AtomicUsize = AtomicUsize::new(0);
/// The thread whose allocations are counted ([`thread`]), 0 for none.
static ARMED: AtomicUsize = AtomicUsize::new(0);

/// The calling thread's identity, found without allocating (the allocator
/// asks for it).
#[cfg(unix)]
fn thread() -> usize {
    // SAFETY: pthread_self has no preconditions and cannot fail.
    unsafe { libc::pthread_self() as usize }
}

#[cfg(windows)]
fn thread() -> usize {
    #[link(name = "kernel32")]
    extern "system" {
        fn GetCurrentThreadId() -> u32;
    }
    // SAFETY: GetCurrentThreadId has no preconditions and cannot fail.
    unsafe { GetCurrentThreadId() as usize }
}

fn armed() -> bool {
    let armed = ARMED.load(Ordering::Relaxed);
    armed != 0 && armed == thread()
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if armed() {
            LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if armed() {
            LARGEST.fetch_max(new, Ordering::Relaxed);
        }
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// How a case is read.
#[derive(Clone, Copy, Debug)]
enum Reader {
    Store,
    Element,
    Reg,
}

struct Case {
    name: String,
    bytes: Vec<u8>,
    reader: Reader,
    check: fn(&FormatError) -> bool,
}

fn case(
    name: impl Into<String>,
    bytes: Vec<u8>,
    reader: Reader,
    check: fn(&FormatError) -> bool,
) -> Case {
    Case {
        name: name.into(),
        bytes,
        reader,
        check,
    }
}

fn le(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

fn utf16_reg(text: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    v.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    v
}

fn corpus() -> Vec<Case> {
    use Reader::*;
    let good = sccm_store(2, format::Defect::DoubledTerminator).to_bytes();
    let elem = sccm_element(1, format::Defect::Clean).to_bytes();
    let mut cases = Vec::new();

    // Truncated at many offsets: inside the header, an entry header, a value,
    // the end marker.
    for cut in [
        1,
        4,
        7,
        9,
        13,
        19,
        20,
        40,
        120,
        good.len() / 2,
        good.len() - 13,
        good.len() - 5,
        good.len() - 1,
    ] {
        cases.push(case(
            format!("sst truncated at {cut}"),
            good[..cut].to_vec(),
            Store,
            |e| {
                matches!(
                    e,
                    FormatError::Truncated { .. }
                        | FormatError::LengthPastEnd { .. }
                        | FormatError::MissingEndMarker { .. }
                        | FormatError::MissingContext { .. }
                        | FormatError::NotAStore { .. }
                )
            },
        ));
    }
    for cut in [3, 11, 30, elem.len() - 1] {
        cases.push(case(
            format!("element truncated at {cut}"),
            elem[..cut].to_vec(),
            Element,
            |e| {
                matches!(
                    e,
                    FormatError::Truncated { .. } | FormatError::LengthPastEnd { .. }
                )
            },
        ));
    }

    let mut wrong_magic = good.clone();
    wrong_magic[7] = b'X';
    cases.push(case("wrong magic", wrong_magic, Store, |e| {
        matches!(
            e,
            FormatError::NotAStore {
                offset: 0,
                detected: NotAStore::Unknown
            }
        )
    }));

    let mut reserved = good.clone();
    reserved[12..16].copy_from_slice(&le(2));
    cases.push(case("reserved != 1", reserved, Store, |e| {
        matches!(
            e,
            FormatError::BadReserved {
                offset: 8,
                reserved: 2,
                ..
            }
        )
    }));

    let mut past_end = good.clone();
    past_end[16..20].copy_from_slice(&le(good.len() as u32));
    cases.push(case("length past the end", past_end, Store, |e| {
        matches!(e, FormatError::LengthPastEnd { offset: 16, .. })
    }));

    let mut huge = good.clone();
    huge[16..20].copy_from_slice(&le(u32::MAX));
    cases.push(case("length 0xFFFFFFFF", huge, Store, |e| {
        matches!(e, FormatError::LengthPastEnd { len: u32::MAX, .. })
    }));

    let mut trailing = good.clone();
    trailing.extend_from_slice(b"junk");
    cases.push(case("data after the end marker", trailing, Store, |e| {
        matches!(e, FormatError::TrailingData { len: 4, .. })
    }));

    // Odd-length friendly name: a 3-byte value.
    let mut odd = Vec::new();
    odd.extend_from_slice(&format::store::STORE_HEADER);
    format::property::write_entry(&mut odd, 11, &[0x41, 0, 0]);
    format::property::write_entry(&mut odd, 32, &support::fake_der(1, 10));
    odd.extend_from_slice(&format::store::END_MARKER);
    cases.push(case("odd-length friendly name", odd, Store, |e| {
        matches!(e, FormatError::FriendlyNameOddLength { offset: 20, len: 3 })
    }));

    for (name, units) in [
        ("unpaired high surrogate", vec![0x41u16, 0xD800, 0x42, 0]),
        ("unpaired low surrogate", vec![0xDC00u16, 0]),
    ] {
        let value: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
        let mut b = Vec::new();
        format::property::write_entry(&mut b, 11, &value);
        format::property::write_entry(&mut b, 32, &support::fake_der(1, 10));
        cases.push(case(name, b, Element, |e| {
            matches!(e, FormatError::UnpairedSurrogate { .. })
        }));
    }

    let pkcs7 = [
        &[0x30, 0x82, 0x01, 0x00][..],
        &[
            0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
        ],
        &[0xA0, 0x82, 0x00, 0xF0],
    ]
    .concat();
    cases.push(case("PKCS#7 given as a store", pkcs7.clone(), Store, |e| {
        matches!(
            e,
            FormatError::NotAStore {
                detected: NotAStore::Pkcs7,
                ..
            }
        )
    }));
    cases.push(case(
        "bare DER certificate given as a store",
        support::fake_der(1, 300),
        Store,
        |e| {
            matches!(
                e,
                FormatError::NotAStore {
                    detected: NotAStore::DerCertificate,
                    ..
                }
            )
        },
    ));
    cases.push(case(
        "PEM given as a store",
        b"-----BEGIN CERTIFICATE-----\nMIIB\n".to_vec(),
        Store,
        |e| {
            matches!(
                e,
                FormatError::NotAStore {
                    detected: NotAStore::Pem,
                    ..
                }
            )
        },
    ));
    cases.push(case(
        "bare DER given as an element",
        support::fake_der(1, 300),
        Element,
        |e| {
            matches!(
                e,
                FormatError::BadReserved { .. }
                    | FormatError::BadPropertyId { .. }
                    | FormatError::LengthPastEnd { .. }
                    | FormatError::Truncated { .. }
            )
        },
    ));
    cases.push(case("empty element file", Vec::new(), Element, |e| {
        matches!(e, FormatError::MissingContext { offset: 0 })
    }));

    let mut big_id = good.clone();
    big_id[8..12].copy_from_slice(&le(0x1_0000));
    cases.push(case("property id above 0xFFFF", big_id, Store, |e| {
        matches!(
            e,
            FormatError::BadPropertyId {
                offset: 8,
                prop_id: 0x10000
            }
        )
    }));

    let mut bad_end = good.clone();
    let n = bad_end.len();
    bad_end[n - 4..].copy_from_slice(&le(1));
    cases.push(case("end marker with a length", bad_end, Store, |e| {
        matches!(
            e,
            FormatError::BadEndMarker { len: 1, .. } | FormatError::LengthPastEnd { .. }
        )
    }));

    let mut orphan = Vec::new();
    orphan.extend_from_slice(&format::store::STORE_HEADER);
    format::property::write_entry(&mut orphan, 11, &[0x41, 0, 0, 0]);
    orphan.extend_from_slice(&format::store::END_MARKER);
    cases.push(case("properties with no certificate", orphan, Store, |e| {
        matches!(e, FormatError::MissingContext { offset: 8 })
    }));

    let mut with_marker = elem.clone();
    with_marker.extend_from_slice(&format::store::END_MARKER);
    cases.push(case(
        "end marker inside an element",
        with_marker,
        Element,
        |e| matches!(e, FormatError::EndMarkerInElement { .. }),
    ));

    let mut after = sccm_element(1, format::Defect::Clean);
    after.order = format::EntryOrder::ContextFirst;
    cases.push(case(
        "properties after the certificate (strict)",
        after.to_bytes(),
        Element,
        |e| matches!(e, FormatError::PropertiesAfterContext { .. }),
    ));

    let mut two = elem.clone();
    format::property::write_entry(&mut two, 32, &support::fake_der(2, 10));
    cases.push(case("two certificates in one element", two, Element, |e| {
        matches!(e, FormatError::TrailingData { .. })
    }));

    // .reg files.
    let thumb = sccm_element(1, format::Defect::Clean).thumbprint().to_hex();
    let blob_hex = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let key = |k: &str| {
        format!(
            "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\SystemCertificates\\SMS\\Certificates\\{k}]"
        )
    };
    let reg5 = |body: String| {
        utf16_reg(&format!(
            "Windows Registry Editor Version 5.00\r\n\r\n{body}\r\n"
        ))
    };
    cases.push(case(
        ".reg with odd hex digits",
        reg5(format!("{}\r\n\"Blob\"=hex:0b,0,00\r\n", key(&thumb))),
        Reg,
        |e| {
            matches!(
                e,
                FormatError::Reg(format::RegError::OddHexDigits { line: 4, .. })
            )
        },
    ));
    cases.push(case(
        ".reg with a dangling continuation",
        reg5(format!("{}\r\n\"Blob\"=hex:0b,00,\\\r\n", key(&thumb))),
        Reg,
        |e| {
            matches!(
                e,
                FormatError::Reg(format::RegError::DanglingContinuation { .. })
            )
        },
    ));
    cases.push(case(
        ".reg Blob under a non-thumbprint key",
        reg5(format!(
            "{}\r\n\"Blob\"=hex:{}\r\n",
            key("NotAThumbprint"),
            blob_hex(&elem)
        )),
        Reg,
        |e| {
            matches!(
                e,
                FormatError::Reg(format::RegError::NotAThumbprintKey { line: 4, .. })
            )
        },
    ));
    cases.push(case(
        ".reg thumbprint that does not match",
        reg5(format!(
            "{}\r\n\"Blob\"=hex:{}\r\n",
            key(&"AB".repeat(20)),
            blob_hex(&elem)
        )),
        Reg,
        |e| {
            matches!(
                e,
                FormatError::Reg(format::RegError::ThumbprintMismatch { .. })
            )
        },
    ));
    cases.push(case(
        ".reg Blob that is not an element",
        reg5(format!("{}\r\n\"Blob\"=hex:01,02,03\r\n", key(&thumb))),
        Reg,
        |e| matches!(e, FormatError::Reg(format::RegError::Blob { .. })),
    ));
    let mut odd_utf16 = reg5(String::new());
    odd_utf16.push(b'x');
    cases.push(case(
        ".reg UTF-16 with an odd byte count",
        odd_utf16,
        Reg,
        |e| matches!(e, FormatError::Reg(format::RegError::Encoding { .. })),
    ));
    cases.push(case(
        ".reg in the wrong encoding (UTF-16BE)",
        [
            &[0xFE, 0xFF][..],
            &"Windows"
                .encode_utf16()
                .flat_map(u16::to_be_bytes)
                .collect::<Vec<_>>(),
        ]
        .concat(),
        Reg,
        |e| matches!(e, FormatError::Reg(format::RegError::Encoding { .. })),
    ));
    cases
}

fn read(c: &Case) -> Result<(), FormatError> {
    match c.reader {
        Reader::Store => SerializedStore::parse(&c.bytes, ReadMode::Strict).map(drop),
        Reader::Element => SerializedElement::parse(&c.bytes, 0, ReadMode::Strict).map(drop),
        Reader::Reg => reg::parse_reg(&c.bytes, ReadMode::Strict).map(drop),
    }
}

#[test]
fn every_malformed_input_gives_a_located_typed_error_without_large_allocations() {
    let cases = corpus();
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        LARGEST.store(0, Ordering::Relaxed);
        ARMED.store(thread(), Ordering::Relaxed);
        let result = std::panic::catch_unwind(|| read(c));
        ARMED.store(0, Ordering::Relaxed);
        let largest = LARGEST.load(Ordering::Relaxed);
        match result {
            Err(_) => failures.push(format!("{}: panicked", c.name)),
            Ok(Ok(())) => failures.push(format!("{}: accepted", c.name)),
            Ok(Err(e)) => {
                if !(c.check)(&e) {
                    failures.push(format!("{}: unexpected error {e:?}", c.name));
                }
                match e.location() {
                    Location::Offset(o) if o > c.bytes.len() => failures.push(format!(
                        "{}: offset {o} beyond {} bytes",
                        c.name,
                        c.bytes.len()
                    )),
                    Location::Line(0) => failures.push(format!("{}: line 0", c.name)),
                    _ => {}
                }
                // No allocation larger than the input, apart from a small
                // fixed allowance for bookkeeping (a property list's first
                // capacity); nothing may be sized by a length field in the input.
                let bound = c.bytes.len() + 256;
                if largest > bound {
                    failures.push(format!(
                        "{}: allocated {largest} bytes for a {}-byte input",
                        c.name,
                        c.bytes.len()
                    ));
                }
                assert!(!e.to_string().is_empty());
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
