//! Scenario engine speed: the whole outcome matrix (3 072 task-sequence runs,
//! in parallel across the cores) and the replay rate of single scenarios, in
//! machines per second (a refresh is one machine, a replace two).
//!
//! Run: `cargo bench --bench sim`. Target: the whole matrix in under a second.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use certmig::sim::matrix::{cells, run_matrix};
use certmig::sim::migration::Migration;
use certmig::sim::scenario::Remediation;
use certmig::sim::world::Os;
use certmig::sim::{replay, Kind};

fn sim_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim");
    g.sample_size(20);
    // Warm the certificate cache once: signing is generation, not replay.
    black_box(run_matrix());
    let machines: u64 = cells()
        .iter()
        .map(|c| if c.kind == Kind::Replace { 2 } else { 1 })
        .sum();
    g.throughput(Throughput::Elements(machines));
    g.bench_function("matrix", |b| b.iter(|| black_box(run_matrix()).len()));
    for (name, kind, rem) in [
        ("refresh-restore-failed", Kind::Refresh, Remediation::None),
        (
            "replace-ccmcertfix-before-ts",
            Kind::Replace,
            Remediation::CcmcertfixBeforeTs,
        ),
    ] {
        let s = Migration {
            remediation: rem,
            ..Migration::new(kind, Os::XpSp3, Os::Win7Sp1)
        }
        .scenario(1, Default::default());
        g.throughput(Throughput::Elements(if kind == Kind::Replace {
            2
        } else {
            1
        }));
        g.bench_with_input(BenchmarkId::new("replay", name), &s, |b, s| {
            b.iter(|| black_box(replay(s)).outcome.kind)
        });
    }
    g.finish();
}

criterion_group!(benches, sim_benches);
criterion_main!(benches);
