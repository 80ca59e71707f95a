//! Serialized store files (`.sst`, docs/FORMATS.md section 3): an 8-byte header,
//! one serialized element per certificate (then CRLs and CTLs), and a 12-byte
//! end marker.
//!
//! Two readers share the same entry checks:
//! - [`StoreIter`] / [`SerializedStore::parse`] borrow from an in-memory
//!   slice (zero-copy; used by `scan`);
//! - [`StoreReader`] streams from any `Read`, handing out one element's raw
//!   bytes at a time, so memory stays bounded by the largest element (used by
//!   `fix`).

use std::io::{self, Read, Write};

use super::cursor::Cursor;
use super::element::{EntryOrder, ReadMode, SerializedElement};
use super::error::{Field, FormatError, NotAStore};
use super::limits::Limits;
use super::property::{
    check_header, read_entry, EntryHeader, PropertyId, RawEntry, ENTRY_HEADER_LEN,
};

/// `00 00 00 00` then ASCII `CERT`.
pub const STORE_HEADER: [u8; 8] = [0, 0, 0, 0, b'C', b'E', b'R', b'T'];
/// `prop_id` 0, reserved 0, length 0.
pub const END_MARKER: [u8; 12] = [0; 12];

/// A whole serialized store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SerializedStore<'a> {
    pub elements: Vec<SerializedElement<'a>>,
    /// True when the input was an empty file (an empty store); written back
    /// as an empty file.
    pub empty_file: bool,
}

impl<'a> SerializedStore<'a> {
    pub fn new(elements: Vec<SerializedElement<'a>>) -> Self {
        SerializedStore {
            elements,
            empty_file: false,
        }
    }

    /// Parses a whole store. In lenient mode a store whose properties follow
    /// their certificates is accepted; every element reports the order.
    ///
    /// Order detection: the store is read properties-first whenever that
    /// reading is valid. A context-first store whose last certificate has no
    /// properties is byte for byte also a valid properties-first store, and is
    /// reported as such (the bytes round-trip either way).
    pub fn parse(bytes: &'a [u8], mode: ReadMode) -> Result<Self, FormatError> {
        Self::parse_with(bytes, mode, &Limits::default())
    }

    pub fn parse_with(
        bytes: &'a [u8],
        mode: ReadMode,
        limits: &Limits,
    ) -> Result<Self, FormatError> {
        if bytes.is_empty() {
            return Ok(SerializedStore {
                elements: Vec::new(),
                empty_file: true,
            });
        }
        // Read properties-first in `mode` (lenient: friendly names are not
        // checked and what follows the end marker is ignored, as `StoreIter`
        // and `scan` do); leniently, properties that end the store mean it
        // may be context-first.
        let elements = StoreIter::new_with(bytes, mode, limits)?
            .map(|r| r.map(|(_, e)| e))
            .collect::<Result<Vec<_>, _>>();
        match elements {
            Ok(elements) => Ok(SerializedStore::new(elements)),
            Err(e @ FormatError::MissingContext { .. }) if mode == ReadMode::Lenient => {
                parse_context_first(bytes, limits).map_err(|_| e)
            }
            Err(e) => Err(e),
        }
    }

    /// The order the store was written in (properties first unless every
    /// element says otherwise).
    pub fn order(&self) -> EntryOrder {
        self.elements.first().map(|e| e.order).unwrap_or_default()
    }

    pub fn encoded_len(&self) -> usize {
        if self.empty_file {
            return 0;
        }
        STORE_HEADER.len()
            + self
                .elements
                .iter()
                .map(SerializedElement::encoded_len)
                .sum::<usize>()
            + END_MARKER.len()
    }

    pub fn write_to(&self, out: &mut Vec<u8>) {
        if self.empty_file && self.elements.is_empty() {
            return;
        }
        out.reserve(self.encoded_len());
        out.extend_from_slice(&STORE_HEADER);
        for e in &self.elements {
            e.write_to(out);
        }
        out.extend_from_slice(&END_MARKER);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }

