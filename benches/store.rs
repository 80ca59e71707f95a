//! Store throughput: parse (zero-copy), parse + SHA-1 thumbprint, and the
//! streaming reader, over 10 000- and 100 000-certificate `.sst` stores of
//! SCCM-shaped elements (friendly name, key provider info, ~800-byte
//! certificate). A `memcpy` of the same bytes is the roofline.
//!
//! `store-1m` repeats parse, scan and fix over 1 000 000 certificates (about
//! 1 GB) to show the cost is linear in the input size.
//!
//! Run: `cargo bench --bench store` (`-- store-1m` for the large group alone).

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use std::hint::black_box;

use certmig::cryptoapi::{self, Verdict};
use certmig::fix::{stream_repair, Policy};
use certmig::format::{Limits, ReadMode, StoreIter, StoreReader};
use certmig_testkit::bench_support::sccm_like_store;

fn store_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    for n in [10_000usize, 100_000] {
        let bytes = sccm_like_store(n, 1);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("memcpy", n), &bytes, |b, bytes| {
            let mut dst = vec![0u8; bytes.len()];
            b.iter(|| {
                dst.copy_from_slice(black_box(bytes));
                black_box(&dst);
            })
        });
        g.bench_with_input(BenchmarkId::new("parse", n), &bytes, |b, bytes| {
            b.iter(|| {
                let mut count = 0usize;
                for e in StoreIter::new(black_box(bytes), ReadMode::Strict).unwrap() {
                    let (_, e) = e.unwrap();
                    count += e.properties.len();
                }
                black_box(count)
            })
        });
        g.bench_with_input(
            BenchmarkId::new("parse+thumbprint", n),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    let mut x = 0u8;
                    for e in StoreIter::new(black_box(bytes), ReadMode::Strict).unwrap() {
                        x ^= e.unwrap().1.thumbprint().0[0];
                    }
                    black_box(x)
                })
            },
        );
        // scan: parse and judge every certificate under both rule sets.
        g.bench_with_input(
            BenchmarkId::new("scan-both-rule-sets", n),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    let mut rejected = 0usize;
                    for e in StoreIter::new(black_box(bytes), ReadMode::Strict).unwrap() {
                        let (_, e) = e.unwrap();
                        let (legacy, ms) = cryptoapi::verdicts(&e);
                        rejected += (legacy != Verdict::Ok) as usize + (ms != Verdict::Ok) as usize;
                    }
                    assert_eq!(rejected, n);
                    black_box(rejected)
                })
            },
        );
        // fix: the streaming repair `certmig fix` runs, into memory.
        g.bench_with_input(BenchmarkId::new("fix-stream", n), &bytes, |b, bytes| {
            let mut out = Vec::with_capacity(bytes.len());
            b.iter(|| {
                out.clear();
                let mut r =
                    StoreReader::open(&bytes[..], bytes.len() as u64, Limits::default()).unwrap();
                let mut changed = 0usize;
                stream_repair(&mut r, Some(&mut out), Policy::Truncate, |c| {
                    changed += c.changed as usize
                })
                .unwrap();
                assert_eq!(changed, n);
                black_box(out.len())
            })
        });
        g.bench_with_input(BenchmarkId::new("stream", n), &bytes, |b, bytes| {
            b.iter(|| {
                let mut r =
                    StoreReader::open(&bytes[..], bytes.len() as u64, Limits::default()).unwrap();
                let mut buf = Vec::with_capacity(4096);
                let mut count = 0usize;
                loop {
                    buf.clear();
                    match r.next_element_into(&mut buf).unwrap() {
                        Some(_) => count += 1,
                        None => break,
                    }
                }
                black_box(count)
            })
        });
    }
    g.finish();
}

/// Cost linear in input size: the same operations over a 1 000 000-certificate
/// store (about 1 GB; built in memory, about 10 s). Flat sampling, ten
/// iterations: run alone with `cargo bench --bench store -- store-1m`.
fn store_1m_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("store-1m");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(std::time::Duration::from_secs(1));
    let n = 1_000_000usize;
    let bytes = sccm_like_store(n, 1);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_with_input(BenchmarkId::new("memcpy", n), &bytes, |b, bytes| {
        let mut dst = vec![0u8; bytes.len()];
        b.iter(|| {
            dst.copy_from_slice(black_box(bytes));
            black_box(&dst);
        })
    });
    g.bench_with_input(BenchmarkId::new("parse", n), &bytes, |b, bytes| {
        b.iter(|| {
            let mut count = 0usize;
            for e in StoreIter::new(black_box(bytes), ReadMode::Strict).unwrap() {
                count += e.unwrap().1.properties.len();
            }
            black_box(count)
        })
    });
    g.bench_with_input(
        BenchmarkId::new("scan-both-rule-sets", n),
        &bytes,
        |b, bytes| {
            b.iter(|| {
                let mut rejected = 0usize;
                for e in StoreIter::new(black_box(bytes), ReadMode::Strict).unwrap() {
                    let (legacy, ms) = cryptoapi::verdicts(&e.unwrap().1);
                    rejected += (legacy != Verdict::Ok) as usize + (ms != Verdict::Ok) as usize;
                }
                assert_eq!(rejected, n);
                black_box(rejected)
            })
        },
    );
    g.bench_with_input(BenchmarkId::new("fix-stream", n), &bytes, |b, bytes| {
        let mut out = Vec::with_capacity(bytes.len());
        b.iter(|| {
            out.clear();
            let mut r =
                StoreReader::open(&bytes[..], bytes.len() as u64, Limits::default()).unwrap();
            let mut changed = 0usize;
            stream_repair(&mut r, Some(&mut out), Policy::Truncate, |c| {
                changed += c.changed as usize
            })
            .unwrap();
            assert_eq!(changed, n);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, store_benches, store_1m_benches);
criterion_main!(benches);
