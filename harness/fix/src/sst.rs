//! `fix` on a `.sst`: a three-stage pipeline and the check of what it wrote.
//!
//! - a reader thread splits the input into whole elements ([`StoreReader`])
//!   and hands them on in batches of about [`BATCH_BYTES`];
//! - the calling thread parses each element, repairs it through the hook,
//!   reports it, and (when the output is checked) checks the bytes it is
//!   about to write against the element it read ([`check_repair`]: same
//!   certificate, same properties in the same order, only the friendly name
//!   changed as the policy says); unchanged elements are copied as their
//!   original bytes;
//! - a writer thread writes each batch through the write steps and keeps a
//!   checksum (XXH64) of every [`SEGMENT_BYTES`] of the bytes written
//!   ([`Written`]).
//!
//! Memory stays bounded by a few batches, whatever the size of the store.
//! After the fsync, [`Written::verify`] re-reads the temporary file in large
//! blocks (one thread per core, segments interleaved) and compares every
//! segment's checksum: the file holds exactly the bytes that were checked, so
//! the semantic check needs no second parse of the input or of the output.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use xxhash_rust::xxh64::Xxh64;

use super::write::TempOutput;
use super::{check_repair, CertificateRepair, InvariantViolation, Policy};
use crate::format::store::{StreamError, END_MARKER, STORE_HEADER};
use crate::format::{FormatError, Limits, ReadMode, SerializedElement, StoreReader};
use crate::read_ahead::read_store;

/// About how many input bytes a batch holds (whole elements: one element
/// larger than this is a batch of its own).
const BATCH_BYTES: usize = 1 << 20;
/// Batches in flight between two stages.
const QUEUE: usize = 4;
/// The bytes one hash of [`Written`] covers.
const SEGMENT_BYTES: u64 = 32 << 20;
/// The size of one read when the written file is verified.
const VERIFY_BLOCK: usize = 1 << 20;

/// Why streaming a store stopped.
#[derive(Debug)]
pub(super) enum SstError {
    /// Reading the input failed, or the input is malformed.
    Read(StreamError),
    /// An element of the input does not parse.
    Element(FormatError),
    /// Writing the output failed.
    Write(io::Error),
    /// The repaired element would break an invariant.
    Invariant(InvariantViolation),
}

/// The hashes of the bytes written, one per [`SEGMENT_BYTES`] segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Written {
    len: u64,
    /// The bytes each hash covers (the last covers the rest).
    segment: u64,
    segments: Vec<u64>,
}

/// A running [`Written`].
struct SegmentHasher {
    done: Written,
    current: Xxh64,
    in_current: u64,
}

impl SegmentHasher {
    fn new(segment: u64) -> Self {
        SegmentHasher {
            done: Written {
                len: 0,
                segment,
                segments: Vec::new(),
            },
            current: Xxh64::new(0),
            in_current: 0,
        }
    }

    fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = (self.done.segment - self.in_current) as usize;
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.current.update(now);
            self.in_current += now.len() as u64;
            self.done.len += now.len() as u64;
            if self.in_current == self.done.segment {
                self.done.segments.push(self.current.digest());
                self.current = Xxh64::new(0);
                self.in_current = 0;
            }
            bytes = rest;
        }
    }

    fn finish(mut self) -> Written {
        if self.in_current > 0 {
            self.done.segments.push(self.current.digest());
        }
        self.done
    }
}

