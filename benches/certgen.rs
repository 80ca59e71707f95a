//! Certificate generation: signed (per profile) and bulk (stamped templates,
//! invalid signatures), in certificates per second.
//!
//! Run: `cargo bench --bench certgen`. Target: bulk >= 100 000 certificates/s.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

use certmig::cert::{self, DefectChoice, MachineSpec, Profile};
use certmig::format::Defect;

fn spec(profile: Profile, certs: usize, bulk: bool) -> MachineSpec {
    MachineSpec {
        machine: "PC0001".into(),
        seed: 1,
        profile,
        defect: DefectChoice::Fixed(Defect::DoubledTerminator),
        certs_per_machine: certs,
        bulk,
    }
}

fn certgen(c: &mut Criterion) {
    let mut g = c.benchmark_group("certgen");
    g.sample_size(10);
    for (name, profile) in [
        ("sccm2007", Profile::Sccm2007),
        ("modern-rsa", Profile::ModernRsa),
        ("modern-ecdsa", Profile::ModernEcdsa),
    ] {
        g.throughput(Throughput::Elements(20));
        g.bench_function(BenchmarkId::new("signed", name), |b| {
            b.iter(|| black_box(cert::generate_machine(&spec(profile, 20, false)).unwrap()))
        });
    }
    let n = 10_000;
    // Warm the template cache so the figure is the steady-state rate.
    cert::generate_machine(&spec(Profile::Sccm2007, 2, true)).unwrap();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("bulk", "sccm2007"), |b| {
        b.iter(|| black_box(cert::generate_machine(&spec(Profile::Sccm2007, n, true)).unwrap()))
    });
    g.bench_function(BenchmarkId::new("bulk+element", "sccm2007"), |b| {
        b.iter(|| {
            let certs = cert::generate_machine(&spec(Profile::Sccm2007, n, true)).unwrap();
            black_box(
                certs
                    .iter()
                    .map(|c| c.element().encoded_len())
                    .sum::<usize>(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, certgen);
criterion_main!(benches);
