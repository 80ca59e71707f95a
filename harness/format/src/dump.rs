//! Annotated hex dumps: every entry of an element or store shown with its
//! offset, raw bytes and meaning. These are what the golden snapshots under
//! `golden/` hold, and what `certmig dump` prints, so a reviewer can check a
//! byte layout against docs/FORMATS.md without a hex editor.

use std::fmt::Write as _;

use super::element::SerializedElement;
use super::friendly_name;
use super::key_prov_info::KeyProvInfo;
use super::property::{Property, PropertyId, ENTRY_HEADER_LEN};
use super::store::{SerializedStore, END_MARKER, STORE_HEADER};

/// Bytes shown per dump line.
const WIDTH: usize = 16;
/// A long value (a DER certificate) shows this many lines, then a count.
const MAX_VALUE_LINES: usize = 2;

/// Dumps any file: the format is detected from content.
pub fn file(bytes: &[u8], mode: super::ReadMode) -> Result<String, super::FormatError> {
    let mut out = Vec::new();
    file_to(bytes, mode, &mut out).map_err(|e| match e {
        DumpError::Format(e) => e,
        DumpError::Io(e) => unreachable!("writing to memory: {e}"),
    })?;
    Ok(String::from_utf8(out).expect("the dump is text"))
}

/// Why [`file_to`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The input is malformed there; the dump written so far ends with a
    /// line saying so.
    #[error("{0}")]
    Format(#[from] super::FormatError),
    /// The output could not be written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Dumps any file into `w` as it goes: a store one element at a time
/// ([`super::StoreElements`]), so the memory a dump needs is the file and
/// one element's text, not the dump of every element. When the input is
/// malformed part-way, what was read is dumped, then a last line saying
/// where and why the reading stopped, and the error is returned.
pub fn file_to(
    bytes: &[u8],
    mode: super::ReadMode,
    w: &mut dyn std::io::Write,
) -> Result<(), DumpError> {
    match super::detect(bytes) {
        super::FileFormat::Sst => {
            if bytes.is_empty() {
                return Ok(w.write_all(EMPTY_STORE.as_bytes())?);
            }
            let elements = super::StoreElements::new(bytes, mode, &super::Limits::default())?;
            store_into(elements.map(|r| r.map(|(_, e)| e)), &mut |text| {
                w.write_all(text.as_bytes())
            })
        }
        super::FileFormat::Blob | super::FileFormat::BlobDir => {
            let e = super::parse_element_file(bytes, mode)?;
            Ok(w.write_all(element(&e, 0).as_bytes())?)
        }
        super::FileFormat::Reg => Ok(w.write_all(reg(bytes, mode)?.as_bytes())?),
    }
}

const EMPTY_STORE: &str = "(empty file: an empty store)\n";

/// The dump of a store (not an empty file) from its elements, in pieces
/// handed to `emit`: the header, each element, the end marker. An error
/// among the elements ends the dump with a line saying so, and is returned.
fn store_into<'e>(
    elements: impl Iterator<Item = Result<SerializedElement<'e>, super::FormatError>>,
    emit: &mut dyn FnMut(&str) -> std::io::Result<()>,
) -> Result<(), DumpError> {
    let mut out = String::new();
    bytes_line(
        &mut out,
        0,
        &STORE_HEADER,
        "store header: version 0, magic \"CERT\"",
    );
    let mut at = STORE_HEADER.len();
    for (i, e) in elements.enumerate() {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                let _ = writeln!(out, "-- not read further: {err}");
                emit(&out)?;
                return Err(err.into());
            }
        };
        let _ = writeln!(
            out,
            "-- element {i}: {:?}, {} bytes",
            e.kind,
            e.encoded_len()
        );
        element_into(&mut out, &e, at);
        at += e.encoded_len();
        emit(&out)?;
        out.clear();
    }
    bytes_line(
        &mut out,
        at,
        &END_MARKER,
        "end marker (id 0, reserved 0, length 0)",
    );
    Ok(emit(&out)?)
}

/// Dumps a `.reg` export: the encoding, every text line with the byte offset
/// it starts at (CR LF shown as `\r\n`), then each certificate's `Blob`
/// decoded as an annotated element.
pub fn reg(bytes: &[u8], mode: super::ReadMode) -> Result<String, super::FormatError> {
    let parsed = super::reg::parse_reg(bytes, mode)?;
    let mut out = String::new();
    let utf16 = parsed.encoding == super::reg::RegEncoding::Regedit5;
    let _ = writeln!(
        out,
        "{:?}: {}, {} bytes",
        parsed.encoding,
        if utf16 {
            "UTF-16LE with byte-order mark ff fe"
        } else {
            "single-byte text"
        },
        bytes.len()
    );
    let (body, unit, mut at) = if utf16 {
        (&bytes[2..], 2, 2)
    } else {
        (bytes, 1, 0)
    };
    let text: String = if utf16 {
        String::from_utf16_lossy(
            &body
                .chunks_exact(2)
                .map(|p| u16::from_le_bytes([p[0], p[1]]))
                .collect::<Vec<_>>(),
        )
    } else {
        String::from_utf8_lossy(body).into_owned()
    };
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let shown = line.replace('\r', "\\r").replace('\n', "\\n");
        let _ = writeln!(out, "line {:>3} @ {at:08x}: {shown}", i + 1);
        at += line.encode_utf16().count() * unit;
    }
    for (c, line) in parsed.store.certificates.iter().zip(&parsed.blob_lines) {
        let _ = writeln!(
            out,
            "-- Blob of key {} (line {line}), {} bytes",
            c.thumbprint,
            c.element.encoded_len()
        );
        element_into(&mut out, &c.element, 0);
    }
    Ok(out)
}