    pub fn into_owned(self) -> SerializedStore<'static> {
        SerializedStore {
            elements: self
                .elements
                .into_iter()
                .map(SerializedElement::into_owned)
                .collect(),
            empty_file: self.empty_file,
        }
    }
}

/// Says what a file that does not start with the store header is.
pub fn detect_not_a_store(bytes: &[u8]) -> NotAStore {
    const PKCS7_SIGNED_DATA: [u8; 11] = [
        0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
    ];
    if bytes.first() == Some(&0x30) {
        let head = &bytes[..bytes.len().min(32)];
        if head
            .windows(PKCS7_SIGNED_DATA.len())
            .any(|w| w == PKCS7_SIGNED_DATA)
        {
            NotAStore::Pkcs7
        } else {
            NotAStore::DerCertificate
        }
    } else if bytes.starts_with(b"-----BEGIN") {
        NotAStore::Pem
    } else if looks_like_text(bytes) {
        NotAStore::Text
    } else {
        NotAStore::Unknown
    }
}

/// Text, not binary: the first (up to) 64 bytes are printable ASCII, tabs,
/// line ends or UTF-8, with no NUL. A serialized element starts with a
/// property id of at most 0xFFFF, whose upper two bytes are NULs, and a
/// store with its NUL-padded header, so no store looks like this.
fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64)];
    head.len() >= 4
        && head
            .iter()
            .all(|&b| b >= 0x20 && b != 0x7f || matches!(b, b'\t' | b'\r' | b'\n'))
}

/// Checks the 8-byte header at the start of a non-empty store.
fn check_store_header(bytes: &[u8]) -> Result<(), FormatError> {
    let n = bytes.len().min(STORE_HEADER.len());
    if bytes[..n] != STORE_HEADER[..n] {
        return Err(FormatError::NotAStore {
            offset: 0,
            detected: detect_not_a_store(bytes),
        });
    }
    if n < STORE_HEADER.len() {
        return Err(FormatError::Truncated {
            field: Field::StoreHeader,
            offset: 0,
            needed: STORE_HEADER.len(),
            available: n,
        });
    }
    Ok(())
}

/// Zero-copy iterator over the elements of an in-memory store, in the
/// properties-first order. Yields each element with the offset of its first
/// entry. After the last element it checks the end marker and what follows.
#[derive(Debug, Clone)]
pub struct StoreIter<'a> {
    cursor: Cursor<'a>,
    mode: ReadMode,
    limits: Limits,
    count: usize,
    done: bool,
    entries: Vec<(usize, u32, &'a [u8])>,
}

impl<'a> StoreIter<'a> {
    /// Starts after the header. An empty input yields nothing.
    pub fn new(bytes: &'a [u8], mode: ReadMode) -> Result<Self, FormatError> {
        Self::new_with(bytes, mode, &Limits::default())
    }

    pub fn new_with(bytes: &'a [u8], mode: ReadMode, limits: &Limits) -> Result<Self, FormatError> {
        let done = bytes.is_empty();
        if !done {
            check_store_header(bytes)?;
        }
        Ok(StoreIter {
            cursor: Cursor::at(&bytes[bytes.len().min(8)..], bytes.len().min(8)),
            mode,
            limits: *limits,
            count: 0,
            done,
            entries: Vec::with_capacity(4),
        })
    }

