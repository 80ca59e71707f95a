//! `certmig gen`: write, per simulated machine `PCnnnn`, the SMS store the
//! way Windows would hold or export it:
//!
//! - `DIR/PCnnnn.sst`: the store saved with `CertSaveStore`;
//! - `DIR/PCnnnn.reg`: what `reg export HKLM\SOFTWARE\Microsoft\SystemCertificates\SMS`
//!   gives on that machine (REGEDIT5; the registry provider adds property 3);
//! - `DIR/PCnnnn/<THUMBPRINT>.blob`: each certificate's registry `Blob` value.
//!
//! Every byte follows from the seed and the machine name, so the output is
//! identical run to run. Existing files are never overwritten unless
//! `overwrite` is set: every target is checked before anything is written.
//!
//! **Streaming.** Nothing holds a whole store. Machines are written in
//! parallel (rayon); a machine's certificates are made in ordered batches of
//! [`BATCH`], each batch in parallel tasks of [`CHUNK`], and written in
//! certificate order as each batch completes, so memory is bounded by a few
//! batches whatever the number of certificates. A `.reg` export lists its
//! certificates in thumbprint order (as `RegistryStore::from_elements` sorts
//! them), so a first pass keeps each certificate's thumbprint and index (24
//! bytes a certificate), and the export is written in a second pass over the
//! sorted indexes, with the certificates made again (or kept from the first
//! pass when the machine has at most [`KEEP_FOR_REG`]). The bytes are those
//! of the whole-store writers (`SerializedStore::to_bytes`, `reg::write_reg`,
//! `SerializedElement::to_bytes`); `tests/it/gen_streaming.rs` compares them.
//!
//! **Durability.** Each file is written to a temporary file in its
//! directory and renamed over its target, so no partial file is ever seen
//! there. On Linux the files are not fsynced one by one: one `syncfs` at the
//! end makes the whole run durable (a crash before it may leave some files
//! empty; generate again with `--force`). Elsewhere each file is fsynced.

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use serde::Serialize;

use crate::cert::{self, DefectChoice, ElementInfo, MachineGenerator, MachineSpec, Profile};
use crate::fix::write::{sync_filesystem, RealSteps, TempOutput, SYNCS_FILESYSTEM};
use crate::format::reg::{RegEncoder, RegEncoding};
use crate::format::store::{END_MARKER, STORE_HEADER};
use crate::format::{FileFormat, Thumbprint};