impl Written {
    /// Re-reads `path` and compares it with the bytes written. `Err` names
    /// the first range that differs (or the length); reading errors are
    /// `Ok(Err(..))`'s outer `io::Error`.
    pub(super) fn verify(&self, path: &Path) -> io::Result<Result<(), String>> {
        let len = std::fs::metadata(path)?.len();
        if len != self.len {
            return Ok(Err(format!(
                "the written file has {len} bytes, {} were written",
                self.len
            )));
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4)
            .min(self.segments.len().max(1));
        let results: Vec<io::Result<Option<usize>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| s.spawn(move || self.verify_every(path, t, threads)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("verify thread"))
                .collect()
        });
        let mut first = None;
        for r in results {
            if let Some(i) = r? {
                first = Some(first.map_or(i, |f: usize| f.min(i)));
            }
        }
        Ok(match first {
            None => Ok(()),
            Some(i) => {
                let start = i as u64 * self.segment;
                let end = (start + self.segment).min(self.len);
                Err(format!(
                    "bytes {start}..{end} of the written file are not the bytes written"
                ))
            }
        })
    }

    /// Checks segments `first`, `first + step`, ...; returns the first that
    /// differs.
    fn verify_every(&self, path: &Path, first: usize, step: usize) -> io::Result<Option<usize>> {
        let mut f = File::open(path)?;
        let mut buf = vec![0u8; VERIFY_BLOCK];
        for (i, expected) in self.segments.iter().enumerate().skip(first).step_by(step) {
            let start = i as u64 * self.segment;
            let mut left = (self.len - start).min(self.segment);
            f.seek(SeekFrom::Start(start))?;
            let mut h = Xxh64::new(0);
            while left > 0 {
                let n = (left as usize).min(buf.len());
                f.read_exact(&mut buf[..n])?;
                h.update(&buf[..n]);
                left -= n as u64;
            }
            if h.digest() != *expected {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }
}

/// What [`stream`] does with the output.
pub(super) struct Output<'w, 's> {
    pub out: &'w mut TempOutput<'s>,
    /// Check every repaired element against the input before it is written.
    pub check: bool,
}

/// Streams `input` (an open store) through `repair` to `output` (or nowhere,
/// on a dry run), calling `on_certificate` with each report in file order
/// and `on_progress` after each batch with the input bytes done. The input
/// is read ahead on a thread of its own ([`crate::read_ahead`]), the output
/// written behind on another. Returns the hashes of what was written.
pub(super) fn stream<R: Read + Send>(
    input: StoreReader<R>,
    output: Option<Output<'_, '_>>,
    policy: Policy,
    limits: &Limits,
    mut repair: impl FnMut(usize, &mut SerializedElement<'_>) -> CertificateRepair,
    mut on_certificate: impl FnMut(CertificateRepair),
    mut on_progress: impl FnMut(u64),
) -> Result<Written, SstError> {
    let empty_file = input.empty_file;
    let check = output.as_ref().is_some_and(|o| o.check);
    std::thread::scope(|s| {
        let (to_writer, writer) = match output {
            Some(o) => {
                let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE);
                let (recycle_out, free_out) = sync_channel::<Vec<u8>>(QUEUE + 2);
                let h = s.spawn(move || write_batches(o.out, rx, recycle_out));
                (Some((tx, free_out)), Some(h))
            }
            None => (None, None),
        };
        let mut out = Vec::with_capacity(BATCH_BYTES + BATCH_BYTES / 8);
        if !empty_file {
            out.extend_from_slice(&STORE_HEADER);
        }
        let streamed = read_store(input, QUEUE + 1, BATCH_BYTES, |batches| {
            let mut index = 0usize;
            while let Some((batch, ended_by)) = batches.next() {
                for (offset, range) in &batch.elements {
                    let raw = &batch.bytes[range.clone()];
                    let mut e = SerializedElement::parse(raw, *offset as usize, ReadMode::Strict)
                        .map_err(SstError::Element)?;
                    let before = check.then(|| e.clone());
                    let r = repair(index, &mut e);
                    let at = out.len();
                    if r.changed {
                        e.write_to(&mut out);
                    } else {
                        out.extend_from_slice(raw);
                    }
                    if let Some(before) = before {
                        check_written_element(index, &before, &out[at..], policy, limits)
                            .map_err(SstError::Invariant)?;
                    }
                    on_certificate(r);
                    index += 1;
                }
                if let Some(e) = ended_by {
                    return Err(SstError::Read(e));
                }
                on_progress(batch.consumed);
                batches.recycle(batch);
                if let Some((tx, free)) = &to_writer {
                    if out.len() >= BATCH_BYTES {
                        let next = free.try_recv().unwrap_or_default();
                        if tx.send(std::mem::replace(&mut out, next)).is_err() {
                            return Ok(false);
                        }
                        out.clear();
                    }
                } else {
                    out.clear();
                }
            }
            if !empty_file {
                out.extend_from_slice(&END_MARKER);
            }
            if let Some((tx, _)) = &to_writer {
                if !out.is_empty() && tx.send(std::mem::take(&mut out)).is_err() {
                    return Ok(false);
                }
            }
            Ok(true)
        });
        // Let the writer finish.
        drop(to_writer);
        let written = writer.map(|h| h.join().expect("writer thread"));
        match (streamed, written) {
            (Err(e), _) => Err(e),
            (Ok(_), Some(Err(e))) => Err(SstError::Write(e)),
            (Ok(true), Some(Ok(w))) => Ok(w),
            (Ok(false), Some(Ok(_))) => Err(SstError::Write(io::Error::other(
                "the writer stopped before the end of the store",
            ))),
            (Ok(_), None) => Ok(SegmentHasher::new(SEGMENT_BYTES).finish()),
        }
    })
}

/// The check of one element about to be written (`bytes`) against the
/// element read (`before`): the bytes parse as exactly one element within
/// the limits, and [`check_repair`] holds.
fn check_written_element(
    index: usize,
    before: &SerializedElement<'_>,
    bytes: &[u8],
    policy: Policy,
    limits: &Limits,
) -> Result<(), InvariantViolation> {
    let fail = |message: String| InvariantViolation { index, message };
    if bytes.len() > limits.max_element_size {
        return Err(fail(format!(
            "the element grew past the limit of {} bytes",
            limits.max_element_size
        )));
    }
    let after = SerializedElement::parse(bytes, 0, ReadMode::Strict)
        .map_err(|e| fail(format!("the written element does not parse: {e}")))?;
    check_repair(std::slice::from_ref(before), &[after], policy).map_err(|mut v| {
        v.index = index;
        v
    })
}

/// The writer thread: writes and hashes every buffer, hands it back for
/// reuse; stops at the first error (the sender then sees it gone).
fn write_batches(
    out: &mut TempOutput<'_>,
    buffers: Receiver<Vec<u8>>,
    recycle: SyncSender<Vec<u8>>,
) -> io::Result<Written> {
    let mut hash = SegmentHasher::new(SEGMENT_BYTES);
    for mut b in buffers.iter() {
        out.write_all(&b)?;
        let segments = hash.done.segments.len();
        hash.update(&b);
        // Have each complete segment written out to disk while the rest is
        // being written.
        for k in segments..hash.done.segments.len() {
            out.start_writeback(k as u64 * SEGMENT_BYTES, SEGMENT_BYTES);
        }
        b.clear();
        let _ = recycle.try_send(b);
    }
    out.flush()?;
    Ok(hash.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_hashes_do_not_depend_on_how_the_bytes_were_cut() {
        const SEGMENT: u64 = 4096;
        let bytes: Vec<u8> = (0..(SEGMENT as usize * 2 + 1000))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut whole = SegmentHasher::new(SEGMENT);
        whole.update(&bytes);
        let mut cut = SegmentHasher::new(SEGMENT);
        for c in bytes.chunks(1_003) {
            cut.update(c);
        }
        let (whole, cut) = (whole.finish(), cut.finish());
        assert_eq!(whole, cut);
        assert_eq!(whole.segments.len(), 3);
        assert_eq!(whole.len, bytes.len() as u64);

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(whole.verify(&p).unwrap(), Ok(()));
        let mut changed = bytes.clone();
        changed[SEGMENT as usize + 5] ^= 1;
        std::fs::write(&p, &changed).unwrap();
        let err = whole.verify(&p).unwrap().unwrap_err();
        assert!(
            err.contains(&format!("bytes {SEGMENT}..{}", 2 * SEGMENT)),
            "{err}"
        );
        std::fs::write(&p, &bytes[1..]).unwrap();
        assert!(whole.verify(&p).unwrap().is_err());
    }
}