    fn next_element(&mut self) -> Result<Option<(usize, SerializedElement<'a>)>, FormatError> {
        self.entries.clear();
        loop {
            if self.cursor.is_empty() {
                return Err(FormatError::MissingEndMarker {
                    offset: self.cursor.offset(),
                });
            }
            match read_entry(&mut self.cursor)? {
                RawEntry::EndMarker { .. } => {
                    if let Some(&(offset, _, _)) = self.entries.first() {
                        return Err(FormatError::MissingContext { offset });
                    }
                    if !self.cursor.is_empty() && self.mode == ReadMode::Strict {
                        return Err(FormatError::TrailingData {
                            offset: self.cursor.offset(),
                            len: self.cursor.remaining(),
                        });
                    }
                    return Ok(None);
                }
                RawEntry::Entry { offset, id, value } => {
                    check_entry_limits(&self.limits, &self.entries, offset, value.len())?;
                    self.entries.push((offset, id, value));
                    if PropertyId::from_u32(id).is_context() {
                        self.count += 1;
                        if self.count > self.limits.max_certificates {
                            return Err(FormatError::LimitExceeded {
                                offset,
                                what: "elements in one store",
                                limit: self.limits.max_certificates,
                            });
                        }
                        let start = self.entries[0].0;
                        let ctx = self.entries.len() - 1;
                        let e = SerializedElement::assemble(
                            &self.entries,
                            ctx,
                            EntryOrder::PropertiesFirst,
                            self.mode,
                        )?;
                        return Ok(Some((start, e)));
                    }
                }
            }
        }
    }
}

impl<'a> Iterator for StoreIter<'a> {
    type Item = Result<(usize, SerializedElement<'a>), FormatError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_element();
        fused(&mut self.done, next)
    }
}

/// The limits one more entry (at `offset`, `value_len` bytes of value) must
/// keep, given the entries of its element read so far: the element's size
/// and its number of entries. The same for every in-memory reader.
fn check_entry_limits(
    limits: &Limits,
    element: &[(usize, u32, &[u8])],
    offset: usize,
    value_len: usize,
) -> Result<(), FormatError> {
    let start = element.first().map_or(offset, |e| e.0);
    if offset + ENTRY_HEADER_LEN + value_len - start > limits.max_element_size {
        return Err(FormatError::LimitExceeded {
            offset,
            what: "element size",
            limit: limits.max_element_size,
        });
    }
    if element.len() >= limits.max_properties_per_element {
        return Err(FormatError::LimitExceeded {
            offset,
            what: "properties in one element",
            limit: limits.max_properties_per_element,
        });
    }
    Ok(())
}

/// One step of an element iterator over `next_element`'s result: an
/// element, or the end, or an error after which the iterator is `done`.
fn fused<T>(
    done: &mut bool,
    next: Result<Option<T>, FormatError>,
) -> Option<Result<T, FormatError>> {
    match next {
        Ok(Some(e)) => Some(Ok(e)),
        Ok(None) => {
            *done = true;
            None
        }
        Err(e) => {
            *done = true;
            Some(Err(e))
        }
    }
}

/// Lenient reading of a store whose properties follow their certificate.
fn parse_context_first<'a>(
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<SerializedStore<'a>, FormatError> {
    let elements = ContextFirstIter::new(bytes, limits)?
        .map(|r| r.map(|(_, e)| e))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SerializedStore::new(elements))
}

/// The elements of a store whose properties follow their certificate
/// (read leniently), one at a time: an element ends where the next
/// certificate (or the end marker) starts. The same limits as the
/// properties-first readers.
#[derive(Debug, Clone)]
pub struct ContextFirstIter<'a> {
    cursor: Cursor<'a>,
    limits: Limits,
    count: usize,
    done: bool,
    group: Vec<(usize, u32, &'a [u8])>,
}

impl<'a> ContextFirstIter<'a> {
    pub fn new(bytes: &'a [u8], limits: &Limits) -> Result<Self, FormatError> {
        check_store_header(bytes)?;
        Ok(ContextFirstIter {
            cursor: Cursor::at(&bytes[8..], 8),
            limits: *limits,
            count: 0,
            done: false,
            group: Vec::with_capacity(4),
        })
    }

    /// The element of the entries gathered so far (none: `None`).
    fn take_group(&mut self) -> Result<Option<(usize, SerializedElement<'a>)>, FormatError> {
        let Some(&(start, _, _)) = self.group.first() else {
            return Ok(None);
        };
        let e = SerializedElement::assemble(
            &self.group,
            0,
            EntryOrder::ContextFirst,
            ReadMode::Lenient,
        )?;
        self.group.clear();
        Ok(Some((start, e)))
    }

