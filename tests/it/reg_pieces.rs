//! A REGEDIT5 export read in pieces (`format::reg::RegPieces`, each piece
//! parsed on its own, as `certmig scan` streams a large export) reads
//! exactly what the whole-file reader reads: the same certificates, lines,
//! key names, `Blob` spans and notes, up to the same first error, for any
//! piece size, on real-looking exports and on exports broken at any place.

use certmig::format::reg::{
    line_start_offset, parse_reg5_piece, parse_reg_partial, piece_line_start, reads_in_pieces,
    ParsedReg, RegPieces,
};
use certmig::format::registry::RegistryStore;
use certmig::format::{Defect, Limits, ReadMode};
use proptest::prelude::*;

use crate::support::{self, regedit5, sccm_element, store, utf16};

/// Everything the reader reports, in file order, and the first error with
/// its line start offset.
#[derive(Debug, PartialEq, Default)]
struct Read {
    certificates: Vec<String>,
    blob_lines: Vec<usize>,
    key_names: Vec<String>,
    blob_spans: Vec<std::ops::Range<usize>>,
    notes: Vec<(usize, String)>,
    error: Option<(String, Option<usize>)>,
}

impl Read {
    fn add(&mut self, p: ParsedReg) {
        self.certificates.extend(
            p.store
                .certificates
                .iter()
                .map(|c| format!("{} {}", c.thumbprint, hex::encode(c.element.to_bytes()))),
        );
        self.blob_lines.extend(p.blob_lines);
        self.key_names.extend(p.key_names);
        self.blob_spans.extend(p.blob_spans);
        self.notes
            .extend(p.notes.into_iter().map(|n| (n.line, n.message)));
    }
}

fn whole(bytes: &[u8], mode: ReadMode) -> Read {
    let (p, e) = parse_reg_partial(bytes, mode, &Limits::default());
    let mut r = Read::default();
    r.add(p);
    r.error = e.map(|e| {
        let at = match e.location() {
            certmig::format::Location::Line(l) => line_start_offset(bytes, l),
            certmig::format::Location::Offset(o) => Some(o),
        };
        (e.to_string(), at)
    });
    r
}

fn by_pieces(bytes: &[u8], size: usize, mode: ReadMode) -> Read {
    let mut pieces = RegPieces::new(bytes, size);
    let mut buf = Vec::new();
    let mut r = Read::default();
    while let Some(at) = pieces.next_piece(&mut buf).unwrap() {
        let (p, e) = parse_reg5_piece(&buf, at, mode, &Limits::default());
        r.add(p);
        if let Some(e) = e {
            let at = match e.location() {
                certmig::format::Location::Line(l) => piece_line_start(&buf, at, l),
                certmig::format::Location::Offset(o) => Some(o),
            };
            r.error = Some((e.to_string(), at));
            break;
        }
    }
    r
}

fn assert_same(bytes: &[u8], what: &str) {
    if !reads_in_pieces(bytes, bytes.len() as u64) {
        return;
    }
    for mode in [ReadMode::Strict, ReadMode::Lenient] {
        let want = whole(bytes, mode);
        for size in [4, 30, 200, 1000, 4096, 1 << 20] {
            assert_eq!(
                by_pieces(bytes, size, mode),
                want,
                "{what}, pieces of {size}"
            );
        }
    }
}

/// A larger export: 40 certificates of every shape, regedit's layout.
fn many() -> Vec<u8> {
    let defects = [
        Defect::Clean,
        Defect::DoubledTerminator,
        Defect::EmbeddedNul,
        Defect::OnlyNuls,
    ];
    let elements = (0..40u8)
        .map(|i| sccm_element(i, defects[usize::from(i) % defects.len()]))
        .collect();
    certmig::format::reg::write_reg(
        &RegistryStore::from_elements("SMS", elements),
        certmig::format::reg::RegEncoding::Regedit5,
    )
}

fn units(bytes: &[u8]) -> Vec<u16> {
    bytes[2..]
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect()
}

fn from_units(u: &[u16]) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    v.extend(u.iter().flat_map(|u| u.to_le_bytes()));
    v
}