/// Dumps one serialized element whose first byte is at `base`.
pub fn element(e: &SerializedElement<'_>, base: usize) -> String {
    let mut out = String::new();
    element_into(&mut out, e, base);
    out
}

/// Dumps a whole `.sst` store.
pub fn store(s: &SerializedStore<'_>) -> String {
    if s.empty_file {
        return EMPTY_STORE.to_owned();
    }
    let mut out = String::new();
    let _ = store_into(s.elements.iter().cloned().map(Ok), &mut |text| {
        out.push_str(text);
        Ok(())
    });
    out
}

fn element_into(out: &mut String, e: &SerializedElement<'_>, base: usize) {
    let context = Property::new(e.kind.property_id(), &e.der[..]);
    let mut entries: Vec<&Property<'_>> = e.properties.iter().collect();
    match e.order {
        super::EntryOrder::PropertiesFirst => entries.push(&context),
        super::EntryOrder::ContextFirst => entries.insert(0, &context),
    }
    let mut at = base;
    for p in entries {
        entry(out, at, p);
        at += p.encoded_len();
    }
}

fn entry(out: &mut String, at: usize, p: &Property<'_>) {
    let mut header = Vec::with_capacity(ENTRY_HEADER_LEN);
    p.write_to(&mut header);
    header.truncate(ENTRY_HEADER_LEN);
    let id = p.id.to_u32();
    bytes_line(
        out,
        at,
        &header,
        &format!(
            "property {id} {}, encoding 1, length {}",
            p.id.sdk_name(),
            p.value.len()
        ),
    );
    let v = &p.value[..];
    let meaning = match p.id {
        PropertyId::FriendlyName => format!(
            "friendly name ({}): \"{}\"",
            friendly_name::classify(v),
            friendly_name::escape(v)
        ),
        PropertyId::KeyProvInfo => match KeyProvInfo::decode(v, 0) {
            Ok(k) => format!(
                "key provider info: container {:?}, provider {:?}, type {}, flags {:#x}, {} params, key spec {}",
                k.container.as_deref().unwrap_or(""),
                k.provider.as_deref().unwrap_or(""),
                k.prov_type,
                k.flags,
                k.params.len(),
                k.key_spec_name()
            ),
            Err(err) => format!("key provider info (malformed: {err})"),
        },
        PropertyId::Sha1Hash => "SHA-1 hash property".to_owned(),
        PropertyId::Md5Hash => "MD5 hash property".to_owned(),
        PropertyId::Certificate => format!(
            "certificate DER, SHA-1 {}",
            super::Thumbprint::of(v).to_hex()
        ),
        PropertyId::Crl => "CRL DER".to_owned(),
        PropertyId::Ctl => "CTL DER".to_owned(),
        other => format!("{} value (kept as opaque bytes)", other.sdk_name()),
    };
    value_lines(out, at + ENTRY_HEADER_LEN, v, &meaning);
}

fn value_lines(out: &mut String, at: usize, v: &[u8], meaning: &str) {
    if v.is_empty() {
        let _ = writeln!(out, "{at:08x}  {:<48}  {meaning} (empty)", "");
        return;
    }
    let lines = v.len().div_ceil(WIDTH);
    let long = lines > MAX_VALUE_LINES + 1;
    for (i, chunk) in v.chunks(WIDTH).enumerate() {
        if long && i == MAX_VALUE_LINES {
            let rest = v.len() - MAX_VALUE_LINES * WIDTH;
            let _ = writeln!(out, "{:8}  ... {rest} more bytes", "");
            break;
        }
        let note = if i == 0 { meaning } else { "" };
        bytes_line(out, at + i * WIDTH, chunk, note);
    }
}

fn bytes_line(out: &mut String, at: usize, bytes: &[u8], note: &str) {
    let mut hex = String::with_capacity(WIDTH * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            hex.push(' ');
        }
        let _ = write!(hex, "{b:02x}");
    }
    let line = format!("{at:08x}  {hex:<48}  {note}");
    out.push_str(line.trim_end());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Defect, Property};

    #[test]
    fn dump_names_every_entry_and_offset() {
        let e = SerializedElement::certificate(
            vec![0x30; 60],
            vec![Property::new(
                PropertyId::FriendlyName,
                Defect::DoubledTerminator.apply("SMS Signing Certificate"),
            )],
        );
        let s = SerializedStore::new(vec![e]);
        let d = store(&s);
        assert!(d.starts_with("00000000  00 00 00 00 43 45 52 54"));
        assert!(d.contains("00000008  0b 00 00 00 01 00 00 00 32 00 00 00"));
        assert!(d.contains("friendly name (doubled-terminator): \"SMS Signing Certificate\\0\\0\""));
        assert!(d.contains("... 28 more bytes"));
        assert!(d.contains("end marker"));
    }
}