    fn next_element(&mut self) -> Result<Option<(usize, SerializedElement<'a>)>, FormatError> {
        loop {
            if self.cursor.is_empty() {
                return Err(FormatError::MissingEndMarker {
                    offset: self.cursor.offset(),
                });
            }
            let at = self.cursor.clone();
            match read_entry(&mut self.cursor)? {
                RawEntry::EndMarker { .. } => {
                    self.done = true;
                    return self.take_group();
                }
                RawEntry::Entry { offset, id, value } => {
                    if PropertyId::from_u32(id).is_context() {
                        if !self.group.is_empty() {
                            // This certificate starts the next element: read
                            // it again then.
                            self.cursor = at;
                            return self.take_group();
                        }
                        if self.count >= self.limits.max_certificates {
                            return Err(FormatError::LimitExceeded {
                                offset,
                                what: "elements in one store",
                                limit: self.limits.max_certificates,
                            });
                        }
                        self.count += 1;
                    }
                    if self.group.is_empty() && !PropertyId::from_u32(id).is_context() {
                        return Err(FormatError::MissingContext { offset });
                    }
                    check_entry_limits(&self.limits, &self.group, offset, value.len())?;
                    self.group.push((offset, id, value));
                }
            }
        }
    }
}

impl<'a> Iterator for ContextFirstIter<'a> {
    type Item = Result<(usize, SerializedElement<'a>), FormatError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_element();
        fused(&mut self.done, next)
    }
}

/// The elements of a whole store in memory, one at a time, read exactly
/// as [`SerializedStore::parse_with`] reads them (properties first; in
/// lenient mode, properties after their certificate when that is the only
/// valid reading), without holding them all: a first pass over the bytes
/// decides the order and counts the elements. When no order reads the
/// whole store, it yields the properties-first elements up to the error,
/// then the error.
#[derive(Debug, Clone)]
pub struct StoreElements<'a> {
    inner: StoreOrder<'a>,
    /// How many elements the store holds, when it reads whole.
    pub count: Option<usize>,
}

#[derive(Debug, Clone)]
enum StoreOrder<'a> {
    PropertiesFirst(StoreIter<'a>),
    ContextFirst(ContextFirstIter<'a>),
}

impl<'a> StoreElements<'a> {
    pub fn new(bytes: &'a [u8], mode: ReadMode, limits: &Limits) -> Result<Self, FormatError> {
        let first = StoreIter::new_with(bytes, mode, limits)?;
        fn whole<'a>(
            mut it: impl Iterator<Item = Result<(usize, SerializedElement<'a>), FormatError>>,
        ) -> Result<usize, FormatError> {
            it.try_fold(0usize, |n, r| r.map(|_| n + 1))
        }
        let read = match whole(first.clone()) {
            Ok(n) => (StoreOrder::PropertiesFirst(first), Some(n)),
            Err(FormatError::MissingContext { .. }) if mode == ReadMode::Lenient => {
                let context_first = ContextFirstIter::new(bytes, limits)?;
                match whole(context_first.clone()) {
                    Ok(n) => (StoreOrder::ContextFirst(context_first), Some(n)),
                    Err(_) => (StoreOrder::PropertiesFirst(first), None),
                }
            }
            Err(_) => (StoreOrder::PropertiesFirst(first), None),
        };
        Ok(StoreElements {
            inner: read.0,
            count: read.1,
        })
    }
}

impl<'a> Iterator for StoreElements<'a> {
    type Item = Result<(usize, SerializedElement<'a>), FormatError>;
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            StoreOrder::PropertiesFirst(it) => it.next(),
            StoreOrder::ContextFirst(it) => it.next(),
        }
    }
}