#[test]
fn pieces_read_what_the_whole_file_reads_on_clean_exports() {
    let real = regedit5(&store());
    assert_same(&real, "a real-looking export");
    let many = many();
    assert!(whole(&many, ReadMode::Strict).error.is_none());
    assert_eq!(whole(&many, ReadMode::Strict).certificates.len(), 40);
    assert_same(&many, "40 certificates");
    // Just the header, and a header without a line end.
    assert_same(&utf16("Windows Registry Editor Version 5.00\r\n"), "header");
    assert_same(
        &utf16("Windows Registry Editor Version 5.00"),
        "bare header",
    );
    assert_same(&utf16("REGEDIT4\r\n"), "wrong header");
    assert_same(&[0xFF, 0xFE], "BOM only");
}

#[test]
fn pieces_stop_at_the_same_first_error() {
    let many = many();
    let u = units(&many);
    let n = u.len();
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for at in [40, n / 7, n / 3, n / 2, n - 30] {
        // Cut there (an even length: still read by pieces).
        cases.push((format!("cut at {at}"), from_units(&u[..at])));
        // A hex digit that is not one, a quote, a key bracket, a backslash
        // (a dangling or extra continuation), a line end.
        for (name, unit) in [
            ("g", u16::from(b'g')),
            ("quote", u16::from(b'"')),
            ("bracket", u16::from(b'[')),
            ("backslash", u16::from(b'\\')),
            ("lf", u16::from(b'\n')),
            ("non-ascii", 0x00E9),
            ("high surrogate", 0xD83D),
            ("low surrogate", 0xDE00),
        ] {
            let mut v = u.clone();
            v[at] = unit;
            cases.push((format!("{name} at {at}"), from_units(&v)));
        }
    }
    // A thumbprint key that does not match its certificate, in a later
    // section; a key line inside a value's continuation.
    let text = String::from_utf16(&u).unwrap();
    let keys: Vec<usize> = text
        .match_indices("\\Certificates\\")
        .map(|(i, _)| i)
        .collect();
    let k = keys[keys.len() * 2 / 3] + "\\Certificates\\".len();
    let mut v = u.clone();
    v[k] = if v[k] == u16::from(b'0') {
        u16::from(b'1')
    } else {
        u16::from(b'0')
    };
    cases.push(("thumbprint mismatch".into(), from_units(&v)));
    let cont = text.find(",\\\r\n  ").unwrap() + 4;
    let mut v = u.clone();
    v.splice(cont..cont, "[X]\r\n".encode_utf16());
    cases.push(("key line in a continuation".into(), from_units(&v)));
    let mut errors = 0;
    for (name, bytes) in &cases {
        if whole(bytes, ReadMode::Strict).error.is_some() {
            errors += 1;
        }
        assert_same(bytes, name);
    }
    // The cases do break the file (all but the harmless edits).
    assert!(errors * 2 > cases.len(), "{errors} of {}", cases.len());
}

#[test]
fn an_unpaired_surrogate_stops_the_reading_at_the_start_of_its_line() {
    // What the whole file gives since pieces: the certificates whose
    // values end before the bad line, then the encoding error.
    let many = many();
    let u = units(&many);
    let mut v = u.clone();
    let at = u.len() / 2;
    v[at] = 0xD800;
    let bad = from_units(&v);
    let r = whole(&bad, ReadMode::Strict);
    let (message, _) = r.error.clone().unwrap();
    assert!(
        message.contains("unpaired UTF-16 surrogate 0xd800"),
        "{message}"
    );
    assert!(
        (10..40).contains(&r.certificates.len()),
        "{} certificates before the error",
        r.certificates.len()
    );
    assert_eq!(
        r.certificates[..],
        whole(&many, ReadMode::Strict).certificates[..r.certificates.len()]
    );
}

proptest! {
    #![proptest_config(support::proptest_config(64))]

    /// Any edit of a few code units anywhere, any piece size.
    #[test]
    fn pieces_read_what_the_whole_file_reads_after_any_edit(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), prop_oneof![
            Just(u16::from(b'[')), Just(u16::from(b'\n')), Just(u16::from(b'\\')),
            Just(u16::from(b'"')), Just(u16::from(b',')), Just(u16::from(b' ')),
            Just(0xD800u16), Just(0xDC00u16), Just(0x00E9u16), 0u16..0x80,
        ]), 1..4),
        size in 2usize..3000,
    ) {
        let mut u = units(&regedit5(&store()));
        for (i, unit) in edits {
            let at = i.index(u.len());
            u[at] = unit;
        }
        let bytes = from_units(&u);
        for mode in [ReadMode::Strict, ReadMode::Lenient] {
            prop_assert_eq!(by_pieces(&bytes, size, mode), whole(&bytes, mode));
        }
    }
}