/// Certificates made by one parallel task.
pub const CHUNK: usize = 128;
/// Certificates made (in tasks of [`CHUNK`]) before they are written, in order.
pub const BATCH: usize = 1024;
/// A machine with at most this many certificates keeps its registry
/// elements between the `.reg` export's two passes instead of making them again.
pub const KEEP_FOR_REG: usize = 2048;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub machines: usize,
    pub seed: u64,
    pub profile: Profile,
    pub defect: DefectChoice,
    pub formats: Vec<FileFormat>,
    pub certs_per_machine: usize,
    pub bulk: bool,
    pub out: PathBuf,
    pub overwrite: bool,
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct GenReport {
    pub out: PathBuf,
    /// Each machine's files and certificates; empty unless asked for
    /// ([`generate_with`]).
    pub machines: Vec<MachineReport>,
    /// Machines written.
    #[serde(skip)]
    pub machine_count: usize,
    /// Files written (as [`MachineReport::files`] lists them).
    #[serde(skip)]
    pub file_count: usize,
    /// Certificates generated.
    #[serde(skip)]
    pub certificate_count: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct MachineReport {
    pub machine: String,
    pub files: Vec<PathBuf>,
    pub certificates: Vec<GeneratedSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GeneratedSummary {
    pub thumbprint: String,
    pub role: String,
    pub friendly_name_shape: String,
    pub signature_valid: bool,
}

/// Generates and writes every machine, and reports each machine's files
/// and certificates.
pub fn generate(opts: &GenOptions) -> Result<GenReport> {
    generate_with(opts, true)
}

/// Generates and writes every machine. With `details` the report lists every
/// machine's files and certificates (`gen --json`), which grows with the
/// output; without, it holds only the counts, and memory stays bounded
/// whatever the size.
pub fn generate_with(opts: &GenOptions, details: bool) -> Result<GenReport> {
    if opts.machines == 0 {
        bail!("--machines must be at least 1");
    }
    if opts.certs_per_machine == 0 {
        bail!("--certs-per-machine must be at least 1");
    }
    let formats = Formats::of(&opts.formats);
    if !opts.overwrite {
        let existing = (1..=opts.machines)
            .into_par_iter()
            .map(|i| existing_target(opts, &formats, i))
            .find_map_first(|r| r.transpose())
            .transpose()?;
        if let Some(path) = existing {
            bail!(
                "{} already exists; refusing to overwrite it (use --force, or choose another --out)",
                path.display()
            );
        }
    }
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating {}", opts.out.display()))?;
    let write = |i| write_machine(opts, &formats, i, details);
    let machines = if details {
        (1..=opts.machines)
            .into_par_iter()
            .map(write)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect()
    } else {
        (1..=opts.machines)
            .into_par_iter()
            .try_for_each(|i| write(i).map(drop))?;
        Vec::new()
    };
    if SYNCS_FILESYSTEM {
        sync_filesystem(&opts.out).with_context(|| format!("syncing {}", opts.out.display()))?;
    }
    let per_machine_files: usize = opts
        .formats
        .iter()
        .map(|f| match f {
            FileFormat::Sst | FileFormat::Reg => 1,
            FileFormat::Blob | FileFormat::BlobDir => opts.certs_per_machine,
        })
        .sum();
    Ok(GenReport {
        out: opts.out.clone(),
        machines,
        machine_count: opts.machines,
        file_count: per_machine_files * opts.machines,
        certificate_count: opts.certs_per_machine * opts.machines,
    })
}

/// The formats asked for, each once.
#[derive(Debug, Clone, Copy)]
struct Formats {
    sst: bool,
    reg: bool,
    blob: bool,
}

impl Formats {
    fn of(formats: &[FileFormat]) -> Self {
        let has = |f: &[FileFormat]| formats.iter().any(|x| f.contains(x));
        Formats {
            sst: has(&[FileFormat::Sst]),
            reg: has(&[FileFormat::Reg]),
            blob: has(&[FileFormat::Blob, FileFormat::BlobDir]),
        }
    }
}

fn spec(opts: &GenOptions, machine: &str) -> MachineSpec {
    MachineSpec {
        machine: machine.to_owned(),
        seed: opts.seed,
        profile: opts.profile,
        defect: opts.defect,
        certs_per_machine: opts.certs_per_machine,
        bulk: opts.bulk,
    }
}

/// The first of machine `index`'s targets that already exists. A `.blob`
/// file can only exist if the machine's directory does; only then are its
/// certificates made to learn their names.
fn existing_target(opts: &GenOptions, f: &Formats, index: usize) -> Result<Option<PathBuf>> {
    let machine = cert::machine_name(index);
    for (on, ext) in [(f.sst, "sst"), (f.reg, "reg")] {
        let path = opts.out.join(format!("{machine}.{ext}"));
        if on && path.exists() {
            return Ok(Some(path));
        }
    }
    let dir = opts.out.join(&machine);
    if f.blob && dir.is_dir() {
        let spec = spec(opts, &machine);
        let g = MachineGenerator::new(&spec).with_context(|| format!("generating {machine}"))?;
        let mut scratch = Vec::new();
        for i in 0..g.len() {
            scratch.clear();
            let info = g.write(i, None, Some(&mut scratch), true)?;
            let path = blob_path(&dir, &info);
            if path.exists() {
                return Ok(Some(path));
            }
        }
    }
    Ok(None)
}

fn blob_name(dir: &Path, t: &Thumbprint) -> PathBuf {
    dir.join(format!("{}.blob", t.to_hex()))
}

fn blob_path(dir: &Path, info: &ElementInfo) -> PathBuf {
    blob_name(
        dir,
        info.thumbprint
            .as_ref()
            .expect("registry elements have their thumbprint"),
    )
}

/// A file being written: a temporary file renamed over `path` at the end.
/// Small pieces are gathered, so that a small file takes one write.
struct Output {
    path: PathBuf,
    temp: TempOutput<'static>,
    pending: Vec<u8>,
}

/// Pieces are gathered up to this many bytes before they are written.
const GATHER: usize = 1 << 20;

impl Output {
    fn create(path: PathBuf) -> Result<Self> {
        let temp = TempOutput::create(&RealSteps, &path)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(Output {
            path,
            temp,
            pending: Vec::new(),
        })
    }

    /// Writes `bytes` after what is pending, gathering small pieces.
    fn push(&mut self, bytes: &[u8]) -> Result<()> {
        if self.pending.len() + bytes.len() < GATHER {
            self.pending.extend_from_slice(bytes);
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        self.write(&pending)?;
        self.pending = pending;
        self.pending.clear();
        self.write(bytes)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.temp
            .write_all(bytes)
            .with_context(|| format!("writing {}", self.path.display()))
    }

    fn commit(mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        self.write(&pending)?;
        let Output { path, temp, .. } = self;
        let done = if SYNCS_FILESYSTEM {
            temp.commit_unsynced(&path)
        } else {
            temp.fsync().and_then(|()| temp.commit(&path, None))
        };
        done.with_context(|| format!("writing {}", path.display()))
    }
}

/// Writes one whole file.
fn write_whole(path: PathBuf, bytes: &[u8]) -> Result<()> {
    let mut o = Output::create(path)?;
    o.write(bytes)?;
    o.commit()
}

/// What one task of the first pass made, for its certificates in order:
/// `.sst` bytes, registry keys, kept registry elements and summaries.
#[derive(Default)]
struct Chunk {
    sst: Vec<u8>,
    keys: Vec<(Thumbprint, u32)>,
    kept: Vec<Vec<u8>>,
    summaries: Vec<GeneratedSummary>,
}

/// Runs `make` over `0..n` in ordered batches of [`BATCH`] (each in
/// parallel tasks of [`CHUNK`]) and hands each task's result to `take` in
/// order. A batch is taken while the next one is being made.
fn in_batches<T: Send>(
    n: usize,
    make: impl Fn(Range<usize>) -> Result<T> + Sync,
    mut take: impl FnMut(T) -> Result<()> + Send,
) -> Result<()> {
    let make_batch = |at: usize| -> Result<Vec<T>> {
        let end = (at + BATCH).min(n);
        if end - at <= CHUNK {
            return Ok(vec![make(at..end)?]);
        }
        (at..end)
            .step_by(CHUNK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|s| make(s..(s + CHUNK).min(end)))
            .collect()
    };
    let mut pending: Vec<T> = Vec::new();
    let mut at = 0;
    while at < n {
        let ready = std::mem::take(&mut pending);
        let (taken, made) = rayon::join(
            || ready.into_iter().try_for_each(&mut take),
            || make_batch(at),
        );
        taken?;
        pending = made?;
        at = (at + BATCH).min(n);
    }
    pending.into_iter().try_for_each(take)
}

fn summary(info: &ElementInfo) -> GeneratedSummary {
    GeneratedSummary {
        thumbprint: info
            .thumbprint
            .map(|t| t.to_hex())
            .expect("summaries ask for the thumbprint"),
        role: format!("{:?}", info.role),
        friendly_name_shape: info.defect.shape().to_string(),
        signature_valid: info.signature_valid,
    }
}

/// Generates and writes machine `index`'s files; with `details`, says what
/// it wrote.
fn write_machine(
    opts: &GenOptions,
    f: &Formats,
    index: usize,
    details: bool,
) -> Result<Option<MachineReport>> {
    let machine = cert::machine_name(index);
    let spec = spec(opts, &machine);
    let generating = || format!("generating {machine}");
    let g = MachineGenerator::new(&spec).with_context(generating)?;
    let n = g.len();
    let sst_path = opts.out.join(format!("{machine}.sst"));
    let reg_path = opts.out.join(format!("{machine}.reg"));
    let blob_dir = opts.out.join(&machine);
    if f.blob {
        // Not through a link planted where the machine's directory goes.
        crate::platform::names::dir_within(&opts.out, &[&machine])
            .with_context(|| format!("creating {}", blob_dir.display()))?;
    }
    let mut sst = None;
    if f.sst {
        let mut o = Output::create(sst_path.clone())?;
        o.push(&STORE_HEADER)?;
        sst = Some(o);
    }
    // The registry's keys: the .reg export's order, and the .blob files'
    // names in the report.
    let need_keys = f.reg || (f.blob && details);
    let keep = f.reg && n <= KEEP_FOR_REG;
    let registry = f.blob || need_keys;
    let mut keys: Vec<(Thumbprint, u32)> = Vec::with_capacity(if need_keys { n } else { 0 });
    let mut kept: Vec<Vec<u8>> = Vec::new();
    let mut summaries = Vec::new();
    in_batches(
        n,
        |range| {
            let mut c = Chunk::default();
            let mut element = Vec::new();
            for i in range {
                element.clear();
                let info = g
                    .write(
                        i,
                        f.sst.then_some(&mut c.sst),
                        registry.then_some(&mut element),
                        details,
                    )
                    .with_context(generating)?;
                if f.blob {
                    write_whole(blob_path(&blob_dir, &info), &element)?;
                }
                if need_keys {
                    let t = info
                        .thumbprint
                        .expect("registry elements have their thumbprint");
                    c.keys.push((t, i as u32));
                }
                if keep {
                    c.kept.push(element.clone());
                }
                if details {
                    c.summaries.push(summary(&info));
                }
            }
            Ok(c)
        },
        |c| {
            if let Some(o) = &mut sst {
                o.push(&c.sst)?;
            }
            keys.extend(c.keys);
            kept.extend(c.kept);
            summaries.extend(c.summaries);
            Ok(())
        },
    )?;
    if let Some(mut o) = sst {
        o.push(&END_MARKER)?;
        o.commit()?;
    }
    // Thumbprint order; equal thumbprints in certificate order, as the
    // stable sort of `RegistryStore::from_elements` leaves them.
    keys.sort_unstable();
    if f.reg {
        let encoder = RegEncoder::new("SMS", RegEncoding::Regedit5);
        let mut o = Output::create(reg_path.clone())?;
        let mut text = Vec::new();
        encoder.header(&mut text);
        o.push(&text)?;
        in_batches(
            n,
            |range| {
                let mut text = Vec::new();
                let mut element = Vec::new();
                for (t, i) in &keys[range] {
                    let blob = if keep {
                        &kept[*i as usize]
                    } else {
                        element.clear();
                        g.write(*i as usize, None, Some(&mut element), false)
                            .with_context(generating)?;
                        &element
                    };
                    encoder.certificate(t, blob, &mut text);
                }
                Ok(text)
            },
            |piece| o.push(&piece),
        )?;
        text.clear();
        encoder.footer(&mut text);
        o.push(&text)?;
        o.commit()?;
    }
    if !details {
        return Ok(None);
    }
    let mut files = Vec::new();
    for fmt in &opts.formats {
        match fmt {
            FileFormat::Sst => files.push(sst_path.clone()),
            FileFormat::Reg => files.push(reg_path.clone()),
            FileFormat::Blob | FileFormat::BlobDir => {
                files.extend(keys.iter().map(|(t, _)| blob_name(&blob_dir, t)))
            }
        }
    }
    Ok(Some(MachineReport {
        machine,
        files,
        certificates: summaries,
    }))
}