/// Streams a store from any reader, one element at a time, in strict
/// properties-first order. Memory is bounded by the largest element
/// (itself bounded by [`Limits::max_element_size`]).
pub struct StoreReader<R> {
    inner: R,
    /// Absolute offset of the next unread byte.
    pos: u64,
    total_len: u64,
    limits: Limits,
    count: usize,
    finished: bool,
    /// The input was an empty file.
    pub empty_file: bool,
    /// Bytes read ahead by [`StoreReader::next_batch`] that start the next
    /// element.
    carry: Vec<u8>,
}

impl<R: Read> StoreReader<R> {
    /// Reads and checks the header. `total_len` is the input's length (a file's
    /// metadata length), used to reject lengths past the end before reading.
    pub fn open(mut inner: R, total_len: u64, limits: Limits) -> Result<Self, StreamError> {
        let mut header = [0u8; 8];
        let n = read_up_to(&mut inner, &mut header)?;
        if n == 0 {
            return Ok(StoreReader {
                inner,
                pos: 0,
                total_len,
                limits,
                count: 0,
                finished: true,
                empty_file: true,
                carry: Vec::new(),
            });
        }
        if header[..n] != STORE_HEADER[..n] {
            // Read as much as `SerializedStore::parse` looks at, so the error
            // says what the file is (PEM, PKCS#7, DER) in the same words.
            let mut head = [0u8; 32];
            head[..n].copy_from_slice(&header[..n]);
            let m = n + read_up_to(&mut inner, &mut head[n..])?;
            return Err(FormatError::NotAStore {
                offset: 0,
                detected: detect_not_a_store(&head[..m]),
            }
            .into());
        }
        check_store_header(&header[..n])?;
        Ok(StoreReader {
            inner,
            pos: 8,
            total_len,
            limits,
            count: 0,
            finished: false,
            empty_file: false,
            carry: Vec::new(),
        })
    }

    /// Appends the raw bytes of the next element (its entries, properties
    /// first, context last) to `buf` and returns the element's absolute
    /// offset, or `None` after the end marker.
    pub fn next_element_into(&mut self, buf: &mut Vec<u8>) -> Result<Option<u64>, StreamError> {
        if self.finished {
            return Ok(None);
        }
        let start = self.pos;
        let start_len = buf.len();
        let mut properties = 0usize;
        loop {
            let offset = self.pos;
            let mut header = [0u8; ENTRY_HEADER_LEN];
            let n = read_up_to(&mut self.inner, &mut header)?;
            if n == 0 {
                return Err(FormatError::MissingEndMarker {
                    offset: offset as usize,
                }
                .into());
            }
            if n < ENTRY_HEADER_LEN {
                return Err(FormatError::Truncated {
                    field: match n {
                        0..=3 => Field::PropertyId,
                        4..=7 => Field::PropertyReserved,
                        _ => Field::PropertyLength,
                    },
                    offset: offset as usize,
                    needed: ENTRY_HEADER_LEN,
                    available: n,
                }
                .into());
            }
            self.pos += ENTRY_HEADER_LEN as u64;
            let available = self.total_len.saturating_sub(self.pos) as usize;
            match check_header(&header, offset as usize, available)? {
                EntryHeader::EndMarker => {
                    self.finished = true;
                    if buf.len() > start_len {
                        return Err(FormatError::MissingContext {
                            offset: start as usize,
                        }
                        .into());
                    }
                    let mut probe = [0u8; 1];
                    if read_up_to(&mut self.inner, &mut probe)? != 0 {
                        return Err(FormatError::TrailingData {
                            offset: self.pos as usize,
                            len: self.total_len.saturating_sub(self.pos) as usize,
                        }
                        .into());
                    }
                    return Ok(None);
                }
                EntryHeader::Entry { id, len } => {
                    let element_len = buf.len() - start_len + ENTRY_HEADER_LEN + len as usize;
                    properties += 1;
                    self.check_element(offset as usize, element_len, properties)?;
                    buf.extend_from_slice(&header);
                    let value_start = buf.len();
                    buf.resize(value_start + len as usize, 0);
                    let got = read_up_to(&mut self.inner, &mut buf[value_start..])?;
                    if got < len as usize {
                        buf.truncate(start_len);
                        return Err(FormatError::Truncated {
                            field: Field::PropertyValue,
                            offset: self.pos as usize,
                            needed: len as usize,
                            available: got,
                        }
                        .into());
                    }
                    self.pos += len as u64;
                    if PropertyId::from_u32(id).is_context() {
                        self.count_element(offset as usize)?;
                        return Ok(Some(start));
                    }
                }
            }
        }
    }
}

