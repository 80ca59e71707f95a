//! Every throughput figure as a ratio: in one criterion group and over the
//! same bytes, the `memcpy` roofline, certmig, and a NAIVE PEER — what a
//! user would otherwise write: walk the store's property entries into owned
//! structures (`Vec<(u32, Vec<u8>)>` per certificate) and parse every
//! certificate with the openssl crate's `X509::from_der`.
//!
//! - `peers/<n>`: a `.sst` of n SCCM-like certificates (doubled terminators):
//!   - `scan`: certmig's zero-copy parse plus the verdicts under both rule
//!     sets (friendly name, name values, OID arcs: one DER walk), against
//!     `naive-scan` (owned entries, `X509::from_der`, the friendly name and
//!     every subject/issuer entry checked for a NUL);
//!   - `fix`: certmig's streaming repair into memory, against `naive-fix`
//!     (the owned parse above, truncate each friendly name at its first NUL,
//!     serialize every element again);
//! - `peers-reg/<n>`: the `reg export` of the same kind of store:
//!   - `reg-read`: certmig's `.reg` reader (UTF-16 decode, hex, element
//!     parse, thumbprint check), against `naive-reg-read` (`String::from_utf16`,
//!     lines, `u8::from_str_radix` per byte into a `Vec<u8>`, the owned walk
//!     and `X509::from_der`);
//!   - `reg-write`: certmig's `reg export` writer producing the same bytes.
//!
//! Run: `cargo bench --bench peers`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use openssl::x509::X509;

use certmig::cryptoapi::{self, Verdict};
use certmig::fix::{stream_repair, Policy};
use certmig::format::registry::RegistryStore;
use certmig::format::{reg, Limits, ReadMode, SerializedStore, StoreIter, StoreReader};
use certmig_testkit::bench_support::sccm_like_store;

/// One certificate as the naive peer holds it.
struct NaiveCert {
    properties: Vec<(u32, Vec<u8>)>,
    cert: X509,
}

/// The naive peer's store reader: owned entries, `X509::from_der` per certificate.
fn naive_parse(bytes: &[u8]) -> Vec<NaiveCert> {
    assert_eq!(&bytes[..8], b"\0\0\0\0CERT");
    let mut pos = 8;
    let mut out = Vec::new();
    let mut properties = Vec::new();
    loop {
        let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let (id, len) = (word(pos), word(pos + 8) as usize);
        pos += 12;
        if id == 0 {
            break;
        }
        let value = bytes[pos..pos + len].to_vec();
        pos += len;
        if id == 32 {
            let cert = X509::from_der(&value).expect("certificate");
            properties.push((id, value));
            out.push(NaiveCert {
                properties: std::mem::take(&mut properties),
                cert,
            });
        } else {
            properties.push((id, value));
        }
    }
    out
}

fn has_embedded_nul(name: &[u8]) -> bool {
    let units: Vec<u16> = name
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    units.len() > 1 && units[..units.len() - 1].contains(&0)
}

/// What a user's scanner would do with the parsed store: the friendly name
/// and every subject and issuer entry checked for a NUL.
fn naive_scan(bytes: &[u8]) -> usize {
    let mut bad = 0;
    for c in naive_parse(bytes) {
        let fname = c.properties.iter().find(|(id, _)| *id == 11);
        let name_nul = fname.is_some_and(|(_, v)| has_embedded_nul(v));
        let dn_nul = c
            .cert
            .subject_name()
            .entries()
            .chain(c.cert.issuer_name().entries())
            .any(|e| e.data().as_slice().contains(&0));
        bad += (name_nul || dn_nul) as usize;
    }
    bad
}

/// A user's fixer: the owned parse, truncate each friendly name at its first
/// NUL (plus one terminator), write every element back.
fn naive_fix(bytes: &[u8]) -> Vec<u8> {
    let certs = naive_parse(bytes);
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(b"\0\0\0\0CERT");
    for mut c in certs {
        for (id, v) in &mut c.properties {
            if *id == 11 && has_embedded_nul(v) {
                let first = v.chunks_exact(2).position(|p| p == [0, 0]).unwrap();
                v.truncate(2 * first);
                v.extend_from_slice(&[0, 0]);
            }
        }
        for (id, v) in &c.properties {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
        }
    }
    out.extend_from_slice(&[0; 12]);
    out
}

/// A user's `.reg` reader: decode, join continuation lines, parse the hex of
/// every `"Blob"=hex:` value, then the owned walk and `X509::from_der`.
fn naive_reg_read(bytes: &[u8]) -> usize {
    let units: Vec<u16> = bytes[2..]
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    let text = String::from_utf16(&units).unwrap();
    let mut certs = 0;
    let mut value: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(v) = value.as_mut() {
            v.push_str(line.trim_start());
        } else if let Some(rest) = line.strip_prefix("\"Blob\"=hex:") {
            value = Some(rest.to_owned());
        } else {
            continue;
        }
        let v = value.as_mut().unwrap();
        if v.ends_with('\\') {
            v.pop();
            continue;
        }
        let blob: Vec<u8> = v
            .split(',')
            .map(|h| u8::from_str_radix(h.trim(), 16).unwrap())
            .collect();
        value = None;
        // One element: properties, then the certificate.
        let mut pos = 0;
        let mut properties: Vec<(u32, Vec<u8>)> = Vec::new();
        while pos < blob.len() {
            let word = |at: usize| u32::from_le_bytes(blob[at..at + 4].try_into().unwrap());
            let (id, len) = (word(pos), word(pos + 8) as usize);
            properties.push((id, blob[pos + 12..pos + 12 + len].to_vec()));
            pos += 12 + len;
        }
        let der = &properties.last().unwrap().1;
        black_box(X509::from_der(der).unwrap());
        certs += 1;
    }
    certs
}