/// Whole elements read by [`StoreReader::next_batch`]: their raw bytes, one
/// after the other, and where each one is.
#[derive(Debug, Default)]
pub struct ElementBatch {
    /// The buffer; only `bytes[..filled]` holds input, and the elements
    /// end at or before `filled`. Its length is the batch's capacity (kept
    /// from batch to batch, so it is zeroed once).
    pub bytes: Vec<u8>,
    filled: usize,
    /// The buffer's length between elements larger than it.
    capacity: usize,
    /// Each element: its absolute offset in the input and its range in
    /// `bytes`.
    pub elements: Vec<(u64, std::ops::Range<usize>)>,
    /// The bytes of the input consumed once this batch's elements are: the
    /// end of the last one, or the input's length after the end marker.
    pub consumed: u64,
}

impl ElementBatch {
    /// A batch that reads up to `capacity` bytes of input at a time (more
    /// only when one element needs it).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(ENTRY_HEADER_LEN);
        ElementBatch {
            bytes: vec![0; capacity],
            filled: 0,
            capacity,
            elements: Vec::new(),
            consumed: 0,
        }
    }
}

/// Why [`StoreReader::next_batch`] could not read an element at some point.
enum Stop {
    /// The batch is full: the element starts the next batch.
    Full,
    Error(StreamError),
}

impl From<FormatError> for Stop {
    fn from(e: FormatError) -> Self {
        Stop::Error(e.into())
    }
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Stop::Error(e.into())
    }
}

impl<R: Read> StoreReader<R> {
    /// Reads as many whole elements as fit in `batch` (at least one), in
    /// large reads straight into the batch's buffer, with exactly the checks
    /// and errors of [`StoreReader::next_element_into`]. Returns `Ok(true)`
    /// when more elements may follow, `Ok(false)` after the end marker; on
    /// an error the elements before it are in the batch. Do not mix with
    /// `next_element_into` on one reader.
    pub fn next_batch(&mut self, batch: &mut ElementBatch) -> Result<bool, StreamError> {
        batch.elements.clear();
        // The bytes read ahead last time start this batch.
        let carried = self.carry.len();
        // A buffer grown for one large element goes back to its size, so
        // memory stays a few batches whatever the elements before.
        if batch.bytes.len() > batch.capacity.max(carried) {
            batch.bytes.truncate(batch.capacity.max(carried));
            batch.bytes.shrink_to_fit();
        }
        if batch.bytes.len() < carried {
            batch.bytes.resize(carried, 0);
        }
        batch.bytes[..carried].copy_from_slice(&self.carry);
        self.carry.clear();
        batch.filled = carried;
        // Absolute offset of `batch.bytes[0]`.
        let base = self.pos;
        let mut at = 0usize;
        let result = loop {
            if self.finished {
                break Ok(false);
            }
            match self.batch_element(batch, base, at) {
                Ok(Some(end)) => {
                    batch.elements.push((base + at as u64, at..end));
                    at = end;
                }
                Ok(None) => {
                    self.finished = true;
                    break Ok(false);
                }
                Err(Stop::Full) => break Ok(true),
                Err(Stop::Error(e)) => {
                    self.finished = true;
                    break Err(e);
                }
            }
        };
        self.pos = base + at as u64;
        batch.consumed = if matches!(result, Ok(false)) {
            self.total_len
        } else {
            self.pos
        };
        if matches!(result, Ok(true)) {
            self.carry.extend_from_slice(&batch.bytes[at..batch.filled]);
        }
        result
    }

    /// Reads until `batch.bytes[..want]` is filled or the input ends (then
    /// less is filled). A request past the buffer stops the batch
    /// ([`Stop::Full`]) unless the element starts it (`at == 0`): then the
    /// buffer grows.
    fn fill(&mut self, batch: &mut ElementBatch, at: usize, want: usize) -> Result<(), Stop> {
        if want <= batch.filled {
            return Ok(());
        }
        if want > batch.bytes.len() {
            if at > 0 {
                return Err(Stop::Full);
            }
            batch.bytes.resize(want, 0);
        }
        while batch.filled < want {
            match self.inner.read(&mut batch.bytes[batch.filled..]) {
                Ok(0) => break,
                Ok(k) => batch.filled += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// One element starting at `batch.bytes[at]` (absolute offset `base +
    /// at`): `Some(end)`, or `None` after the end marker.
    fn batch_element(
        &mut self,
        batch: &mut ElementBatch,
        base: u64,
        at: usize,
    ) -> Result<Option<usize>, Stop> {
        let mut i = at;
        let mut properties = 0usize;
        loop {
            let offset = (base + i as u64) as usize;
            self.fill(batch, at, i + ENTRY_HEADER_LEN)?;
            let n = batch.filled.saturating_sub(i).min(ENTRY_HEADER_LEN);
            if n == 0 {
                return Err(FormatError::MissingEndMarker { offset }.into());
            }
            if n < ENTRY_HEADER_LEN {
                return Err(FormatError::Truncated {
                    field: match n {
                        0..=3 => Field::PropertyId,
                        4..=7 => Field::PropertyReserved,
                        _ => Field::PropertyLength,
                    },
                    offset,
                    needed: ENTRY_HEADER_LEN,
                    available: n,
                }
                .into());
            }
            let mut header = [0u8; ENTRY_HEADER_LEN];
            header.copy_from_slice(&batch.bytes[i..i + ENTRY_HEADER_LEN]);
            i += ENTRY_HEADER_LEN;
            let pos = base + i as u64;
            let available = self.total_len.saturating_sub(pos) as usize;
            match check_header(&header, offset, available)? {
                EntryHeader::EndMarker => {
                    if i - ENTRY_HEADER_LEN > at {
                        return Err(FormatError::MissingContext {
                            offset: (base + at as u64) as usize,
                        }
                        .into());
                    }
                    // Anything after the end marker? (The end marker is
                    // never more than a batch away from the batch's start.)
                    if batch.filled == i && i == batch.bytes.len() {
                        batch.bytes.push(0);
                    }
                    self.fill(batch, 0, i + 1)?;
                    if batch.filled > i {
                        return Err(FormatError::TrailingData {
                            offset: pos as usize,
                            len: self.total_len.saturating_sub(pos) as usize,
                        }
                        .into());
                    }
                    return Ok(None);
                }
                EntryHeader::Entry { id, len } => {
                    let len = len as usize;
                    properties += 1;
                    self.check_element(offset, i - at + len, properties)?;
                    self.fill(batch, at, i + len)?;
                    let got = batch.filled.saturating_sub(i).min(len);
                    if got < len {
                        return Err(FormatError::Truncated {
                            field: Field::PropertyValue,
                            offset: pos as usize,
                            needed: len,
                            available: got,
                        }
                        .into());
                    }
                    i += len;
                    if PropertyId::from_u32(id).is_context() {
                        self.count_element(offset)?;
                        return Ok(Some(i));
                    }
                }
            }
        }
    }
}

impl<R> StoreReader<R> {
    /// The limits on one element, checked as each entry is read (entry at
    /// `offset`): its length so far with this entry's value, and its
    /// number of entries.
    fn check_element(
        &self,
        offset: usize,
        element_len: usize,
        properties: usize,
    ) -> Result<(), FormatError> {
        let over = |what, limit| FormatError::LimitExceeded {
            offset,
            what,
            limit,
        };
        if element_len > self.limits.max_element_size {
            return Err(over("element size", self.limits.max_element_size));
        }
        if properties > self.limits.max_properties_per_element {
            return Err(over(
                "properties in one element",
                self.limits.max_properties_per_element,
            ));
        }
        Ok(())
    }

    /// Counts one more element (its context entry is at `offset`) against
    /// the store's limit.
    fn count_element(&mut self, offset: usize) -> Result<(), FormatError> {
        self.count += 1;
        if self.count > self.limits.max_certificates {
            return Err(FormatError::LimitExceeded {
                offset,
                what: "elements in one store",
                limit: self.limits.max_certificates,
            });
        }
        Ok(())
    }
}

/// Writes a store element by element.
pub struct StoreWriter<W: Write> {
    inner: W,
}

impl<W: Write> StoreWriter<W> {
    pub fn new(mut inner: W) -> io::Result<Self> {
        inner.write_all(&STORE_HEADER)?;
        Ok(StoreWriter { inner })
    }

    /// Writes one element's raw bytes.
    pub fn write_raw(&mut self, element: &[u8]) -> io::Result<()> {
        self.inner.write_all(element)
    }

    pub fn write_element(&mut self, e: &SerializedElement<'_>) -> io::Result<()> {
        let mut v = Vec::with_capacity(e.encoded_len());
        e.write_to(&mut v);
        self.inner.write_all(&v)
    }

    /// Writes the end marker and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.write_all(&END_MARKER)?;
        Ok(self.inner)
    }
}

/// An error while streaming: the input was malformed, or reading failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::friendly_name::Defect;
    use crate::property::Property;

    fn store() -> SerializedStore<'static> {
        let e = |n: u8| {
            SerializedElement::certificate(
                vec![0x30, 0x01, n],
                vec![Property::new(
                    PropertyId::FriendlyName,
                    Defect::DoubledTerminator.apply("SMS"),
                )],
            )
        };
        SerializedStore::new(vec![e(1), e(2)])
    }