fn certmig_scan(bytes: &[u8]) -> usize {
    let mut rejected = 0usize;
    for e in StoreIter::new(bytes, ReadMode::Strict).unwrap() {
        let (_, e) = e.unwrap();
        let (legacy, ms) = cryptoapi::verdicts(&e);
        rejected += (legacy != Verdict::Ok) as usize + (ms != Verdict::Ok) as usize;
    }
    rejected
}

fn certmig_fix(bytes: &[u8], out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut r = StoreReader::open(bytes, bytes.len() as u64, Limits::default()).unwrap();
    let mut changed = 0usize;
    stream_repair(&mut r, Some(out), Policy::Truncate, |c| {
        changed += c.changed as usize
    })
    .unwrap();
    changed
}

fn store_peers(c: &mut Criterion) {
    let mut g = c.benchmark_group("peers");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_secs(1));
    g.measurement_time(std::time::Duration::from_secs(4));
    for n in [10_000usize, 100_000] {
        let bytes = sccm_like_store(n, 1);
        // The peers do the same job: every certificate is found bad, the
        // fixes agree byte for byte.
        assert_eq!(naive_scan(&bytes), n);
        assert_eq!(certmig_scan(&bytes), n);
        let mut fixed = Vec::new();
        certmig_fix(&bytes, &mut fixed);
        assert_eq!(naive_fix(&bytes), fixed);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("memcpy", n), &bytes, |b, bytes| {
            let mut dst = vec![0u8; bytes.len()];
            b.iter(|| {
                dst.copy_from_slice(black_box(bytes));
                black_box(&dst);
            })
        });
        g.bench_with_input(BenchmarkId::new("scan", n), &bytes, |b, bytes| {
            b.iter(|| black_box(certmig_scan(black_box(bytes))))
        });
        g.bench_with_input(BenchmarkId::new("naive-scan", n), &bytes, |b, bytes| {
            b.iter(|| black_box(naive_scan(black_box(bytes))))
        });
        g.bench_with_input(BenchmarkId::new("fix", n), &bytes, |b, bytes| {
            let mut out = Vec::with_capacity(bytes.len());
            b.iter(|| black_box(certmig_fix(black_box(bytes), &mut out)))
        });
        g.bench_with_input(BenchmarkId::new("naive-fix", n), &bytes, |b, bytes| {
            b.iter(|| black_box(naive_fix(black_box(bytes)).len()))
        });
    }
    g.finish();
}

/// The `reg export` of an n-certificate store, as `certmig gen` writes it.
fn reg_bytes(n: usize) -> Vec<u8> {
    let sst = sccm_like_store(n, 1);
    let store = SerializedStore::parse(&sst, ReadMode::Strict).unwrap();
    reg::write_reg(
        &RegistryStore::from_elements("SMS", store.elements),
        reg::RegEncoding::Regedit5,
    )
}

fn reg_peers(c: &mut Criterion) {
    let mut g = c.benchmark_group("peers-reg");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_secs(1));
    g.measurement_time(std::time::Duration::from_secs(4));
    for n in [1_000usize, 10_000] {
        let bytes = reg_bytes(n);
        assert_eq!(naive_reg_read(&bytes), n);
        assert_eq!(
            reg::parse_reg(&bytes, ReadMode::Strict)
                .unwrap()
                .store
                .certificates
                .len(),
            n
        );
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("memcpy", n), &bytes, |b, bytes| {
            let mut dst = vec![0u8; bytes.len()];
            b.iter(|| {
                dst.copy_from_slice(black_box(bytes));
                black_box(&dst);
            })
        });
        g.bench_with_input(BenchmarkId::new("reg-read", n), &bytes, |b, bytes| {
            b.iter(|| {
                black_box(
                    reg::parse_reg(black_box(bytes), ReadMode::Strict)
                        .unwrap()
                        .store
                        .certificates
                        .len(),
                )
            })
        });
        g.bench_with_input(BenchmarkId::new("naive-reg-read", n), &bytes, |b, bytes| {
            b.iter(|| black_box(naive_reg_read(black_box(bytes))))
        });
        // Writing the same export back (no peer: the roofline is the memcpy).
        let parsed = reg::parse_reg(&bytes, ReadMode::Strict).unwrap();
        assert_eq!(reg::write_reg(&parsed.store, parsed.encoding), bytes);
        g.bench_with_input(BenchmarkId::new("reg-write", n), &parsed, |b, parsed| {
            b.iter(|| black_box(reg::write_reg(&parsed.store, parsed.encoding).len()))
        });
    }
    g.finish();
}

criterion_group!(benches, store_peers, reg_peers);
criterion_main!(benches);