    #[test]
    fn round_trip_and_streaming_agree() {
        let s = store();
        let b = s.to_bytes();
        assert_eq!(&b[..8], &STORE_HEADER);
        assert_eq!(&b[b.len() - 12..], &END_MARKER);
        let p = SerializedStore::parse(&b, ReadMode::Strict).unwrap();
        assert_eq!(p, s);
        assert_eq!(p.to_bytes(), b);

        let mut r = StoreReader::open(&b[..], b.len() as u64, Limits::default()).unwrap();
        let mut buf = Vec::new();
        let mut offsets = Vec::new();
        while let Some(off) = r.next_element_into(&mut buf).unwrap() {
            offsets.push(off);
        }
        assert_eq!(offsets, vec![8, 8 + s.elements[0].encoded_len() as u64]);
        assert_eq!(buf, b[8..b.len() - 12]);
    }

    #[test]
    fn empty_file_is_an_empty_store_and_writes_back_empty() {
        let s = SerializedStore::parse(b"", ReadMode::Strict).unwrap();
        assert!(s.elements.is_empty() && s.empty_file);
        assert!(s.to_bytes().is_empty());
        let header_only = [&STORE_HEADER[..], &END_MARKER[..]].concat();
        let s = SerializedStore::parse(&header_only, ReadMode::Strict).unwrap();
        assert_eq!(s.to_bytes(), header_only);
    }

    #[test]
    fn context_first_store_is_read_leniently() {
        let mut s = store();
        for e in &mut s.elements {
            e.order = EntryOrder::ContextFirst;
        }
        let b = s.to_bytes();
        assert!(SerializedStore::parse(&b, ReadMode::Strict).is_err());
        let p = SerializedStore::parse(&b, ReadMode::Lenient).unwrap();
        assert_eq!(p.order(), EntryOrder::ContextFirst);
        assert_eq!(p.to_bytes(), b);
    }
}
